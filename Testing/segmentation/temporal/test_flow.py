"""Optical flow and warping: known motions are recovered and undone."""

import numpy as np
import pytest
from DTCSegmentationLib.temporal.flow import (
    FlowSettings,
    flow_cache_key,
    flow_to_previous,
    photometric_confidence,
    to_flow_gray,
    valid_mask,
    warp_previous,
)


def textured_frame(height=96, width=128, seed=0):
    """Smooth random texture (speckle-like blobs) that flow estimators can track, uint8."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def shift(image, dx, dy):
    """Content moved by (+dx, +dy) pixels: new(x) = old(x - d)."""
    return np.roll(np.roll(image, dy, axis=0), dx, axis=1)


def test_warp_moves_a_known_shape_by_a_known_flow():
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 5:15] = 1
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0] = -7.0  # every pixel of frame t looks 7 px to the left in the previous frame
    flow[..., 1] = -3.0
    warped = warp_previous(mask, flow, nearest=True)
    expected = np.zeros_like(mask)
    expected[13:23, 12:22] = 1
    np.testing.assert_array_equal(warped, expected)


@pytest.mark.parametrize("method", ["farneback", "dis_fast", "dis_medium"])
def test_flow_recovers_a_translation_and_warping_undoes_it(method):
    previous = textured_frame()
    current = shift(previous, 3, 2)
    settings = FlowSettings(method=method)
    flow = flow_to_previous(current, previous, settings)
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    inner = (slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(flow[inner][..., 0]), -3.0, atol=0.3)
    np.testing.assert_allclose(np.median(flow[inner][..., 1]), -2.0, atol=0.3)
    warped = warp_previous(previous, flow)
    error_warped = np.abs(warped[inner].astype(float) - current[inner]).mean()
    error_unwarped = np.abs(previous[inner].astype(float) - current[inner]).mean()
    assert error_warped < 0.25 * error_unwarped


def test_identical_frames_give_zero_flow_and_full_confidence():
    frame = textured_frame()
    flow = flow_to_previous(frame, frame)
    # Farneback's polynomial fit leaves a few hundredths of a pixel at the borders.
    assert np.abs(flow).mean() < 0.01 and np.abs(flow).max() < 0.25
    confidence = photometric_confidence(frame, warp_previous(frame, flow))
    assert confidence.min() > 0.97


def test_confidence_is_low_where_a_shadow_appears():
    previous = textured_frame()
    current = previous.copy()
    current[:, 60:80] = 0  # acoustic shadow in frame t only
    flow = np.zeros((96, 128, 2), np.float32)
    confidence = photometric_confidence(current, warp_previous(previous, flow))
    assert confidence[:, 60:80].mean() < 0.75
    assert confidence[:, :50].min() == pytest.approx(1.0)


def test_sixteen_bit_frames_keep_their_range_for_flow():
    frame16 = (textured_frame().astype(np.uint16) * 257)
    gray = to_flow_gray(frame16)
    assert gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, textured_frame())
    rgb = np.repeat(textured_frame()[..., None], 3, axis=2)
    np.testing.assert_array_equal(to_flow_gray(rgb), textured_frame())


def test_valid_mask_flags_samples_outside_the_previous_frame():
    flow = np.zeros((10, 10, 2), np.float32)
    flow[..., 0] = -2.5
    valid = valid_mask(flow)
    assert not valid[:, :2].any() and valid[:, 3:].all()


def test_cache_key_depends_on_content_order_and_settings():
    a, b = textured_frame(seed=1), textured_frame(seed=2)
    key = flow_cache_key(a, b, FlowSettings())
    assert key == flow_cache_key(a.copy(), b.copy(), FlowSettings())
    assert key != flow_cache_key(b, a, FlowSettings())
    assert key != flow_cache_key(a, b, FlowSettings(method="dis_fast"))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="farneback"):
        FlowSettings(method="raft")


def test_torch_warp_matches_the_opencv_warp():
    torch = pytest.importorskip("torch")
    from DTCSegmentationLib.temporal.flow import warp_tensor

    previous = textured_frame().astype(np.float32) / 255
    rng = np.random.default_rng(3)
    flow = (rng.standard_normal((96, 128, 2)) * 2).astype(np.float32)
    expected = warp_previous(previous, flow)
    got = warp_tensor(torch.from_numpy(previous)[None, None], torch.from_numpy(flow).permute(2, 0, 1)[None])
    # OpenCV remap interpolates with 1/32-pixel fixed-point weights, hence the tolerance.
    np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=5e-3)


def test_resize_flow_scales_vectors_with_the_grid():
    torch = pytest.importorskip("torch")
    from DTCSegmentationLib.temporal.flow import resize_flow

    flow = torch.zeros(1, 2, 65, 129)
    flow[:, 0] = 8.0
    flow[:, 1] = -4.0
    small = resize_flow(flow, (33, 65))
    assert small.shape == (1, 2, 33, 65)
    torch.testing.assert_close(small[:, 0], torch.full((1, 33, 65), 4.0))
    torch.testing.assert_close(small[:, 1], torch.full((1, 33, 65), -2.0))
