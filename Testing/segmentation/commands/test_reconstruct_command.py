"""``dtc reconstruct``: an importer sweep through an analytic ellipsoid, its poses in sweep.json, to a labelmap file."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from ellipsoid_sweeps import analytic_volume_ml, ellipsoid_sweep
from samples import dtc_error, run_dtc


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    from DTCTrainingLib.data.volume_sweeps import write_sweep

    folder = tmp_path_factory.mktemp("sweep") / "ellipsoid_axial"
    write_sweep(folder, ellipsoid_sweep("axial"), {"case": "ellipsoid"})
    return folder


def test_the_true_masks_of_a_sweep_give_the_ellipsoids_volume_in_the_file_and_the_summary(sweep_folder, tmp_path):
    out = tmp_path / "gland.nii.gz"
    status, stdout, stderr = run_dtc(["reconstruct", sweep_folder / "images.seq.nrrd", "--masks",
                                      sweep_folder / "masks.seq.nrrd", "--poses", sweep_folder / "sweep.json",
                                      "--out", out])
    assert status == 0, stderr
    summary = json.loads(stdout)
    assert summary["volume_ml"] == pytest.approx(analytic_volume_ml(), rel=0.015)  # as the compounding tests allow
    written = sitk.ReadImage(str(out))
    voxels = int(np.count_nonzero(sitk.GetArrayFromImage(written)))
    assert voxels * np.prod(written.GetSpacing()) / 1000.0 == pytest.approx(summary["volume_ml"], abs=1e-3)
    assert written.GetSpacing() == pytest.approx((0.5, 0.5, 0.5))
    assert summary["frames_used"] == summary["frames_total"] == 40
    assert [p.name for p in tmp_path.iterdir()] == ["gland.nii.gz"]  # no temporary left behind


def test_a_sweep_without_poses_masks_that_do_not_fit_and_an_existing_output_are_refused(sweep_folder, tmp_path, capsys):
    images, masks = sweep_folder / "images.seq.nrrd", sweep_folder / "masks.seq.nrrd"
    error = dtc_error(capsys, ["reconstruct", images, "--masks", masks, "--out", tmp_path / "g.nii.gz"])
    assert "has no per-frame poses" in error and "--poses" in error and "images.seq.nrrd" in error
    from DTCSegmentationLib.sequence_io import read_sequence, write_sequence

    fewer = read_sequence(masks)
    fewer.frames, fewer.frame_times = fewer.frames[:-1], fewer.frame_times[:-1]
    write_sequence(tmp_path / "fewer.seq.nrrd", fewer, "labelmap")
    error = dtc_error(capsys, ["reconstruct", images, "--masks", tmp_path / "fewer.seq.nrrd", "--poses",
                               sweep_folder / "sweep.json", "--out", tmp_path / "g.nii.gz"])
    assert "39 masks" in error and "40 frames" in error and "fewer.seq.nrrd" in error
    (tmp_path / "kept.nii.gz").write_text("the user's file")
    error = dtc_error(capsys, ["reconstruct", images, "--masks", masks, "--poses", sweep_folder / "sweep.json",
                               "--out", tmp_path / "kept.nii.gz"])
    assert "already exists" in error and (tmp_path / "kept.nii.gz").read_text() == "the user's file"
    error = dtc_error(capsys, ["reconstruct", images, "--masks", masks, "--poses", sweep_folder / "sweep.json",
                               "--out", tmp_path / "gland.png"])
    assert "not a labelmap file name" in error
