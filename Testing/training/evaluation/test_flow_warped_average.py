"""The flow-warped moving average: a plain mean where nothing moves, the object where it is now when it moves."""

import cv2
import numpy as np
import pytest
from DTCTrainingLib.evaluation.smoothing import flow_warped_average


def texture(height=96, width=128, seed=3):
    noise = np.random.default_rng(seed).random((height, width + 60)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.5)


def test_still_frames_give_the_plain_causal_mean():
    frame = (texture()[:, :128] * 255).astype(np.uint8)
    maps = [np.full((96, 128), v, np.float32) for v in (1.0, 0.0, 0.0, 1.0, 1.0)]
    out = list(flow_warped_average([frame] * 5, maps, window=3))
    expected = [1.0, 0.5, 1 / 3, 1 / 3, 2 / 3]  # means of the last (up to) 3 maps
    assert [float(o.mean()) for o in out] == pytest.approx(expected, abs=1e-3)
    assert [float(o.mean()) for o in flow_warped_average([frame] * 5, maps, window=1)] == pytest.approx(
        [1, 0, 0, 1, 1])


def test_a_moving_object_is_averaged_where_it_is_now():
    base, step = texture(), 3  # the scene slides 3 pixels to the right per frame
    frames, maps, squares = [], [], []
    for t in range(6):
        shift = 30 - step * t
        frames.append((np.ascontiguousarray(base[:, shift:shift + 128]) * 255).astype(np.uint8))
        square = np.zeros((96, 128), np.float32)
        square[30:66, 40 + step * t:76 + step * t] = 1.0
        squares.append(square)
        maps.append(square)
    last_warped = list(flow_warped_average(frames, maps, window=3))[-1] > 0.5
    last_plain = np.mean(maps[-3:], axis=0) > 0.5

    def dice(a, b):
        return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())

    now = squares[-1] > 0.5
    assert dice(last_warped, now) > 0.95
    assert dice(last_plain, now) < dice(last_warped, now) - 0.05  # without flow the mask trails behind


def test_a_window_below_one_frame_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        list(flow_warped_average([np.zeros((8, 8))], [np.zeros((8, 8))], window=0))
