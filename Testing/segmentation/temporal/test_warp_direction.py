"""Warping samples the previous frame at x + flow(x): checked against numpy rolls, both back ends, both axes."""

import numpy as np
import pytest
import torch
from DTCSegmentationLib.temporal.flow import resize_flow, warp_previous, warp_tensor


def rolled(previous, dx, dy):
    """``previous[y + dy, x + dx]`` at every pixel (wrapping, so only pixels whose sample is inside are compared)."""
    return np.roll(previous, (-dy, -dx), axis=(0, 1))


def inside(shape, dx, dy):
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    return (xs + dx >= 0) & (xs + dx < shape[1]) & (ys + dy >= 0) & (ys + dy < shape[0])


@pytest.mark.parametrize("dx, dy", [(3, 0), (-3, 0), (0, 2), (0, -2), (2, -1)])
def test_both_warps_sample_the_previous_frame_at_x_plus_flow(dx, dy):
    previous = np.random.default_rng(0).random((12, 16)).astype(np.float32)
    flow = np.zeros((12, 16, 2), np.float32)
    flow[..., 0], flow[..., 1] = dx, dy
    expected, keep = rolled(previous, dx, dy), inside(previous.shape, dx, dy)
    np.testing.assert_allclose(warp_previous(previous, flow)[keep], expected[keep], atol=1e-6)
    got = warp_tensor(torch.from_numpy(previous)[None, None], torch.from_numpy(flow).permute(2, 0, 1)[None])[0, 0]
    np.testing.assert_allclose(got.numpy()[keep], expected[keep], atol=1e-5)


def test_warping_a_feature_map_with_a_resized_flow_follows_the_same_direction():
    # (8, 2) pixels at full resolution (33 x 65) is (2, 1) on a 17 x 17 feature map: x scales by 16/64, y by 16/32.
    flow = torch.zeros(1, 2, 33, 65)
    flow[:, 0], flow[:, 1] = 8.0, 2.0
    features = torch.from_numpy(np.random.default_rng(1).random((1, 3, 17, 17)).astype(np.float32))
    warped = warp_tensor(features, resize_flow(flow, (17, 17)))
    np.testing.assert_allclose(warped[..., :-1, :-2].numpy(), features[..., 1:, 2:].numpy(), atol=1e-5)
