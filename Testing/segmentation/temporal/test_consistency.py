"""Temporal-consistency scores: hand-computed values, flow compensation, and ranking of jittered masks."""

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from DTCSegmentationLib.temporal.consistency import (
    ConsistencyTracker,
    analyze_consistency,
    area_second_difference,
    mask_dice,
    raw_consistency,
)


def textured_frames(count=6, shift=2, height=60, width=80):
    """Frames of smooth random texture translating ``shift`` px per frame to the right, and a moving square mask."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (height, width + shift * count)).astype(np.uint8), (0, 0), 2)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    frames = np.stack([texture[:, shift * (count - t):shift * (count - t) + width] for t in range(count)])
    masks = np.zeros((count, height, width), np.uint8)
    for t in range(count):
        masks[t, 20:40, 20 + shift * t:40 + shift * t] = 1
    return frames, masks


def test_raw_score_and_dice_match_hand_computed_values():
    p = np.zeros((3, 2, 2), np.float32)
    p[1, 0, 0] = 1.0  # one pixel of four changes by 1 -> 1 - 1/4
    p[2] = 0.5        # all four change: |0.5-1| + 3 * 0.5 over 4 -> 1 - 0.5
    np.testing.assert_allclose(raw_consistency(p), [0.75, 0.5])
    a, b = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    a[:2] = True          # 8 pixels
    b[1:3] = True         # 8 pixels, 4 shared
    assert mask_dice(a, b) == pytest.approx(0.5)
    assert mask_dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert mask_dice(a, np.zeros((4, 4))) == 0.0


def test_area_second_difference_and_jitter():
    np.testing.assert_allclose(area_second_difference([1, 2, 4, 4]), [np.nan, 1.0, -2.0, np.nan])
    frames, masks = textured_frames()
    report = analyze_consistency(frames, masks.astype(np.float32), masks)
    assert report.summary()["area_jitter"] == 0.0  # the square keeps its area
    np.testing.assert_allclose(report.area, 400.0)
    scaled = analyze_consistency(frames, masks.astype(np.float32), masks, ConsistencyTracker(pixel_area=0.25))
    np.testing.assert_allclose(scaled.area, 100.0)


def test_flow_compensation_forgives_real_motion():
    frames, masks = textured_frames(shift=3)
    report = analyze_consistency(frames, masks.astype(np.float32), masks)
    assert np.isnan(report.raw[0]) and np.isnan(report.flow_dice[0]) and not report.flicker[0]
    # The mask moves with the image: without flow 3 of 20 columns disagree each frame...
    np.testing.assert_allclose(report.raw[1:], 1 - 2 * 3 * 20 / (60 * 80), atol=1e-6)
    # ... with flow the motion is explained and the masks agree.
    assert np.all(report.flow[1:] > report.raw[1:])
    assert np.all(report.flow_dice[1:] > 0.95)
    assert report.summary()["flicker_events"] == 0


def test_flicker_map_marks_where_the_mask_jitters():
    frames, masks = textured_frames(shift=0)
    probabilities = masks.astype(np.float32)
    probabilities[3, 20:40, 40:46] = 1.0  # frame 3 grows to the right, frame 4 shrinks back
    maps = {}
    analyze_consistency(frames, probabilities, on_frame=lambda index, result: maps.__setitem__(index, result.flicker_map))
    assert maps[0].max() == 0.0 and maps[1].max() < 0.05
    assert maps[3][20:40, 40:46].mean() > 0.9 and maps[3][:, :38].max() < 0.05
    assert maps[4][20:40, 40:46].mean() > 0.9


@pytest.fixture(scope="module")
def sweep():
    return simulate(SimulationConfig(view="axial", num_frames=12, height=128, width=192, seed=3))


def jitter(masks, pixels=3):
    """Every other frame dilated, the others eroded: a mask that flickers at its border."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return np.stack([cv2.dilate(m, kernel) if t % 2 else cv2.erode(m, kernel) for t, m in enumerate(masks)])


def test_a_jittered_mask_sequence_ranks_below_the_true_one(sweep):
    frames, truth = sweep.images.frames, sweep.masks.frames
    clean = analyze_consistency(frames, truth.astype(np.float32), truth).summary()
    jittered_masks = jitter(truth)
    jittered = analyze_consistency(frames, jittered_masks.astype(np.float32), jittered_masks).summary()
    assert jittered["raw_consistency"] < clean["raw_consistency"]
    assert jittered["flow_consistency"] < clean["flow_consistency"]
    assert jittered["flow_dice"] < clean["flow_dice"] - 0.03
    assert jittered["flicker_events"] > clean["flicker_events"]
    assert jittered["area_jitter"] > 3 * clean["area_jitter"]


def test_tracker_restarts_when_the_frame_size_changes():
    tracker = ConsistencyTracker()
    tracker.update(np.zeros((10, 10), np.uint8), np.zeros((10, 10)))
    result = tracker.update(np.zeros((12, 10), np.uint8), np.ones((12, 10)))
    assert np.isnan(result.flow_dice) and result.area == 120.0
