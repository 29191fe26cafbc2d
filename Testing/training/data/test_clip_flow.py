"""A training clip's flow points from frame t back to frame t-1, and its confidence and valid mask follow it."""

import cv2
import numpy as np
import pytest
from DTCTrainingLib.data.case_loading import CaseArrays
from DTCTrainingLib.data.datasets import VideoClips
from DTCTrainingLib.data.flow_cache import FlowCache
from DTCTrainingLib.data.manifest import Case

SHIFT = 3  # columns the content moves to the right from one frame to the next


def moving_texture(count=3, height=64, width=96):
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((height, width + SHIFT * count)).astype(np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.stack([texture[:, SHIFT * (count - t):SHIFT * (count - t) + width] for t in range(count)])


def test_clip_flow_is_the_backward_flow_and_explains_the_frame():
    frames = moving_texture()
    case = CaseArrays(Case("c", "p", "axial", "train", frames=()), frames, np.zeros_like(frames), np.zeros(3, bool))
    clips = VideoClips([case], {"scale": 1 / 255.0, "mean": 0.0, "std": 1.0}, FlowCache(None), length=3, augment=False)
    item = clips[0]
    inner = (slice(16, -16), slice(16, -16))
    for pair in range(2):  # frame t(x) = frame t-1(x - SHIFT): the flow from t to t-1 is -SHIFT in x, 0 in y
        assert np.median(item["flow"][pair, 0].numpy()[inner]) == pytest.approx(-SHIFT, abs=0.3)
        assert np.median(item["flow"][pair, 1].numpy()[inner]) == pytest.approx(0.0, abs=0.3)
        assert item["confidence"][pair, 0].numpy()[inner].mean() > 0.97  # the flow explains frame t
        valid = item["valid"][pair, 0].numpy()[16:-16]  # (Farneback is unreliable in the corners)
        assert not valid[:, :SHIFT - 1].any() and valid[:, SHIFT + 1:].all()  # left columns come from outside
