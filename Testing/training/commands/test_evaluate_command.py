"""`dtc evaluate`, `dtc compare` and `dtc ablation` end to end on a tiny simulated dataset."""

import json

import cv2
import numpy as np
import pytest
import torch
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from stand_in_models import pixel_model

ARGS = {"features": [8, 8, 16, 16]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_simulated_dataset(folder, cases=5, frames=6, height=64, width=96, labelled_every=2, val_cases=1, test_cases=2,
                           seed=7, progress=False)
    return folder


def tiny_model(path, seed):
    torch.manual_seed(seed)
    return save_model(path, build_network("fast_unet", arguments=ARGS), ModelInfo(arguments=ARGS, input_size=(64, 96)))


def run_json(capsys, argv):
    status = main(argv)
    out = capsys.readouterr().out
    return status, (json.loads(out[out.index("{"):]) if status == 0 else out)


def expected_scores(dataset, model, split):
    """Mean over the split's cases of each case's mean Dice (annotated frames) and raw consistency, by hand."""
    segmenter = Segmenter.from_file(model, device="cpu")
    cases = [c for c in json.loads((dataset / "dataset.json").read_text())["cases"] if c["split"] == split]
    dice, consistency = [], []
    for case in cases:
        frames, truth = read_sequence(dataset / case["frames"]).frames, read_sequence(dataset / case["masks"]).frames
        results = list(segmenter.segment_stream(frames))
        masks, probabilities = np.stack([r.mask for r in results]) > 0, np.stack([r.probability for r in results])
        dice.append(np.mean([2 * (masks[i] & (truth[i] > 0)).sum() / (masks[i].sum() + (truth[i] > 0).sum())
                             for i in case["labelled_frames"]]))
        consistency.append(np.mean(1 - np.abs(np.diff(probabilities, axis=0)).mean(axis=(1, 2))))
    return {"dice": np.mean(dice), "raw_consistency": np.mean(consistency)}


def test_evaluate_a_model_on_the_test_split(dataset, tmp_path, capsys):
    # Masks that follow each frame's content (an untrained network's barely change), so misplaced frames show.
    model = pixel_model(tmp_path / "m.pt", (64, 96))
    status, report = run_json(capsys, ["evaluate", "--model", str(model), "--data", str(dataset), "--out",
                                       str(tmp_path / "r")])
    assert status == 0
    scores = report["methods"]["m.pt"]
    assert scores["cases"] == 2 and scores["frames"] == 12 and scores["annotated_frames"] == 6  # every 2nd frame
    expected = expected_scores(dataset, model, "test")
    assert scores["dice"] == pytest.approx(expected["dice"], abs=1e-6)
    assert scores["raw_consistency"] == pytest.approx(expected["raw_consistency"], abs=1e-6)
    assert (tmp_path / "r" / "frames.csv").read_text().count("\n") == 13
    assert len(list((tmp_path / "r").glob("curves_*.png"))) == 2


def jitter(masks, pixels=3):
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return np.stack([cv2.dilate(m, kernel) if t % 2 else cv2.erode(m, kernel) for t, m in enumerate(masks)])


def test_evaluate_existing_masks_ranks_jittered_below_clean(tmp_path, capsys):
    recording = simulate(SimulationConfig(num_frames=8, height=96, width=128, seed=5))
    truth, images = recording.masks, recording.images
    write_sequence(tmp_path / "frames.seq.nrrd", images)
    write_sequence(tmp_path / "truth.seq.nrrd", truth, kind="labelmap")
    write_sequence(tmp_path / "jittered.seq.nrrd", FrameSequence(jitter(truth.frames), truth.geometry), kind="labelmap")
    scores = {}
    for name in ("truth", "jittered"):
        status, report = run_json(capsys, ["evaluate", "--pred", str(tmp_path / f"{name}.seq.nrrd"), "--gt",
                                           str(tmp_path / "truth.seq.nrrd"), "--frames", str(tmp_path / "frames.seq.nrrd"),
                                           "--out", str(tmp_path / name), "--flicker-maps"])
        assert status == 0
        scores[name] = report["methods"]["masks"]
        maps = read_sequence(tmp_path / name / f"flicker_{name}.seq.nrrd")
        assert maps.frames.shape == truth.frames.shape and maps.geometry.isclose(truth.geometry)
        scores[name]["flicker_pixels"] = int((maps.frames > 127).sum())
    assert scores["jittered"]["flicker_pixels"] > 10 * max(scores["truth"]["flicker_pixels"], 1)
    assert scores["truth"]["dice"] == 1.0 and scores["truth"]["hd95_mm"] == 0.0
    assert scores["jittered"]["dice"] < 0.95
    assert scores["jittered"]["flow_dice"] < scores["truth"]["flow_dice"]
    assert scores["jittered"]["flicker_events"] > scores["truth"]["flicker_events"]
    status, report = run_json(capsys, ["evaluate", "--pred", str(tmp_path / "jittered.seq.nrrd"), "--out", str(tmp_path / "nf")])
    assert status == 0 and "dice" not in report["methods"]["masks"]  # no truth: temporal scores only
    short = tmp_path / "short.seq.nrrd"
    write_sequence(short, FrameSequence(truth.frames[:3], truth.geometry), kind="labelmap")
    assert main(["evaluate", "--pred", str(tmp_path / "truth.seq.nrrd"), "--gt", str(short), "--out", str(tmp_path / "x")]) == 2
    assert "short.seq.nrrd" in capsys.readouterr().err


def test_compare_models_and_ema_on_a_recording(tmp_path, capsys):
    recording = simulate(SimulationConfig(num_frames=8, height=64, width=96, seed=6))
    write_sequence(tmp_path / "sweep.seq.nrrd", recording.images)
    a, b = tiny_model(tmp_path / "a.safetensors", 1), tiny_model(tmp_path / "b.safetensors", 2)
    status, report = run_json(capsys, ["compare", "--model", str(a), "--model", str(b), "--ema", "0.6", "--backend", "eager",
                                       str(tmp_path / "sweep.seq.nrrd"), "--out", str(tmp_path / "cmp"), "--flicker-maps"])
    assert status == 0
    written = sorted(p.name for p in (tmp_path / "cmp").glob("flicker_*"))
    assert written == ["flicker_a_sweep.seq.nrrd", "flicker_b_sweep.seq.nrrd"]
    assert len(read_sequence(tmp_path / "cmp" / "flicker_a_sweep.seq.nrrd")) == 8
    assert list(report["methods"]) == ["a", "a + EMA 0.6", "b"]
    assert report["methods"]["a + EMA 0.6"]["expected_lag_frames"] == pytest.approx(1.5)
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert "| a + EMA 0.6 |" in text and f"`dtc compare --model {a} --model {b} --ema 0.6" in text  # the command as given
    assert main(["compare", "--model", str(a), str(tmp_path / "sweep.seq.nrrd"), "--out", str(tmp_path / "y")]) == 2
    sweep = str(tmp_path / "sweep.seq.nrrd")
    assert main(["compare", "--model", str(a), "--ema", "1.5", sweep, "--out", str(tmp_path / "y")]) == 2
    assert main(["evaluate", "--model", str(a), "--out", str(tmp_path / "z")]) == 2  # nothing to evaluate


@pytest.mark.slow
def test_ablation_trains_scores_and_reuses_finished_rows(dataset, tmp_path, capsys):
    argv = ["ablation", "--data", str(dataset), "--out", str(tmp_path / "abl"), "--variants", "2D baseline,+ KD,full DTC",
            "--backend", "eager", "--set", "data.height=64", "--set", "data.width=96", "--set", "optim.epochs=1",
            "--set", "optim.batch_size=2", "--set", "optim.steps_per_epoch=1", "--set", f"network.arguments={json.dumps(ARGS)}"]
    status, report = run_json(capsys, argv)
    assert status == 0
    claim = report["claim"]
    assert set(claim) >= {"holds", "flow_consistency_higher", "fewer_flicker_events", "dice_within_0.01"}
    # The claim's numbers are the baseline's and the full student's rows of the report (the verdict on given
    # numbers is checked by hand in test_ablation_options.py).
    summary = json.loads((tmp_path / "abl" / "report" / "summary.json").read_text())["methods"]
    for side, name in (("baseline", "2D baseline"), ("full", "full DTC")):
        assert claim[side]["dice"] == summary[name]["dataset"]["dice"]
        assert claim[side]["flicker_events"] == summary[name]["dataset"]["flicker_events"]
    text = (tmp_path / "abl" / "report" / "report.md").read_text()
    for row in ("| 2D baseline |", "| + KD |", "| full DTC |"):
        assert row in text
    kd_config = json.loads((tmp_path / "abl" / "student_kd" / "student_config.json").read_text())
    assert kd_config["student"]["weight_consistency"] == 0.0 and kd_config["student"]["weight_kd"] == 1.0
    events = (tmp_path / "abl" / "student_full_dtc" / "events.jsonl").read_text()
    assert main(argv) == 0  # finished rows are reused, not trained again
    assert (tmp_path / "abl" / "student_full_dtc" / "events.jsonl").read_text() == events
    assert main(["ablation", "--data", str(dataset), "--out", str(tmp_path / "x"), "--variants", "nope"]) == 2


def test_frames_without_pixel_size_take_the_geometry_of_the_masks(tmp_path):
    from DTCTrainingLib.evaluation.recordings import file_recording

    recording = simulate(SimulationConfig(num_frames=3, height=48, width=64, seed=8))
    write_sequence(tmp_path / "frames", recording.images)  # a PNG folder: no pixel size
    write_sequence(tmp_path / "truth.seq.nrrd", recording.masks, kind="labelmap")
    loaded = file_recording(tmp_path / "frames", tmp_path / "truth.seq.nrrd")
    assert loaded.geometry.isclose(recording.masks.geometry) and sorted(loaded.truth) == [0, 1, 2]
    assert file_recording(tmp_path / "frames").geometry.spacing == (1.0, 1.0, 1.0)
