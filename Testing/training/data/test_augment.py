"""Clip augmentations keep frames, masks and flows consistent with each other."""

import cv2
import numpy as np
from DTCSegmentationLib.temporal.flow import warp_previous
from DTCTrainingLib.data.augment import AugmentSettings, apply_to_flow, apply_to_frame, apply_to_mask, sample_transform

GEOMETRY_ONLY = AugmentSettings(brightness=0, contrast=0, blur_probability=0, cutout_probability=0, hflip=1.0)


def texture(height=64, width=96, seed=0):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((height + 20, width + 20)) * 255).astype(np.uint8), (0, 0), 2.0)


def test_transformed_flow_still_maps_the_augmented_frames_onto_each_other():
    big = texture()
    previous, current = big[10:74, 10:106], big[10:74, 7:103]  # content moved 3 px right
    flow = np.zeros((64, 96, 2), np.float32)
    flow[..., 0] = -3.0
    transform = sample_transform(np.random.default_rng(4), (64, 96), GEOMETRY_ONLY)
    aug_prev, aug_cur = apply_to_frame(transform, previous), apply_to_frame(transform, current)
    aug_flow = apply_to_flow(transform, flow)
    inner = (slice(16, -16), slice(20, -20))
    warped = warp_previous(aug_prev, aug_flow).astype(float)
    error = np.abs(warped[inner] - aug_cur[inner]).mean()
    error_without_flow = np.abs(aug_prev[inner].astype(float) - aug_cur[inner]).mean()
    error_untransformed_flow = np.abs(warp_previous(aug_prev, flow)[inner].astype(float) - aug_cur[inner]).mean()
    assert error < 0.3 * error_without_flow and error < 0.3 * error_untransformed_flow


def test_mask_moves_with_the_frame():
    frame = np.zeros((64, 96), np.uint8)
    frame[20:40, 30:60] = 200
    mask = (frame > 0).astype(np.uint8)
    transform = sample_transform(np.random.default_rng(1), (64, 96), GEOMETRY_ONLY)
    moved_frame, moved_mask = apply_to_frame(transform, frame), apply_to_mask(transform, mask)
    assert set(np.unique(moved_mask)) <= {0, 1}
    agreement = ((moved_frame > 100) == (moved_mask > 0)).mean()
    assert agreement > 0.98 and moved_mask.sum() > 0.7 * mask.sum()


def test_same_transform_for_every_frame_and_seeded():
    a = sample_transform(np.random.default_rng(7), (32, 48))
    b = sample_transform(np.random.default_rng(7), (32, 48))
    np.testing.assert_array_equal(a.matrix, b.matrix)
    frame = texture(32, 48)
    np.testing.assert_array_equal(apply_to_frame(a, frame), apply_to_frame(b, frame))


def test_photometric_changes_and_cutout():
    settings = AugmentSettings(cutout_probability=1.0, brightness=0.2, contrast=0.2)
    transform = sample_transform(np.random.default_rng(2), (64, 96), settings)
    out = apply_to_frame(transform, np.full((64, 96), 128, np.uint8))
    y0, x0, y1, x1 = transform.cutout
    assert out[y0:y1, x0:x1].max() == 0 and out.dtype == np.uint8
