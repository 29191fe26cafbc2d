"""Pre- and post-processing step by step against values worked out by hand."""

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.inference.postprocessing import fill_holes, keep_largest_component, postprocess, threshold
from DTCSegmentationLib.inference.preprocessing import (
    Placement,
    fit_frame,
    fit_mask,
    normalize,
    placement,
    prepare_batch,
    probability_to_uint8,
    restore,
    to_channels,
    to_uint8,
)


def test_to_uint8_scales_integers_by_their_dtype_range_and_clips_floats():
    np.testing.assert_array_equal(to_uint8(np.array([0, 257, 65535], np.uint16)), [0, 1, 255])
    # int16: (x + 32768) * 255 / 65535, rounded: 0 -> 127.5019 -> 128
    np.testing.assert_array_equal(to_uint8(np.array([-32768, 0, 32767], np.int16)), [0, 128, 255])
    np.testing.assert_array_equal(to_uint8(np.array([-3.2, 12.6, 300.0])), [0, 13, 255])
    frame = np.array([[7, 200]], np.uint8)
    assert to_uint8(frame) is frame


def test_probability_to_uint8_rounds_and_clips():
    np.testing.assert_array_equal(probability_to_uint8(np.array([0.0, 0.1, 0.5, 1.0, 1.2, -0.1])), [0, 26, 128, 255, 255, 0])


def test_channels():
    rgba = np.zeros((1, 1, 4), np.uint8)
    rgba[0, 0] = (100, 50, 200, 9)
    np.testing.assert_array_equal(to_channels(rgba, 3), [[[100, 50, 200]]])  # alpha dropped
    assert to_channels(rgba, 1)[0, 0] == 82  # luminance 0.299 R + 0.587 G + 0.114 B = 82.05
    np.testing.assert_array_equal(to_channels(np.array([[5, 6]], np.uint8), 3), [[[5, 5, 5], [6, 6, 6]]])
    gray = np.array([[5, 6]], np.uint8)
    np.testing.assert_array_equal(to_channels(gray, 1), gray)


def test_placement_centres_letterboxed_content():
    # 100 x 200 into 64 x 96: scale min(0.64, 0.48) = 0.48, content 48 x 96, 8 rows of padding above and below
    assert placement((100, 200), (64, 96), "letterbox") == Placement((100, 200), (8, 0, 48, 96))
    # 200 x 100 into 64 x 96: scale 0.32, content 64 x 32, 32 columns of padding left and right
    assert placement((200, 100), (64, 96), "letterbox") == Placement((200, 100), (0, 32, 64, 32))
    assert placement((100, 200), (64, 96), "resize") == Placement((100, 200), (0, 0, 64, 96))
    with pytest.raises(ValueError, match="letterbox"):
        placement((10, 10), (8, 8), "crop")


def test_fit_frame_pads_with_zeros_and_averages_when_shrinking_interpolates_when_growing():
    image, where = fit_frame(np.full((100, 200), 77, np.uint8), (64, 96), mode="letterbox")
    assert where.box == (8, 0, 48, 96) and image.shape == (64, 96)
    assert (image[8:56] == 77).all() and (image[:8] == 0).all() and (image[56:] == 0).all()
    stripes = np.tile(np.array([0, 0, 255], np.uint8), 2)[None].repeat(3, axis=0)  # 3 x 6 -> 1 x 2: area means 85
    np.testing.assert_array_equal(fit_frame(stripes, (1, 2))[0], [[85, 85]])
    ramp = np.array([[0, 255]], np.uint8)  # 1 x 2 -> 1 x 4 bilinear: 0, 63.75, 191.25, 255
    np.testing.assert_array_equal(fit_frame(ramp, (1, 4))[0], [[0, 64, 191, 255]])
    rgb, _ = fit_frame(np.zeros((4, 4), np.uint16), (4, 4), channels=3)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8


def test_fit_mask_moves_labels_like_the_frame_without_new_values():
    mask = np.zeros((100, 200), np.uint8)
    mask[:, 100:] = 3
    fitted = fit_mask(mask, (64, 96), mode="letterbox")
    assert set(np.unique(fitted)) == {0, 3} and (fitted[:8] == 0).all() and (fitted[8:56, 48:] == 3).all()
    assert (fitted[8:56, :48] == 0).all()


def test_normalize_and_prepare_batch():
    gray = np.array([[[0, 255], [51, 102]]], np.uint8)
    x = normalize(gray, {"scale": 1 / 255.0, "mean": 0.5, "std": 0.25})
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], [[-2.0, 2.0], [-1.2, -0.4]], rtol=1e-6)
    rgb = np.zeros((1, 1, 1, 3), np.uint8)
    rgb[0, 0, 0] = (10, 20, 30)
    np.testing.assert_allclose(normalize(rgb, {})[0, :, 0, 0], np.array([10, 20, 30]) / 255.0, rtol=1e-6)  # (B, C, h, w)
    batch, places = prepare_batch([np.full((100, 200), 255, np.uint8), np.zeros((32, 48), np.uint8)], (64, 96), 1,
                                  "letterbox", {"scale": 1 / 255.0, "mean": 0.0, "std": 1.0})
    assert batch.shape == (2, 1, 64, 96) and [p.frame_size for p in places] == [(100, 200), (32, 48)]
    assert batch[0, 0, 8:56].min() == 1.0 and batch[0, 0, :8].max() == 0.0


def test_restore_crops_the_padding_and_resizes_back():
    probabilities = np.zeros((64, 96), np.float32)
    probabilities[8:56] = 0.75  # the letterboxed content; the padding (0) must not leak back
    restored = restore(probabilities, Placement((100, 200), (8, 0, 48, 96)))
    assert restored.shape == (100, 200) and restored.dtype == np.float32
    np.testing.assert_allclose(restored, 0.75)


def test_threshold_is_strictly_above_the_level():
    np.testing.assert_array_equal(threshold(np.array([0.3, 0.5, 0.51])), [0, 0, 1])
    np.testing.assert_array_equal(threshold(np.array([0.3, 0.5, 0.51]), 0.3), [0, 1, 1])
    assert threshold(np.array([0.9])).dtype == np.uint8


def test_largest_component_counts_diagonal_neighbours_and_keeps_a_single_region_as_is():
    mask = np.zeros((10, 10), np.uint8)
    mask[0:3, 0:3] = 1  # 9 pixels ...
    mask[3:6, 3:6] = 1  # ... touching these 9 at a corner: one 8-connected region of 18
    mask[7:10, 5:9] = 1  # 12 pixels: larger than either square, smaller than the two together
    kept = keep_largest_component(mask)
    assert kept.sum() == 18 and kept[1, 1] == 1 and kept[8, 7] == 0
    single = np.zeros((4, 4), bool)
    single[1:3, 1:3] = True
    assert keep_largest_component(single).dtype == np.uint8 and keep_largest_component(single).sum() == 4
    assert not keep_largest_component(np.zeros((4, 4), np.uint8)).any()


def test_fill_holes_fills_enclosed_background_only():
    mask = np.zeros((8, 8), np.uint8)
    mask[1:7, 1:7] = 1
    mask[3:5, 3:5] = 0  # enclosed: filled
    mask[3:5, 6] = 0  # a notch open to the frame's border: stays
    filled = fill_holes(mask)
    assert filled[3:5, 3:5].all() and not filled[3:5, 6].any() and filled.sum() == 36 - 2
    edge = np.ones((5, 5), np.uint8)
    edge[0, 2] = 0  # background on the frame's edge is outside, not a hole
    np.testing.assert_array_equal(fill_holes(edge), edge)


def test_postprocess_applies_each_step_only_when_asked():
    probabilities = np.zeros((10, 10))
    probabilities[1:6, 1:6] = 0.9
    probabilities[3, 3] = 0.2  # a hole
    probabilities[8, 8] = 0.9  # a speck
    assert postprocess(probabilities).sum() == 25
    assert postprocess(probabilities, largest=False).sum() == 26
    assert postprocess(probabilities, holes=False).sum() == 24
    assert postprocess(probabilities, 0.95).sum() == 0


@pytest.mark.parametrize("gland_first", [True, False])
def test_largest_component_wherever_it_comes_in_scan_order(gland_first):
    mask = np.zeros((12, 12), np.uint8)
    speck, gland = (slice(0, 2), slice(0, 2)), (slice(4, 10), slice(4, 10))
    if gland_first:
        speck = (slice(11, 12), slice(0, 2))
    for region in (speck, gland, (slice(0, 2), slice(9, 12))):  # a third region of 6 pixels
        mask[region] = 1
    kept = keep_largest_component(mask)
    assert kept.dtype == np.uint8 and kept.sum() == 36 and kept[gland].all()
    assert fill_holes(mask).dtype == np.uint8


def test_scaling_and_rounding_in_the_upper_half_of_the_range():
    np.testing.assert_array_equal(to_uint8(np.array([51400], np.uint16)), [200])  # 200 * 257
    np.testing.assert_array_equal(probability_to_uint8(np.array([0.8])), [204])


def test_one_pixel_thin_frames_keep_one_pixel_of_content():
    assert placement((1, 100), (64, 96), "letterbox").box == (31, 0, 1, 96)  # 0.96 of a row rounds to 1
    assert placement((100, 1), (64, 96), "letterbox").box == (0, 47, 64, 1)


def test_resizing_in_one_direction_only():
    column = np.array([[0], [255]], np.uint8)  # taller, same width: growing, so bilinear
    np.testing.assert_array_equal(fit_frame(column, (4, 1))[0][:, 0], [0, 64, 191, 255])
    frame = np.arange(20, dtype=np.uint8).reshape(10, 2) * 10  # shorter but wider: shrinking, so area averaging
    area = fit_frame(frame, (5, 4))[0]
    np.testing.assert_array_equal(area, cv2.resize(frame, (4, 5), interpolation=cv2.INTER_AREA))
    assert not np.array_equal(area, cv2.resize(frame, (4, 5), interpolation=cv2.INTER_LINEAR))


def test_letterboxed_colour_frames_and_masks_keep_their_type():
    image, _ = fit_frame(np.full((100, 200, 3), 9, np.uint8), (64, 96), channels=3, mode="letterbox")
    assert image.shape == (64, 96, 3) and image.dtype == np.uint8 and (image[8:56] == 9).all() and not image[:8].any()
    gray, _ = fit_frame(np.full((100, 200), 9, np.uint8), (64, 96), mode="letterbox")
    assert gray.dtype == np.uint8
    labels = np.array([[0, 5], [7, 0]], np.uint16)  # growing a label map: nearest, never an in-between label
    fitted = fit_mask(labels, (4, 4))  # the default mode stretches like "resize"
    assert fitted.dtype == np.uint16
    np.testing.assert_array_equal(fitted, [[0, 0, 5, 5], [0, 0, 5, 5], [7, 7, 0, 0], [7, 7, 0, 0]])


def test_normalisation_uses_the_models_scale():
    x = normalize(np.array([[[100]]], np.uint8), {"scale": 0.01, "mean": 0.5, "std": 2.0})
    assert x[0, 0, 0, 0] == pytest.approx((1.0 - 0.5) / 2.0)
