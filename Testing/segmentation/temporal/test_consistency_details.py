"""Consistency scores in the corners: integer and 0/255 masks, given masks over thresholds, colour frames,
half-pixel motion, the first frame, empty recordings and the per-frame curves."""

import math

import numpy as np
import pytest
from DTCSegmentationLib.temporal import consistency
from DTCSegmentationLib.temporal.consistency import (
    ConsistencyTracker,
    analyze_consistency,
    area_second_difference,
    raw_consistency,
)
from DTCSegmentationLib.temporal.flow import FlowSettings


def squares(widths, shape=(30, 40)):
    masks = np.zeros((len(widths),) + shape, np.uint8)
    for t, width in enumerate(widths):
        masks[t, 5:15, 5:5 + width] = 1
    return np.zeros_like(masks), masks


def test_raw_consistency_of_integer_masks_and_of_longer_sequences():
    _, masks = squares([10, 12, 12, 6])  # 20 of 1200 pixels change, then 0, then 60
    np.testing.assert_allclose(raw_consistency(masks), [1 - 20 / 1200, 1.0, 1 - 60 / 1200])  # uint8: no wrap-around
    p = np.random.default_rng(0).random((4, 3, 5))
    np.testing.assert_allclose(raw_consistency(p), [1 - np.abs(p[t] - p[t - 1]).mean() for t in (1, 2, 3)], rtol=1e-6)


def test_given_masks_count_instead_of_thresholded_probabilities_and_may_be_0_255():
    frames, masks = squares([10, 10, 20])
    low = np.full(masks.shape, 0.2, np.float32)  # below the threshold everywhere: only the given masks have area
    report = analyze_consistency(frames, low, masks * 255)
    np.testing.assert_array_equal(report.area, [100, 100, 200])
    assert report.flow_dice[2] == pytest.approx(2 * 100 / 300)
    at_threshold = np.full((2, 4, 4), 0.5, np.float32)  # exactly 0.5 is not above 0.5
    assert analyze_consistency(np.zeros((2, 4, 4), np.uint8), at_threshold).area.tolist() == [0.0, 0.0]


def test_integer_masks_as_probabilities_give_the_flicker_map_of_the_change():
    frames, masks = squares([12, 10])  # shrinks: 0 - 1 in uint8 would wrap around to 255
    maps = {}
    analyze_consistency(frames, masks, on_frame=lambda index, result: maps.__setitem__(index, result.flicker_map))
    assert maps[1].max() == 1.0 and maps[1].sum() == 20


def test_colour_frames_are_compared_with_their_predecessor():
    frames, masks = squares([10, 10, 10])
    colour = np.repeat(frames[..., None], 3, axis=3)
    report = analyze_consistency(colour, masks.astype(np.float32), masks)
    np.testing.assert_allclose(report.flow_dice[1:], 1.0)
    assert np.isnan(report.flow_dice[0])


def test_the_first_frame_has_no_pairwise_scores():
    result = ConsistencyTracker().update(np.zeros((6, 8), np.uint8), np.full((6, 8), 0.9, np.float32))
    assert math.isnan(result.raw) and math.isnan(result.flow) and math.isnan(result.flow_dice)
    assert result.flicker is False and result.area == 48.0
    assert result.flicker_map.shape == (6, 8) and not result.flicker_map.any()


def test_the_tracker_uses_its_flow_settings(monkeypatch):
    seen = []
    original = consistency.flow_to_previous
    monkeypatch.setattr(consistency, "flow_to_previous", lambda *args: seen.append(args[2]) or original(*args))
    frames, masks = squares([10, 10])
    settings = FlowSettings(method="dis_fast", presmooth=0)
    analyze_consistency(frames, masks.astype(np.float32), masks, ConsistencyTracker(settings))
    assert seen == [settings]


def test_a_warped_mask_edge_at_exactly_one_half_is_outside(monkeypatch):
    # Half a pixel of motion: bilinear warping puts the edge columns at exactly 0.5.
    monkeypatch.setattr(consistency, "flow_to_previous", lambda *args: np.full((30, 40, 2), (0.5, 0.0), np.float32))
    frames, masks = squares([10, 10])
    report = analyze_consistency(frames, masks.astype(np.float32), masks)
    # The warped mask keeps columns 5..13 fully (9 x 10 pixels); column 14 is 0.5 and column 4 is 0.5: out.
    assert report.flow_dice[1] == pytest.approx(2 * 90 / (100 + 90))


def test_area_jitter_of_empty_masks_and_of_areas_below_one():
    frames, masks = squares([0, 0, 0, 0])
    assert analyze_consistency(frames, masks.astype(np.float32), masks).summary()["area_jitter"] == 0.0
    frames, masks = squares([10, 10, 13, 10])  # areas 100, 100, 130, 100 pixels of 0.001 mm^2
    summary = analyze_consistency(frames, masks.astype(np.float32), masks, ConsistencyTracker(pixel_area=0.001)).summary()
    assert summary["area_jitter"] == pytest.approx(np.sqrt((30 ** 2 + 60 ** 2) / 2) / 107.5)  # the same as in pixels


def test_single_frame_and_empty_recordings():
    frames, masks = squares([10])
    single = analyze_consistency(frames, masks.astype(np.float32), masks).summary()
    assert single["flow_consistency"] == 1.0 and single["flow_dice"] == 1.0 and single["flicker_events"] == 0
    empty = analyze_consistency([], [])
    assert all(len(curve) == 0 for curve in empty.curves().values())
    assert empty.summary()["flicker_rate"] == 0.0 and empty.summary()["area_jitter"] == 0.0
    np.testing.assert_array_equal(area_second_difference([1, 3, 4]), [np.nan, -1.0, np.nan])
    assert np.isnan(area_second_difference([1, 3])).all()


def test_curves_name_every_per_frame_column():
    frames, masks = squares([10, 10, 0])
    report = analyze_consistency(frames, masks.astype(np.float32), masks)
    curves = report.curves()
    assert list(curves) == ["raw_consistency", "flow_consistency", "flow_dice", "flicker", "area", "area_second_difference"]
    assert curves["flicker"].tolist() == [0, 0, 1] and curves["flicker"].dtype == np.uint8
    assert report.flicker.dtype == bool and curves["area"].tolist() == [100.0, 100.0, 0.0]
    np.testing.assert_array_equal(curves["area_second_difference"], [np.nan, -100.0, np.nan])
    np.testing.assert_array_equal(curves["raw_consistency"], report.raw)
    np.testing.assert_array_equal(curves["flow_consistency"], report.flow)
    np.testing.assert_array_equal(curves["flow_dice"], [np.nan, 1.0, 0.0])


def test_without_motion_the_flow_score_is_the_raw_score_and_a_dice_at_the_threshold_is_no_flicker():
    frames, masks = squares([10, 12])  # blank frames: zero flow; 20 of 1200 pixels change
    report = analyze_consistency(frames, masks.astype(np.float32), masks, ConsistencyTracker(flicker_dice=200 / 220))
    assert report.flow[1] == pytest.approx(1 - 20 / 1200) and report.raw[1] == pytest.approx(1 - 20 / 1200)
    assert report.flow_dice[1] == 200 / 220 and not report.flicker[1]  # flicker is strictly below the threshold
