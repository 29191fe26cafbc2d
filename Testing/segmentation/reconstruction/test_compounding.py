"""Masks of a sweep with per-frame poses compounded into 3D: analytic ellipsoids, swept as the importer sweeps."""

import numpy as np
import pytest
import SimpleITK as sitk
from DTCSegmentationLib.reconstruction.accuracy import compare_to_label
from DTCSegmentationLib.reconstruction.compounding import ReconstructionError, compound_masks, signed_distance_mm
from DTCSegmentationLib.reconstruction.frame_poses import FramePoseError
from ellipsoid_sweeps import analytic_volume_ml, centre_lps, ellipsoid_label, ellipsoid_sweep

# Tolerance on the volume of the (18, 14, 12) mm ellipsoid (12.67 mL, surface about 2.6e3 mm^2): 1.5 %
# (0.19 mL) is the volume of a 0.07 mm shell over its surface - a seventh of the 0.5 mm pixels and voxels,
# whose rounding is unbiased and averages out over the surface.  A systematic half-pixel shift of the
# boundary (0.25 mm) is 5 %, and a fan sweep filled only where the planes pass far more.
VOLUME_TOLERANCE = 0.015


@pytest.fixture(scope="module")
def label():
    return ellipsoid_label()


@pytest.mark.parametrize("kind", ["rotational", "axial"])
def test_an_ellipsoid_swept_reconstructs_to_its_analytic_volume_in_place(label, kind):
    sweep = ellipsoid_sweep(kind, label=label)
    result = compound_masks(sweep.masks, sweep.frame_to_volume, spacing_mm=0.5)
    assert result.volume_ml == pytest.approx(analytic_volume_ml(), rel=VOLUME_TOLERANCE)
    assert result.frames_used == result.frames_total == 40
    assert result.frames_with_gland == int(sweep.masks.reshape(40, -1).any(1).sum())
    # In place: the labelled voxels' centroid is the ellipsoid's centre (LPS), and on the label's own
    # grid the two agree voxel by voxel but at the boundary.
    array = sitk.GetArrayFromImage(result.labelmap)
    index = np.argwhere(array > 0)[:, ::-1].mean(0)
    centroid = np.asarray(result.labelmap.TransformContinuousIndexToPhysicalPoint(index.tolist()))
    np.testing.assert_allclose(centroid, centre_lps(), atol=0.3)
    on_label = compound_masks(sweep.masks, sweep.frame_to_volume, reference=label)
    scores = compare_to_label(on_label.labelmap, label)
    assert scores["dice"] > 0.98 and scores["mean_surface_mm"] < 0.3
    assert abs(scores["volume_error_percent"]) < 100 * VOLUME_TOLERANCE


def test_untracked_frames_are_left_out(label):
    sweep = ellipsoid_sweep("axial", frames=60, label=label)
    poses = sweep.frame_to_volume.copy()
    poses[1::3] = np.nan  # the tracker lost every third frame
    result = compound_masks(sweep.masks, poses, spacing_mm=0.5)
    assert result.frames_used == 40 and result.frames_total == 60
    # The remaining frames are 1.5 times as far apart: the volume is still the ellipsoid's.
    assert result.volume_ml == pytest.approx(analytic_volume_ml(), rel=VOLUME_TOLERANCE)


def test_signed_distance_crosses_zero_half_way_between_pixels():
    mask = np.zeros((5, 12), np.uint8)
    mask[:, :4] = 1  # columns 0-3 inside
    distance = signed_distance_mm(mask, (0.5, 2.0))
    # column 3: 1 pixel (0.5 mm) from column 4, the first outside; column 4: 0.5 mm from column 3
    np.testing.assert_allclose(distance[2, [0, 3, 4, 7]], [-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_allclose(signed_distance_mm(np.zeros((3, 3)), (0.5, 0.5)), 0.5)


def test_largest_component_keeps_the_gland_only():
    masks = np.zeros((6, 40, 40), np.uint8)
    masks[:, 5:25, 5:25] = 1  # the gland: 20 x 20 pixels on every frame
    masks[:, 32:36, 32:36] = 1  # a small false positive
    poses = np.repeat(np.eye(4)[None], 6, axis=0)
    poses[:, 2, 3] = np.arange(6) * 1.0  # parallel frames 1 mm apart
    whole = compound_masks(masks, poses, spacing_mm=1.0, margin_mm=0.0)
    kept = compound_masks(masks, poses, spacing_mm=1.0, margin_mm=0.0, largest_component=True)
    # frames 0 to 5 are 5 mm apart: 5 slabs of 1 mm between them plus the first plane (voxels on it)
    assert whole.voxel_count == 6 * (400 + 16) and kept.voxel_count == 6 * 400


def test_bad_input_is_one_clear_error():
    masks = np.ones((3, 8, 8), np.uint8)
    poses = np.repeat(np.eye(4)[None], 3, axis=0)
    poses[:, 2, 3] = [0, 1, 2]
    with pytest.raises(ReconstructionError, match="only 1 of 3 frames have a valid pose"):
        compound_masks(masks, np.where(np.arange(3)[:, None, None] > 0, np.nan, poses))
    with pytest.raises(ReconstructionError, match="none of the 3 tracked frames shows a gland"):
        compound_masks(np.zeros_like(masks), poses)
    with pytest.raises(FramePoseError, match="2 frame poses for 3 frames"):
        compound_masks(masks, poses[:2])
    # pixel centres span 7 x 7 x 2 mm: (7000 + 1) x (7000 + 1) x (2000 + 1) voxels at 1 micrometre
    with pytest.raises(ReconstructionError, match="the output grid would hold 98,077,016,001 voxels"):
        compound_masks(masks, poses, spacing_mm=0.001, margin_mm=0.0)
    flat = poses.copy()
    flat[1, :3, 1] = flat[1, :3, 0]
    with pytest.raises(FramePoseError, match="frame 1 has zero or parallel"):
        compound_masks(masks, flat)
