"""Merging training-data folders: every case once, files inside the merged folder, splits and labels kept."""

import json

import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.sequence_io import read_sequence
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.layouts import load_dataset
from DTCTrainingLib.data.merge import merge_datasets
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    a = make_simulated_dataset(root / "real", cases=3, frames=4, height=32, width=48, val_cases=1, seed=1).parent
    b = make_simulated_dataset(root / "sim", cases=2, frames=5, height=32, width=48, val_cases=1,
                               labelled_every=2, seed=7).parent
    return a, b


def test_merged_folder_lists_every_case_once_with_its_split_and_frames(sources, tmp_path, capsys):
    a, b = sources
    assert main(["dataset", "merge", str(a), str(b), "--out", str(tmp_path / "both")]) == 0
    merged = load_dataset(tmp_path / "both")
    ids = sorted(case.id for case in merged.cases)
    assert ids == ["real_case000_axial", "real_case001_sagittal", "real_case002_axial",
                   "sim_case000_axial", "sim_case001_sagittal"]
    splits = {case.id: case.split for case in merged.cases}
    assert splits["real_case002_axial"] == "val" and splits["sim_case001_sagittal"] == "val"
    assert splits["real_case000_axial"] == "train"
    sparse = next(case for case in merged.cases if case.id == "sim_case000_axial")
    assert sparse.labelled_frames == (0, 2, 4)
    for case in merged.cases:  # every file lies in the merged folder and reads back with its frame count
        assert (tmp_path / "both") in case.frames.parents
        assert len(read_sequence(case.frames).frames) == (4 if case.id.startswith("real") else 5)
    original = read_sequence(a / "case000_axial" / "images.seq.nrrd").frames
    copied = read_sequence(tmp_path / "both" / "real" / "case000_axial" / "images.seq.nrrd").frames
    np.testing.assert_array_equal(original, copied)
    assert main(["dataset", "check", str(tmp_path / "both")]) == 0


def test_patients_of_different_sources_stay_distinct(sources, tmp_path):
    a, _ = sources
    path = merge_datasets([a, a], tmp_path / "twice", prefixes=["one", "two"])
    patients = {case.patient for case in load_dataset(path.parent).cases}
    assert len(patients) == 6


def test_prefixes_must_be_distinct_and_nothing_is_left_behind(sources, tmp_path):
    a, b = sources
    with pytest.raises(DTCError, match="distinct"):
        merge_datasets([a, b], tmp_path / "bad", prefixes=["same", "same"])
    assert not any(tmp_path.iterdir())


def test_a_case_outside_its_folder_is_refused(sources, tmp_path):
    a, _ = sources
    outside = tmp_path / "outside"
    outside.mkdir()
    document = json.loads((a / "dataset.json").read_text())
    (outside / "images.seq.nrrd").write_bytes((a / "case000_axial" / "images.seq.nrrd").read_bytes())
    document["cases"][0]["frames"] = str(outside / "images.seq.nrrd")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dataset.json").write_text(json.dumps(document))
    with pytest.raises(DTCError, match="outside"):
        merge_datasets([broken], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()
