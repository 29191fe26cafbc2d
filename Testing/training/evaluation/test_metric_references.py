"""Map metrics on soft probability maps, and the pixel spacing through evaluate_recording, against values
worked out by hand from the metric definitions (not from our wrapper or the library it calls)."""

import numpy as np
import pytest
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry
from DTCTrainingLib.evaluation.metrics import frame_metrics
from DTCTrainingLib.evaluation.scoring import evaluate_recording

SHAPE = (40, 60)


def square(top=10, left=20, size=20):
    mask = np.zeros(SHAPE, bool)
    mask[top:top + size, left:left + size] = True
    return mask


def enhanced_alignment(binary, truth):
    """E-phi of one binary map (Fan et al., IJCAI 2018): mean of ((phi + 1)^2 / 4) over the N - 1 normalisation."""
    b, g = binary.astype(float), truth.astype(float)
    db, dg = b - b.mean(), g - g.mean()
    phi = 2 * db * dg / (db ** 2 + dg ** 2 + np.finfo(float).eps)
    return ((phi + 1) ** 2 / 4).sum() / (b.size - 1)


def f_beta(binary, truth, beta2=0.3):
    tp = float((binary & truth).sum())
    precision = tp / binary.sum() if binary.any() else 0.0
    recall = tp / truth.sum()
    return (1 + beta2) * precision * recall / (beta2 * precision + recall) if precision + recall else 0.0


@pytest.fixture(scope="module")
def two_level_map():
    """0.81 on a square shifted 4 columns from the truth, 0.23 elsewhere.

    As 8-bit values (the SUN-SEG thresholds are 0..255 on floor(255 p)) these are 206 and 58, so of the 256
    thresholds t (foreground: value >= t) 59 select everything, 148 the square and 49 nothing.
    """
    truth, region = square(), square(left=24)
    probability = np.where(region, 0.81, 0.23)
    return truth, region, probability, {"all": 59, "region": 148, "none": 49}


def test_mean_e_measure_of_a_soft_map_averages_all_256_thresholds(two_level_map):
    truth, region, probability, counts = two_level_map
    per_level = {"all": enhanced_alignment(np.ones(SHAPE, bool), truth), "region": enhanced_alignment(region, truth),
                 "none": enhanced_alignment(np.zeros(SHAPE, bool), truth)}
    expected = sum(counts[k] * per_level[k] for k in counts) / 256
    scores = frame_metrics(probability > 0.5, truth, probability)
    assert scores["e_measure"] == pytest.approx(expected, rel=1e-6)
    assert per_level["region"] > expected + 0.2  # the maximum over thresholds is far from the mean


def test_mean_f_measure_uses_beta_squared_0_3_over_all_thresholds(two_level_map):
    truth, region, probability, counts = two_level_map
    # all: precision 400/2400, recall 1; square: 320 of 400 right both ways; nothing: 0.
    assert f_beta(np.ones(SHAPE, bool), truth) == pytest.approx(1.3 * (1 / 6) / (0.3 / 6 + 1))
    expected = (counts["all"] * f_beta(np.ones(SHAPE, bool), truth) + counts["region"] * 0.8) / 256
    assert frame_metrics(probability > 0.5, truth, probability)["mean_f"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("inside", [0.6, 0.9])
def test_weighted_f_of_a_uniform_soft_map_on_the_truth(inside):
    # A map of value c on the truth and 0 elsewhere has weighted recall c and weighted precision 1
    # (Margolin et al., CVPR 2014; no error outside the truth), so F-beta-w with beta^2 = 1 is 2c / (1 + c).
    truth = square()
    scores = frame_metrics(truth, truth, np.where(truth, inside, 0.0))
    assert scores["weighted_f"] == pytest.approx(2 * inside / (1 + inside), rel=1e-6)
    assert scores["mae"] == pytest.approx((1 - inside) * 400 / truth.size)


def test_evaluate_recording_gives_hd95_with_row_and_column_spacing_the_right_way_round():
    truth = square()
    frames = np.zeros((2,) + SHAPE, np.uint8)
    column_shift = np.stack([square(left=22), square(left=22)])  # 2 columns off
    row_shift = np.stack([square(top=13), square(top=13)])  # 3 rows off
    geometry = FrameGeometry(spacing=(0.5, 3.0, 1.0))  # x (column) 0.5 mm, y (row) 3 mm
    by_columns = evaluate_recording("c", frames, column_shift, truth={0: truth}, geometry=geometry).accuracy[0]
    by_rows = evaluate_recording("r", frames, row_shift, truth={0: truth}, geometry=geometry).accuracy[0]
    assert by_columns["hd95_mm"] == pytest.approx(2 * 0.5)
    assert by_rows["hd95_mm"] == pytest.approx(3 * 3.0)


def test_masks_stored_as_0_and_255_score_like_0_and_1():
    truth, prediction = square().astype(np.uint8) * 255, square(left=22).astype(np.uint8) * 255  # 360 of 400 shared
    scores = frame_metrics(prediction, truth)
    assert scores["dice"] == pytest.approx(0.9) and scores["iou"] == pytest.approx(360 / 440)
    assert scores["sensitivity"] == pytest.approx(0.9) and scores["precision"] == pytest.approx(0.9)
    assert scores["hd95_mm"] == pytest.approx(2.0)


def test_prediction_and_truth_of_different_sizes_are_refused_with_both_sizes():
    with pytest.raises(ValueError, match=r"prediction \(40, 60\) and truth \(30, 60\) differ in size"):
        frame_metrics(square(), np.zeros((30, 60), bool))


def test_maps_outside_0_1_are_clipped_before_scoring():
    truth = square()
    inside = np.where(truth, 0.9, 0.1)
    outside = np.where(truth, 1.7, -0.4)  # e.g. a map that is not a probability: treated as 1 and 0
    scores = frame_metrics(truth, truth, outside)
    clipped = frame_metrics(truth, truth, np.clip(outside, 0, 1))
    assert scores.keys() == clipped.keys()
    assert all(scores[k] == clipped[k] or (np.isnan(scores[k]) and np.isnan(clipped[k])) for k in scores)
    assert scores["mae"] == 0.0 and frame_metrics(truth, truth, inside)["mae"] == pytest.approx(0.1)


def test_means_of_undefined_values_and_dataset_means_without_undefined_counts():
    from DTCTrainingLib.evaluation.metrics import aggregate, mean_metrics

    nan = float("nan")
    assert mean_metrics([{"precision": nan}, {"precision": nan}], ("precision",))["precision_undefined"] == 2
    assert np.isnan(mean_metrics([{"precision": nan}], ("precision",))["precision"])
    result = aggregate({"a": [{"dice": 0.2, "hd95_mm": nan}], "b": [{"dice": 0.6, "hd95_mm": 3.0}]}, ("dice", "hd95_mm"))
    assert result["dataset"] == {"dice": pytest.approx(0.4), "hd95_mm": 3.0}  # no counts, no other metrics
    assert result["frames"] == {"dice": pytest.approx(0.4), "hd95_mm": 3.0, "hd95_mm_undefined": 1}
    assert set(result["cases"]["a"]) == {"dice", "hd95_mm", "hd95_mm_undefined"}


def test_an_empty_truth_and_a_map_nowhere_above_one_half_is_a_perfect_empty_prediction():
    empty = np.zeros(SHAPE, bool)
    scores = frame_metrics(empty, empty, np.full(SHAPE, 0.5))  # 0.5 is not above the mask threshold
    assert scores["weighted_f"] == 1.0 and scores["mean_f"] == 1.0
