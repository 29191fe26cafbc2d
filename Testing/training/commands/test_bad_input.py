"""Hostile input to `dtc train`, `dtc evaluate`, `dtc compare`, `dtc dataset` and `dtc demo` (issue #14): each
case ends in the right result or in one error line, and leaves nothing behind."""

import csv
import json
import logging

import numpy as np
import pytest
from DTCSegmentationLib.sequence_io import write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from samples import dtc_error, tiny_model_file

TINY = ["--set", "data.height=64", "--set", "data.width=96", "--set", "optim.batch_size=2", "--set",
        "optim.steps_per_epoch=1", "--set", 'network.arguments={"features": [8, 8, 16, 16]}']


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_simulated_dataset(folder, cases=4, frames=4, height=64, width=96, val_cases=1, test_cases=1, seed=5,
                           progress=False)
    return folder


def edited_manifest(dataset, tmp_path, edit):
    """A copy of ``dataset``'s manifest in ``tmp_path`` (paths pointing back at its files) after ``edit(document)``."""
    document = json.loads((dataset / "dataset.json").read_text())
    for case in document["cases"]:
        for key in ("frames", "masks"):
            (tmp_path / case[key]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / case[key]).write_bytes((dataset / case[key]).read_bytes())
    edit(document)
    (tmp_path / "dataset.json").write_text(json.dumps(document))
    return tmp_path


def two_recordings_named_frames(tmp_path):
    """``A/frames`` and ``B/frames`` (PNG folders) with ``A/masks`` and ``B/masks``: 3 and 5 frames."""
    rng = np.random.default_rng(0)
    for name, count in (("A", 3), ("B", 5)):
        (tmp_path / name).mkdir()
        write_sequence(tmp_path / name / "frames", FrameSequence(rng.integers(0, 255, (count, 64, 96), dtype=np.uint8)))
        masks = np.zeros((count, 64, 96), np.uint8)
        masks[:, 20:40, 30:60] = 1
        write_sequence(tmp_path / name / "masks", FrameSequence(masks), kind="labelmap")
    return [tmp_path / "A" / "frames", tmp_path / "B" / "frames"], [tmp_path / "A" / "masks", tmp_path / "B" / "masks"]


def csv_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


# 2: recordings that share a basename stay two recordings --------------------------------------------------

@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_recordings_with_the_same_basename_are_scored_apart(tmp_path, capsys, command):
    model = tiny_model_file(tmp_path / "m.safetensors")
    inputs, truths = two_recordings_named_frames(tmp_path)
    extra = ["--ema", "0.5"] if command == "compare" else []
    out = tmp_path / "report"
    assert main([command, "--model", str(model), *extra, *map(str, inputs), "--gt", str(truths[0]), "--gt", str(truths[1]),
                 "--backend", "eager", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())["methods"]["m"]
    assert sorted(summary["cases"]) == ["A_frames", "B_frames"]
    assert summary["dataset"]["frames"] == 8 and summary["dataset"]["annotated_frames"] == 8
    rows = [row for row in csv_rows(out / "frames.csv") if row["method"] == "m"]
    assert [(row["case"], row["frame"]) for row in rows] == [("A_frames", str(i)) for i in range(3)] + \
        [("B_frames", str(i)) for i in range(5)]
    assert sorted(p.name for p in out.glob("curves_*.png")) == ["curves_A_frames.png", "curves_B_frames.png"]


def test_the_same_recording_twice_is_refused(tmp_path, capsys):
    model = tiny_model_file(tmp_path / "m.safetensors")
    inputs, _ = two_recordings_named_frames(tmp_path)
    line = dtc_error(capsys, ["evaluate", "--model", model, inputs[0], tmp_path / "A" / ".." / "A" / "frames",
                              "--out", tmp_path / "r"])
    assert "the same recording is given twice" in line
    assert not (tmp_path / "r").exists()


# 3: case ids and reports written whole ------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", ["../evil", "a/b", "..", "c:d", ".hidden"])
def test_a_case_id_that_is_not_a_file_name_is_refused_by_the_manifest(dataset, tmp_path, capsys, case_id):
    def rename(document):
        document["cases"][-1]["id"] = case_id

    folder = edited_manifest(dataset, tmp_path, rename)
    assert "has an id that" in dtc_error(capsys, ["dataset", "check", folder])
    model = tiny_model_file(tmp_path / "m.safetensors")
    assert "has an id that" in dtc_error(capsys, ["evaluate", "--model", model, "--data", folder, "--out", tmp_path / "r"])
    assert not (tmp_path / "r").exists()


def test_a_report_that_fails_half_way_leaves_nothing_and_the_rerun_works(dataset, tmp_path, capsys, monkeypatch):
    from DTCTrainingLib.evaluation import reports

    model = tiny_model_file(tmp_path / "m.safetensors")
    argv = ["evaluate", "--model", str(model), "--data", str(dataset), "--backend", "eager", "--out", str(tmp_path / "r")]

    def broken_plot(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reports, "_curves_plot", broken_plot)  # after summary.json and frames.csv are written
    with pytest.raises(OSError):
        main(argv)
    assert list(tmp_path.iterdir()) == [model]  # no report folder, no temporary folder
    monkeypatch.undo()
    assert main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["curves_case003_sagittal.png", "frames.csv", "report.md",
                                                                  "summary.json"]


def test_overwrite_replaces_an_earlier_report_but_never_a_folder_of_other_files(dataset, tmp_path, capsys):
    model = tiny_model_file(tmp_path / "m.safetensors")
    base = ["evaluate", "--model", model, "--data", dataset, "--backend", "eager"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep")
    assert "--overwrite" in dtc_error(capsys, [*base, "--out", tmp_path / "mine"])
    assert "not an earlier report" in dtc_error(capsys, [*base, "--out", tmp_path / "mine", "--overwrite"])
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep"


# 4, 6, 10: training settings checked before a run folder exists ------------------------------------------------

@pytest.mark.parametrize("setting, words", [
    ("optim.epochs=0", "optim.epochs = 0 is out of range"),
    ("optim.lr=-1", "optim.lr = -1.0 is out of range"),
    ("optim.lr=nan", "optim.lr = nan is out of range"),
    ("optim.batch_size=0", "optim.batch_size = 0 is out of range"),
    ("data.height=7", "data.height = 7 is out of range: it must be at least 16 pixels"),
    ("data.width=15", "data.width = 15 is out of range"),
    ("optim.epochs=1e400", "optim.epochs = "),
    ("seed=-1", "seed = -1 is out of range"),
    ("student.pseudo_label_transforms=spin", "student.pseudo_label_transforms"),
])
def test_training_settings_out_of_range_are_refused_and_no_run_folder_is_left(dataset, tmp_path, capsys, setting, words):
    out = tmp_path / "run"
    assert words in dtc_error(capsys, ["train", "teacher", "--data", dataset, "--out", out, *TINY, "--set", setting])
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["train", "teacher", "--data", "{data}"], ["evaluate", "--model", "{model}", "{recording}"],
    ["compare", "--model", "{model}", "--ema", "0.5", "{recording}"], ["demo", "--frames", "2"],
    ["dataset", "simulate", "--cases", "1", "--frames", "2", "--size", "32x48", "--val-cases", "0"],
    ["segment", "{recording}", "--model", "{model}"], ["simulate", "--frames", "1", "--size", "32x48"],
])
def test_out_naming_an_existing_file_is_one_line_and_the_file_is_kept(dataset, tmp_path, capsys, command):
    model = tiny_model_file(tmp_path / "m.safetensors")
    recording = write_sequence(tmp_path / "rec.seq.nrrd", FrameSequence(np.zeros((2, 64, 96), np.uint8)))
    (tmp_path / "afile").write_text("keep")
    argv = [part.format(data=dataset, model=model, recording=recording) for part in command]
    dtc_error(capsys, [*argv, "--out", tmp_path / "afile"])
    assert (tmp_path / "afile").read_text() == "keep"


def test_ground_truth_of_another_frame_size_is_one_line(tmp_path, capsys):
    model = tiny_model_file(tmp_path / "m.safetensors")
    recording = write_sequence(tmp_path / "rec.seq.nrrd", FrameSequence(np.zeros((2, 64, 96), np.uint8)))
    truth = write_sequence(tmp_path / "small.seq.nrrd", FrameSequence(np.ones((2, 32, 48), np.uint8)), kind="labelmap")
    line = dtc_error(capsys, ["evaluate", "--model", model, recording, "--gt", truth, "--out", tmp_path / "r"])
    assert "small.seq.nrrd: has a 32 x 48 mask for frame 0, whose image is 64 x 96" in line
    line = dtc_error(capsys, ["evaluate", "--pred", truth, "--gt", recording, "--out", tmp_path / "r"])
    assert "rec.seq.nrrd: has 64 x 96 frames but" in line
    assert not (tmp_path / "r").exists()


# 8: Ctrl-C keeps the checkpoint and says so; the unfinished best model cannot be mistaken ------------------------

def interrupt_the_second_validation(monkeypatch):
    """Ctrl-C during epoch 2 (its validation), after epoch 1 has left a checkpoint and best weights."""
    from DTCTrainingLib.trainer import Trainer

    validate, calls = Trainer.validate, []

    def interrupted_in_epoch_2(self):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return validate(self)

    monkeypatch.setattr(Trainer, "validate", interrupted_in_epoch_2)


@pytest.mark.slow
def test_ctrl_c_during_training_names_what_it_kept_and_resume_finishes(dataset, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    argv = ["train", "teacher", "--data", str(dataset), "--out", str(out), *TINY, "--set", "optim.epochs=3"]
    interrupt_the_second_validation(monkeypatch)
    assert main(argv) == 130
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("dtc train: interrupted; kept ") and "no partial output" not in message
    assert f"{out / 'teacher_checkpoint.pt'} (epoch 1 of 3; continue with --resume)" in message
    assert f"{out / 'teacher_best_so_far.safetensors'} (epoch 1, validation Dice" in message
    assert not (out / "teacher.safetensors").exists()
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0
    assert (out / "teacher.safetensors").is_file() and not (out / "teacher_best_so_far.safetensors").exists()
    capsys.readouterr()
    line = dtc_error(capsys, ["train", "student", "--data", dataset, "--out", tmp_path / "s", "--teacher",
                              tmp_path / "missing" / "teacher.safetensors", *TINY])
    assert "needs a trained teacher" in line


@pytest.mark.slow
def test_a_student_refuses_a_teacher_stage_that_did_not_finish(dataset, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    interrupt_the_second_validation(monkeypatch)
    assert main(["train", "all", "--data", str(dataset), "--out", str(out), *TINY, "--set", "optim.epochs=2"]) == 130
    capsys.readouterr()
    monkeypatch.undo()
    line = dtc_error(capsys, ["train", "student", "--data", dataset, "--out", out, *TINY])
    assert "the teacher stage has not finished (only teacher_best_so_far.safetensors is there)" in line
    assert "dtc train teacher --resume" in line


# 11: dataset check ----------------------------------------------------------------------------------------------

def test_a_test_case_on_the_files_of_a_train_case_is_refused(dataset, tmp_path, capsys):
    def leak(document):
        document["cases"][-1]["frames"] = document["cases"][0]["frames"]

    line = dtc_error(capsys, ["dataset", "check", edited_manifest(dataset, tmp_path, leak)])
    assert "cases 'case000_axial' (train) and 'case003_sagittal' (test) use the same frames images.seq.nrrd" in line


def test_two_train_cases_on_the_same_files_are_a_problem(dataset, tmp_path, capsys):
    def duplicate(document):
        document["cases"][1]["frames"] = document["cases"][0]["frames"]
        document["cases"][1]["masks"] = document["cases"][0]["masks"]

    assert main(["dataset", "check", str(edited_manifest(dataset, tmp_path, duplicate))]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert problems == ["case001_sagittal: uses the same frames images.seq.nrrd as case000_axial (the recording counts twice)"]


@pytest.mark.parametrize("path", ["../elsewhere/images.seq.nrrd", "/etc/passwd", "case000_axial/../../x.seq.nrrd"])
def test_paths_out_of_the_dataset_folder_are_refused(dataset, tmp_path, capsys, path):
    def escape(document):
        document["cases"][0]["frames"] = path

    line = dtc_error(capsys, ["dataset", "check", edited_manifest(dataset, tmp_path, escape)])
    assert f"case 'case000_axial' points outside the dataset folder: {path!r}" in line


def test_a_path_with_a_nul_character_is_refused(dataset, tmp_path, capsys):
    """Found by the long fuzz run: the leakage check's os.path.realpath raised ValueError (embedded null byte)."""
    def nul(document):
        document["cases"][0]["frames"] = "\x00"

    assert "case 'case000_axial' has the path '\\x00'" in dtc_error(capsys, ["dataset", "check",
                                                                             edited_manifest(dataset, tmp_path, nul)])


def test_a_manifest_without_cases_says_so(tmp_path, capsys):
    (tmp_path / "dataset.json").write_text('{"cases": []}')
    assert "dataset.json: lists no cases" in dtc_error(capsys, ["dataset", "check", tmp_path])


# 12: multi-label ground truth ------------------------------------------------------------------------------------

def test_multi_label_ground_truth_is_announced_or_one_label_is_scored(tmp_path, capsys, caplog):
    model = tiny_model_file(tmp_path / "m.safetensors", threshold=0.01)  # an untrained model: everything is prostate
    recording = write_sequence(tmp_path / "rec.seq.nrrd",
                               FrameSequence(np.random.default_rng(1).integers(0, 255, (2, 64, 96), dtype=np.uint8)))
    labels = np.zeros((2, 64, 96), np.uint8)
    labels[:, :, :24], labels[:, :, 24:48], labels[:, :, 48:72], labels[:, :, 72:] = 1, 2, 3, 4
    truth = write_sequence(tmp_path / "labels.seq.nrrd", FrameSequence(labels), kind="labelmap")

    def dice(*extra):
        with caplog.at_level(logging.WARNING):
            assert main(["evaluate", "--model", str(model), str(recording), "--gt", str(truth), "--backend", "eager",
                         "--out", str(tmp_path / f"r{len(extra)}"), "--overwrite", *extra]) == 0
        capsys.readouterr()
        return json.loads((tmp_path / f"r{len(extra)}" / "summary.json").read_text())["methods"]["m"]["dataset"]["dice"]

    caplog.clear()
    merged = dice()
    notes = [r.getMessage() for r in caplog.records if "labels.seq.nrrd holds the labels 1, 2, 3, 4" in r.getMessage()]
    assert len(notes) == 1 and "--label N" in notes[0]
    caplog.clear()
    one = dice("--label", "2")
    assert not [r for r in caplog.records if "holds the labels" in r.getMessage()]
    assert merged > 0.9 and one < 0.5  # the whole frame against all labels, against a quarter of it
    line = dtc_error(capsys, ["evaluate", "--model", model, recording, "--gt", truth, "--label", "7", "--out",
                              tmp_path / "r7"])
    assert "holds no pixel with label 7 (labels present: [1, 2, 3, 4])" in line


def test_dataset_check_notes_multi_label_masks(dataset, tmp_path, capsys):
    from DTCSegmentationLib.sequence_io import read_sequence

    folder = edited_manifest(dataset, tmp_path, lambda document: None)
    masks = read_sequence(folder / "case000_axial" / "masks.seq.nrrd")
    masks.frames[:, 40:60, 50:80] = 3
    write_sequence(folder / "case000_axial" / "masks.seq.nrrd", masks, kind="labelmap", overwrite=True)
    assert main(["dataset", "check", str(folder)]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes == ["case000_axial: masks hold the labels 1, 3; training and evaluation count every non-zero label as "
                     "prostate (dtc evaluate --label N scores one label)"]


# 5: float frames in [0, 1] ------------------------------------------------------------------------------------

def test_compare_on_float_frames_in_0_1_scores_like_8_bit_and_notes_it_once(tmp_path, capsys, caplog):
    from samples import recording as simulated

    sweep = simulated(num_frames=4)
    write_sequence(tmp_path / "bytes.seq.nrrd", sweep)
    write_sequence(tmp_path / "unit.seq.nrrd", FrameSequence(sweep.frames.astype(np.float32) / 255.0, sweep.geometry,
                                                             sweep.frame_times))
    from DTCSegmentationLib.inference.segmenter import Segmenter

    models = []
    for seed in (1, 2):  # untrained models thresholded at their median probability: masks that vary by frame
        probe = Segmenter.from_file(tiny_model_file(tmp_path / "probe.safetensors", seed=seed), device="cpu")
        threshold = float(np.median(probe.probabilities([sweep.frames[0]])[0]))
        models.append(str(tiny_model_file(tmp_path / f"m{seed}.safetensors", seed=seed, threshold=threshold)))
        (tmp_path / "probe.safetensors").unlink()
    areas = {}
    for name in ("bytes", "unit"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert main(["compare", "--model", models[0], "--model", models[1], "--backend", "eager",
                         str(tmp_path / f"{name}.seq.nrrd"), "--out", str(tmp_path / f"r_{name}")]) == 0
        capsys.readouterr()
        areas[name] = [row["area"] for row in csv_rows(tmp_path / f"r_{name}" / "frames.csv")]
        notes = [r.getMessage() for r in caplog.records if "float frames with values in [0, 1]" in r.getMessage()]
        assert len(notes) == (1 if name == "unit" else 0)
    assert areas["unit"] == areas["bytes"] and len(set(areas["bytes"])) > 1


def test_training_reads_float_frames_in_0_1_as_their_8_bit_originals(tmp_path):
    from DTCTrainingLib.data.case_loading import load_case
    from DTCTrainingLib.data.manifest import Case
    from samples import recording as simulated

    sweep = simulated(num_frames=3)
    write_sequence(tmp_path / "bytes.seq.nrrd", sweep)
    write_sequence(tmp_path / "unit.seq.nrrd", FrameSequence(sweep.frames.astype(np.float32) / 255.0))
    loaded = {name: load_case(Case(name, "p", "axial", "train", tmp_path / f"{name}.seq.nrrd"), (32, 48)).frames
              for name in ("bytes", "unit")}
    np.testing.assert_array_equal(loaded["unit"], loaded["bytes"])


def test_a_usage_error_is_one_line_too(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["train", "teacher", "--set"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_status.value.code == 2
    assert err == ["dtc train: error: argument --set: expected one argument (see dtc train --help)."]


@pytest.mark.parametrize("argv", [["demo", "--seed", "-3"], ["dataset", "simulate", "--seed", "-5", "--cases", "1"]])
def test_a_negative_seed_is_one_line_and_writes_nothing(tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exit_status:
        main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_status.value.code == 2 and len(err) == 1 and "argument --seed: a seed is a whole number" in err[0]
    assert not (tmp_path / "out").exists()
