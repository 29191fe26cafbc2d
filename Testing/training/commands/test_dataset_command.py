"""`dtc dataset simulate` and `dtc dataset check`."""

import json

import numpy as np
from DTCSegmentationLib.sequence_io import write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.cli import main


def test_simulated_dataset_checks_clean_and_a_broken_case_is_reported(tmp_path, capsys):
    assert main(["dataset", "simulate", "--out", str(tmp_path), "--cases", "3", "--frames", "4", "--size", "64x96",
                 "--val-cases", "1", "--labelled-every", "2"]) == 0
    manifest = json.loads(capsys.readouterr().out)["manifest"]
    document = json.loads(open(manifest).read())
    assert [c["split"] for c in document["cases"]] == ["train", "train", "val"]
    assert document["cases"][0]["labelled_frames"] == [0, 2]
    assert main(["dataset", "check", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [] and report["train_labelled_cases"] == 2
    write_sequence(tmp_path / "case001_sagittal" / "masks.seq.nrrd", FrameSequence(np.zeros((3, 64, 96), np.uint8)),
                   kind="labelmap", overwrite=True)
    assert main(["dataset", "check", str(tmp_path)]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any("3 masks for 4 frames" in p for p in problems) and any("empty" in p for p in problems)


def test_train_command_without_data_is_explained(tmp_path, capsys):
    assert main(["train", "teacher", "--out", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err


def test_simulated_dataset_with_a_relative_output_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["dataset", "simulate", "--out", "nested/data", "--cases", "2", "--frames", "2", "--size", "32x48",
                 "--val-cases", "1"]) == 0
    capsys.readouterr()
    assert main(["dataset", "check", "nested/data"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []
