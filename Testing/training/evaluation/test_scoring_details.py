"""evaluate_recording and summarize: refused inputs, colour truth, per-frame rows and the dataset-level numbers."""

import math

import numpy as np
import pytest
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry
from DTCTrainingLib.evaluation.metrics import METRICS
from DTCTrainingLib.evaluation.scoring import evaluate_recording, segment_frames, summarize


def rectangles(widths, shape=(30, 40)):
    """Blank frames (no motion) and 10-row rectangles of the given widths (0: empty)."""
    masks = np.zeros((len(widths),) + shape, np.uint8)
    for t, width in enumerate(widths):
        masks[t, 5:15, 5:5 + width] = 1
    return np.zeros_like(masks), masks


def test_mismatched_lengths_and_truth_outside_the_recording_are_refused():
    frames, masks = rectangles([10, 10, 10])
    with pytest.raises(ValueError, match="3 frames but 2 masks"):
        evaluate_recording("r", frames, masks[:2])
    with pytest.raises(ValueError, match="and 2 probability maps"):
        evaluate_recording("r", frames, masks, masks[:2].astype(np.float32))
    with pytest.raises(ValueError, match="frame 3"):
        evaluate_recording("r", frames, masks, truth={3: masks[0]})
    with pytest.raises(ValueError, match="frame -1"):
        evaluate_recording("r", frames, masks, truth={-1: masks[0]})


def test_colour_truth_counts_any_channel_and_rows_cover_every_frame():
    frames, masks = rectangles([10, 10, 10])
    truth = np.zeros(masks.shape[1:] + (3,), np.uint8)
    truth[5:15, 5:15, 1] = 255  # the gland drawn in green only
    evaluation = evaluate_recording("r", frames, masks, truth={2: truth}, frame_times=[0.0, 0.1, 0.2])
    rows = evaluation.rows()
    assert [row["time"] for row in rows] == [0.0, 0.1, 0.2] and rows[2]["dice"] == 1.0
    assert all(math.isnan(rows[index][name]) for index in (0, 1) for name in METRICS)
    assert math.isnan(rows[0]["flow_dice"]) and rows[1]["flow_dice"] == 1.0 and rows[1]["area"] == 100.0
    summary = evaluation.summary()
    assert (summary["frames"], summary["annotated_frames"], summary["dice"]) == (3, 1, 1.0)
    assert [row["time"] for row in evaluate_recording("r", frames, masks).rows()] == [0.0, 1.0, 2.0]  # default: indices


def test_dataset_summary_means_cases_and_totals_flicker():
    geometry = FrameGeometry(spacing=(0.5, 2.0, 1.0))  # 1 mm^2 pixels: areas as counted
    steady = evaluate_recording("steady", *rectangles([10, 10, 10, 10]), geometry=geometry)
    flicker = evaluate_recording("flicker", *rectangles([10, 10, 0, 10, 10, 10]), geometry=geometry)  # 2 events, 5 pairs
    steady.extra, flicker.extra = {"lag_frames": 1.0, "gone": float("nan")}, {"lag_frames": float("nan"), "gone": float("nan")}
    assert flicker.summary()["flicker_events"] == 2 and flicker.summary()["raw_consistency"] < 1.0
    dataset = summarize([steady, flicker])["dataset"]
    assert (dataset["cases"], dataset["frames"], dataset["annotated_frames"]) == (2, 10, 0)
    assert dataset["flicker_events"] == 2 and dataset["flicker_rate"] == pytest.approx(2 / 8)  # 3 + 5 pairs
    for key in ("raw_consistency", "flow_consistency", "flow_dice", "area_jitter"):
        assert dataset[key] == pytest.approx((steady.summary()[key] + flicker.summary()[key]) / 2), key
    assert dataset["lag_frames"] == 1.0 and math.isnan(dataset["gone"])  # extras: mean of the finite ones
    assert summarize([])["dataset"] == {"cases": 0, "frames": 0, "annotated_frames": 0}


def test_segment_frames_stacks_results_through_the_progress_wrapper():
    class Halves:
        def segment_stream(self, frames, value_range=None, source=""):
            for frame in frames:
                yield type("Result", (), {"mask": (frame > 127).astype(np.uint8), "probability": frame / 255.0})()

    frames = np.stack([np.full((2, 3), 50, np.uint8), np.full((2, 3), 200, np.uint8)])
    seen = []
    masks, probabilities = segment_frames(Halves(), frames, progress=lambda results: seen.append(1) or results)
    assert seen == [1] and masks.shape == (2, 2, 3) and masks[1].all() and not masks[0].any()
    np.testing.assert_allclose(probabilities[:, 0, 0], [50 / 255, 200 / 255])


def test_a_single_frame_recording_adds_no_frame_pair():
    single = evaluate_recording("single", *rectangles([10]))
    assert summarize([single])["dataset"]["flicker_rate"] == 0.0
    flicker = evaluate_recording("flicker", *rectangles([10, 0, 0]))  # 1 event in 2 pairs
    assert summarize([single, flicker])["dataset"]["flicker_rate"] == pytest.approx(1 / 2)


def test_far_empty_specificity_counts_only_empty_frames_three_or_more_frames_from_the_gland():
    # gland in frames 4-5; the model marks frames 2 (next to the gland) and 8 (three frames away)
    frames, truth = rectangles([0, 0, 0, 0, 10, 10, 0, 0, 0, 0])
    _, predicted = rectangles([0, 0, 10, 0, 10, 10, 0, 0, 10, 0])
    evaluation = evaluate_recording("r", frames, predicted, truth=dict(enumerate(truth)))
    rows = evaluation.rows()
    assert [rows[t]["far_empty_specificity"] for t in (0, 1, 8, 9)] == [1.0, 1.0, 0.0, 1.0]
    assert all(math.isnan(rows[t]["far_empty_specificity"]) for t in (2, 3, 4, 5, 6, 7))
    summary = evaluation.summary()
    assert summary["empty_specificity"] == pytest.approx(6 / 8) and summary["far_empty_specificity"] == pytest.approx(3 / 4)
    # a recording without any gland: every empty frame is far from one
    none = evaluate_recording("r", frames, predicted * 0, truth={t: truth[0] for t in range(10)})
    assert none.summary()["far_empty_specificity"] == 1.0
