"""A recording's flicker rate and area jitter against hand-computed values."""

import numpy as np
import pytest
from DTCSegmentationLib.temporal.consistency import analyze_consistency


def squares(widths, height=10, shape=(40, 60)):
    """One mask per width: a ``height`` x ``width`` rectangle (width 0: empty), on blank frames (zero flow)."""
    masks = np.zeros((len(widths),) + shape, np.uint8)
    for t, width in enumerate(widths):
        masks[t, 10:10 + height, 20:20 + width] = 1
    return np.zeros_like(masks), masks


def test_flicker_rate_is_events_per_frame_pair():
    frames, masks = squares([10, 10, 0, 10, 10])  # gone in frame 2: frames 2 and 3 disagree with their predecessor
    summary = analyze_consistency(frames, masks.astype(np.float32), masks).summary()
    assert summary["flicker_events"] == 2
    assert summary["flicker_rate"] == pytest.approx(2 / 4)  # 5 frames, 4 pairs


def test_area_jitter_is_the_rms_of_the_second_difference_over_the_mean_area():
    frames, masks = squares([10, 10, 13, 10, 10])  # areas 100, 100, 130, 100, 100
    # second differences +30, -60, +30: RMS sqrt(1800), mean 0, mean magnitude 40; mean area 106
    summary = analyze_consistency(frames, masks.astype(np.float32), masks).summary()
    assert summary["area_jitter"] == pytest.approx(np.sqrt(1800) / 106)


def test_a_steadily_growing_mask_has_no_area_jitter_but_a_single_frame_has_no_pairs():
    frames, masks = squares([10, 12, 14, 16])
    assert analyze_consistency(frames, masks.astype(np.float32), masks).summary()["area_jitter"] == pytest.approx(0.0)
    single = analyze_consistency(frames[:1], masks[:1].astype(np.float32), masks[:1]).summary()
    assert single["flicker_rate"] == 0.0 and single["raw_consistency"] == 1.0 and single["area_jitter"] == 0.0
