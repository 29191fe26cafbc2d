"""Evaluating recordings, EMA smoothing and its lag, and the written reports."""

import csv
import json

import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry
from DTCTrainingLib.evaluation.reports import write_report
from DTCTrainingLib.evaluation.scoring import evaluate_recording, summarize
from DTCTrainingLib.evaluation.smoothing import ema_mean_delay, ema_probabilities, measured_lag


def moving_disc(count=40, height=48, width=64, amplitude=12.0, period=16.0):
    """Probability maps of a disc oscillating left and right (a gland moving with the probe)."""
    ys, xs = np.mgrid[0:height, 0:width]
    maps = []
    for t in range(count):
        cx = width / 2 + amplitude * np.sin(2 * np.pi * t / period)
        maps.append(((xs - cx) ** 2 + (ys - height / 2) ** 2 < 100).astype(np.float32))
    return np.stack(maps)


def test_recording_evaluation_with_sparse_truth():
    maps = moving_disc(count=6)
    masks = (maps > 0.5).astype(np.uint8)
    frames = (maps * 200).astype(np.uint8)
    geometry = FrameGeometry(spacing=(0.5, 0.25, 1.0))
    evaluation = evaluate_recording("disc", frames, masks, maps, {0: masks[0], 3: np.zeros_like(masks[3])}, geometry,
                                    frame_times=np.arange(6) * 0.05)
    rows = evaluation.rows()
    assert [r["frame"] for r in rows] == list(range(6)) and rows[2]["time"] == pytest.approx(0.1)
    assert rows[0]["dice"] == 1.0 and rows[3]["dice"] == 0.0 and np.isnan(rows[1]["dice"])
    assert rows[0]["area"] == pytest.approx(masks[0].sum() * 0.125)  # mm^2 from the pixel size
    summary = evaluation.summary()
    assert summary["annotated_frames"] == 2 and summary["dice"] == pytest.approx(0.5)
    assert summary["frames"] == 6 and 0.9 < summary["flow_consistency"] <= 1.0


def test_summary_counts_flicker_over_recordings():
    maps = moving_disc(count=5)
    flickering = maps.copy()
    flickering[2] = 0.0  # the mask vanishes for one frame: two flicker events (out and back)
    frames = (maps * 200).astype(np.uint8)
    good = evaluate_recording("good", frames, maps > 0.5, maps)
    bad = evaluate_recording("bad", frames, flickering > 0.5, flickering)
    assert good.summary()["flicker_events"] == 0 and bad.summary()["flicker_events"] == 2
    dataset = summarize([good, bad])["dataset"]
    assert dataset["flicker_events"] == 2 and dataset["flicker_rate"] == pytest.approx(2 / 8)
    assert dataset["cases"] == 2 and "dice" not in dataset  # no ground truth, no accuracy


def test_ema_is_unchanged_at_weight_zero_and_lags_as_expected():
    maps = moving_disc()
    np.testing.assert_array_equal(np.stack(list(ema_probabilities(maps, 0.0))), maps)
    assert measured_lag(maps, maps) == pytest.approx(0.0, abs=0.05)
    omega = 2 * np.pi / 16  # the disc's angular frequency, rad / frame
    for weight in (0.3, 0.5, 0.75):
        smoothed = np.stack(list(ema_probabilities(maps, weight)))
        # An EMA delays a sinusoid by its phase lag (less than its mean delay w / (1 - w) at this frequency).
        phase_lag = np.arctan2(weight * np.sin(omega), 1 - weight * np.cos(omega)) / omega
        assert measured_lag(maps, smoothed) == pytest.approx(phase_lag, abs=0.2)
        assert phase_lag < ema_mean_delay(weight)
    with pytest.raises(ValueError):
        list(ema_probabilities(maps, 1.0))
    assert np.isnan(measured_lag(np.ones((8, 4, 4)), np.ones((8, 4, 4))))  # nothing moves: nothing to measure


def test_report_files_and_refusal_to_overwrite(tmp_path):
    maps = moving_disc(count=5)
    frames = (maps * 200).astype(np.uint8)
    truth = {i: (maps[i] > 0.5) for i in range(5)}
    jittered = maps.copy()
    jittered[1::2] = np.roll(jittered[1::2], 3, axis=2)
    results = {"steady": [evaluate_recording("disc", frames, maps > 0.5, maps, truth)],
               "jittery": [evaluate_recording("disc", frames, jittered > 0.5, jittered, truth)]}
    paths = write_report(tmp_path / "r", results, "Test report", {"command": "dtc compare x"})
    document = json.loads(paths["summary"].read_text())  # strict JSON: NaN became null
    assert set(document["methods"]) == {"steady", "jittery"}
    steady, jittery = (document["methods"][m]["dataset"] for m in ("steady", "jittery"))
    assert steady["dice"] == pytest.approx(1.0) and jittery["dice"] < 1.0
    assert jittery["flow_dice"] < steady["flow_dice"]
    with open(paths["frames"]) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and rows[0]["raw_consistency"] == ""  # first frame: no predecessor
    report = paths["report"].read_text()
    header = next(line for line in report.splitlines() if line.startswith("| method"))
    assert header.index("S-alpha") < header.index("mean E-phi") < header.index("F-beta-w") < header.index("Dice")
    assert "| steady |" in report and "`dtc compare x`" in report
    assert paths["curves:disc"].stat().st_size > 10_000
    with pytest.raises(DTCError, match="already exists"):
        write_report(tmp_path / "r", results, "again")
