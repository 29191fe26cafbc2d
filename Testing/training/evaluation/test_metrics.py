"""Accuracy metrics against hand-computed values, empty-mask rules and the SUN-SEG aggregation."""

import math

import cv2
import numpy as np
import pytest
from DTCTrainingLib.evaluation.metrics import METRICS, aggregate, boundary_metrics, frame_metrics, mean_metrics


def square(top=10, left=20, size=20, shape=(40, 60)):
    mask = np.zeros(shape, np.uint8)
    mask[top:top + size, left:left + size] = 1
    return mask


def brute_force_surface_distances(a, b, spacing):
    """HD95 and ASSD from every pair of boundary pixels (4-connected boundaries), independent of MONAI."""
    def boundary(mask):
        eroded = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
        return np.argwhere(mask.astype(bool) & ~eroded.astype(bool))

    pa, pb = boundary(a), boundary(b)
    distances = np.sqrt((((pa[:, None, :] - pb[None, :, :]) * np.asarray(spacing)) ** 2).sum(-1))
    ab, ba = distances.min(axis=1), distances.min(axis=0)
    return max(np.percentile(ab, 95), np.percentile(ba, 95)), (ab.sum() + ba.sum()) / (len(ab) + len(ba))


def test_overlap_of_two_shifted_squares_matches_hand_computation():
    truth, prediction = square(), square(left=22)  # 20 x 20 squares sharing 20 x 18 pixels
    scores = frame_metrics(prediction, truth)
    assert scores["dice"] == pytest.approx(2 * 360 / 800)
    assert scores["iou"] == pytest.approx(360 / 440)
    assert scores["sensitivity"] == pytest.approx(0.9) and scores["precision"] == pytest.approx(0.9)
    assert scores["mae"] == pytest.approx(80 / (40 * 60))  # 2 x 40 pixels disagree
    assert set(scores) == set(METRICS)


def test_boundary_distances_are_in_millimetres_along_the_right_axes():
    truth, prediction = square(), square(left=22)  # shifted by 2 columns
    wide_columns = boundary_metrics(prediction, truth, spacing=(0.5, 3.0))  # (row, column) mm
    assert wide_columns["hd95_mm"] == pytest.approx(6.0)
    assert boundary_metrics(prediction, truth, spacing=(3.0, 0.5))["hd95_mm"] == pytest.approx(1.0)
    circle = cv2.circle(np.zeros((80, 80), np.uint8), (40, 40), 20, 1, -1)
    ellipse = cv2.ellipse(np.zeros((80, 80), np.uint8), (43, 38), (24, 17), 30, 0, 360, 1, -1)
    hd95, assd = brute_force_surface_distances(circle, ellipse, (0.7, 0.3))
    scores = boundary_metrics(circle, ellipse, (0.7, 0.3))
    assert scores["hd95_mm"] == pytest.approx(hd95, rel=1e-4) and scores["assd_mm"] == pytest.approx(assd, rel=1e-4)


def test_perfect_prediction_scores_best_on_every_metric():
    truth = square()
    perfect = frame_metrics(truth, truth, truth.astype(np.float32))
    shifted = frame_metrics(square(left=24), truth, square(left=24).astype(np.float32))
    for name in ("dice", "iou", "s_measure", "e_measure", "weighted_f", "mean_f"):
        assert perfect[name] == pytest.approx(1.0, abs=5e-3) and shifted[name] < perfect[name] - 0.02, name
    assert perfect["mae"] == 0.0 and perfect["hd95_mm"] == 0.0 and shifted["hd95_mm"] == pytest.approx(4.0)


def test_soft_probabilities_change_map_metrics_but_not_overlap():
    truth = square()
    confident = frame_metrics(truth, truth, truth * 0.98 + 0.01)
    hesitant = frame_metrics(truth, truth, truth * 0.4 + 0.3)  # same mask, probabilities 0.3 / 0.7
    assert confident["dice"] == hesitant["dice"] == 1.0
    assert hesitant["mae"] == pytest.approx(0.3) and confident["mae"] == pytest.approx(0.01)
    assert hesitant["s_measure"] < confident["s_measure"]


def test_empty_masks_are_handled_explicitly():
    empty, gland = np.zeros((40, 60), np.uint8), square()
    both = frame_metrics(empty, empty)
    assert both["dice"] == both["iou"] == both["weighted_f"] == both["mean_f"] == 1.0
    assert both["hd95_mm"] == both["assd_mm"] == 0.0 and both["mae"] == 0.0
    assert math.isnan(both["sensitivity"]) and math.isnan(both["precision"])
    missed = frame_metrics(empty, gland)
    assert missed["dice"] == 0.0 and missed["sensitivity"] == 0.0 and math.isnan(missed["precision"])
    assert math.isnan(missed["hd95_mm"]) and math.isnan(missed["assd_mm"])
    invented = frame_metrics(gland, empty)
    assert invented["dice"] == 0.0 and invented["precision"] == 0.0 and math.isnan(invented["sensitivity"])
    assert invented["weighted_f"] == 0.0


def test_mean_skips_and_counts_undefined_values():
    means = mean_metrics([{"dice": 1.0, "hd95_mm": 2.0}, {"dice": 0.0, "hd95_mm": float("nan")}], ("dice", "hd95_mm"))
    assert means == {"dice": 0.5, "hd95_mm": 2.0, "hd95_mm_undefined": 1}


def test_dataset_is_the_mean_of_case_means_and_frames_are_pooled():
    rows = {"long": [{"dice": 1.0}] * 9, "short": [{"dice": 0.0}]}
    result = aggregate(rows, ("dice",))
    assert result["cases"] == {"long": {"dice": 1.0}, "short": {"dice": 0.0}}
    assert result["dataset"]["dice"] == pytest.approx(0.5)  # each recording counts once
    assert result["frames"]["dice"] == pytest.approx(0.9)   # every frame counts once


def test_gland_dice_and_empty_specificity_split_frames_by_their_truth():
    truth = np.zeros((8, 8), bool)
    truth[2:6, 2:6] = True  # 16 pixels
    half = np.zeros((8, 8), bool)
    half[2:6, 2:4] = True  # 8 pixels inside the truth: Dice 2*8/(8+16)
    empty = np.zeros((8, 8), bool)
    rows = [frame_metrics(half, truth), frame_metrics(empty, empty), frame_metrics(half, empty),
            frame_metrics(empty, empty)]
    assert rows[0]["gland_dice"] == pytest.approx(16 / 24) and np.isnan(rows[0]["empty_specificity"])
    assert [r["empty_specificity"] for r in rows[1:]] == [1.0, 0.0, 1.0]
    means = mean_metrics(rows)
    assert means["gland_dice"] == pytest.approx(16 / 24)  # the empty frames do not dilute it
    assert means["empty_specificity"] == pytest.approx(2 / 3)
    assert means["dice"] == pytest.approx((16 / 24 + 1 + 0 + 1) / 4)
