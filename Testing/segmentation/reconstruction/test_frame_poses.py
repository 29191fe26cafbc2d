"""Per-frame poses from an importer sweep on disk (sweep.json), and Slicer's IJK-to-RAS back and forth."""

import json

import numpy as np
import pytest
from DTCSegmentationLib.reconstruction.compounding import compound_masks
from DTCSegmentationLib.reconstruction.frame_poses import (
    FramePoseError,
    ijk_to_ras,
    poses_from_ijk_to_ras,
    poses_from_sweep_json,
)
from DTCSegmentationLib.sequence_io import read_sequence
from DTCTrainingLib.data.volume_sweeps import write_sweep
from ellipsoid_sweeps import analytic_volume_ml, ellipsoid_sweep


def test_a_sweep_written_by_the_importer_reconstructs_from_its_files(tmp_path):
    sweep = ellipsoid_sweep("rotational")
    write_sweep(tmp_path / "case", sweep, {"case": "ellipsoid"})
    poses = poses_from_sweep_json(tmp_path / "case" / "sweep.json")
    np.testing.assert_allclose(poses, sweep.frame_to_volume, atol=1e-6)
    masks = read_sequence(tmp_path / "case" / "masks.seq.nrrd").frames
    assert compound_masks(masks, poses).volume_ml == pytest.approx(analytic_volume_ml(), rel=0.015)


def test_ijk_to_ras_and_back():
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 3] = [0, 0.5, 0], [0, 0, -0.5], [1, 2, 3]  # columns along P, rows along I
    ras = ijk_to_ras(pose[None])[0]
    # k column: the unit normal column x row = (0, 0.5, 0) x (0, 0, -0.5) / 0.25 = (-1, 0, 0) LPS = (1, 0, 0) RAS
    np.testing.assert_allclose(ras[:3, 2], [1, 0, 0])
    np.testing.assert_allclose(ras @ [4, 6, 0, 1], [-1, -(2 + 0.5 * 4), 3 - 0.5 * 6, 1])
    np.testing.assert_allclose(poses_from_ijk_to_ras(ras[None])[0][:, [0, 1, 3]], pose[:, [0, 1, 3]])


def test_a_bad_sweep_json_is_one_clear_error(tmp_path):
    with pytest.raises(FramePoseError, match=r"sweep\.json: does not exist"):
        poses_from_sweep_json(tmp_path / "sweep.json")
    (tmp_path / "sweep.json").write_text(json.dumps({"settings": {}}))
    with pytest.raises(FramePoseError, match="holds no frame_to_volume_lps poses"):
        poses_from_sweep_json(tmp_path / "sweep.json")
    (tmp_path / "sweep.json").write_text(json.dumps({"frame_to_volume_lps": [[1, 2], [3, 4]]}))
    with pytest.raises(FramePoseError, match=r"must be \(T, 4, 4\) matrices"):
        poses_from_sweep_json(tmp_path / "sweep.json")
