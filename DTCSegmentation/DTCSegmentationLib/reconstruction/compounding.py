"""Compound the 2D masks of a sweep with known per-frame geometry into a 3D labelmap.

Why not splat pixels into voxels: the frames of a rotational (fan) sweep are a few degrees apart, so
away from the probe axis they are millimetres apart, and a grid filled only where a frame plane
passes has gaps that make the volume far too small.  Instead every voxel *pulls* its value from the
two frames whose planes bracket it (signed distance to frame ``t`` and to the next tracked frame of
opposite sign) and interpolates between them - in shape, not in intensity: each mask becomes a signed
distance map (mm, negative inside, zero half-way between the last pixel inside and the first outside),
the voxel's projections onto both planes are sampled bilinearly, and the two values are weighted by
the voxel's distance to each plane (shape-based interpolation, Raya and Udupa 1990).  The voxel is
inside where the interpolated distance is <= 0.  Where several frame pairs bracket a voxel (a sweep
that went back and forth) the pair with the smallest gap wins.  A frame without a gland counts as
"just outside" (+1 pixel everywhere), so the gland ends between the last frame that shows it and the
next one.  Voxels outside the swept range stay empty.

Shapes and units: masks ``(T, H, W)`` (non-zero = gland); poses ``(T, 4, 4)`` pixel ``(i, j, 0, 1)``
to LPS mm (see :mod:`.frame_poses`); the labelmap is a SimpleITK ``uint8`` image (0/1) in LPS mm.
"""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np
import SimpleITK as sitk

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.reconstruction.frame_poses import checked_poses, tracked

_MAP_COLUMNS = 4096  # cv2.remap wants each map dimension below 32767
MAX_VOXELS = 40_000_000
"""About 60 bytes a voxel are held while compounding: 40 million voxels is a 2.4 GB ceiling."""


class ReconstructionError(DTCError):
    """Masks and poses that cannot be compounded into a gland."""


@dataclass
class Reconstruction:
    """A gland compounded from a sweep.

    Attributes:
        labelmap: ``uint8`` 0/1 SimpleITK image (LPS mm).
        frames_used: frames with a valid pose that entered the compounding.
        frames_with_gland: of those, frames whose mask is not empty.
        frames_total: frames in the sweep.
    """

    labelmap: sitk.Image
    frames_used: int
    frames_with_gland: int
    frames_total: int

    @property
    def voxel_count(self) -> int:
        return int(np.count_nonzero(sitk.GetArrayViewFromImage(self.labelmap)))

    @property
    def volume_ml(self) -> float:
        """Gland volume in mL: labelled voxels x voxel volume (mm^3) / 1000."""
        return self.voxel_count * float(np.prod(self.labelmap.GetSpacing())) / 1000.0

    def summary(self) -> dict:
        return {"volume_ml": round(self.volume_ml, 3), "frames_used": self.frames_used,
                "frames_with_gland": self.frames_with_gland, "frames_total": self.frames_total,
                "voxel_mm": [round(s, 4) for s in self.labelmap.GetSpacing()]}


def signed_distance_mm(mask: np.ndarray, spacing) -> np.ndarray:
    """``(H, W)`` float32 signed distance (mm) of a 0/1 mask: negative inside, 0 half-way between pixels.

    ``spacing`` is ``(column, row)`` pixel size in mm.  Inside pixels get minus the distance to the
    nearest outside pixel centre, outside pixels the distance to the nearest inside pixel centre, so the
    linear interpolation between neighbours crosses zero midway - no half-pixel shrink or growth.
    An empty mask is +1 pixel everywhere ("just outside").
    """
    mask = np.asarray(mask) > 0
    if not mask.any():
        return np.full(mask.shape, float(min(spacing)), np.float32)
    if mask.all():
        return np.full(mask.shape, -float(min(spacing)), np.float32)

    def distance_to(region: np.ndarray) -> np.ndarray:
        image = sitk.GetImageFromArray(region.astype(np.uint8))
        image.SetSpacing((float(spacing[0]), float(spacing[1])))
        # Maurer's map is 0 on the region's own boundary pixels and the distance to them outside it.
        distance = sitk.SignedMaurerDistanceMap(image, insideIsPositive=False, squaredDistance=False,
                                                useImageSpacing=True)
        return sitk.GetArrayFromImage(distance)

    outside = np.maximum(distance_to(mask), 0.0)
    inside = np.maximum(distance_to(~mask), 0.0)
    return np.where(mask, -inside, outside).astype(np.float32)


def _check_size(size, spacing) -> None:
    voxels = int(np.prod(np.asarray(size, dtype=float)))
    if voxels > MAX_VOXELS:
        extent = " x ".join(f"{n * s:.0f}" for n, s in zip(size, spacing))
        raise ReconstructionError(f"the output grid would hold {voxels:,} voxels ({extent} mm at {min(spacing):g} mm), "
                                  f"more than {MAX_VOXELS:,}.",
                                  fix="Give a larger voxel size (spacing_mm), or check for masks far from the gland.")


def _grid_from_reference(reference: sitk.Image) -> sitk.Image:
    _check_size(reference.GetSize()[:3], reference.GetSpacing()[:3])
    grid = sitk.Image(reference.GetSize()[:3], sitk.sitkUInt8)
    grid.SetSpacing(reference.GetSpacing()[:3])
    grid.SetOrigin(reference.GetOrigin()[:3])
    dim = reference.GetDimension()
    grid.SetDirection(tuple(np.asarray(reference.GetDirection(), float).reshape(dim, dim)[:3, :3].ravel()))
    return grid


def _bounding_grid(points: np.ndarray, spacing_mm: float, margin_mm: float) -> sitk.Image:
    low = points.min(0) - margin_mm
    high = points.max(0) + margin_mm
    size = np.ceil((high - low) / spacing_mm).astype(int) + 1
    _check_size(size, [spacing_mm] * 3)
    grid = sitk.Image([int(s) for s in size], sitk.sitkUInt8)
    grid.SetSpacing([float(spacing_mm)] * 3)
    grid.SetOrigin(tuple(float(v) for v in low))
    return grid


def _voxel_centres(grid: sitk.Image) -> np.ndarray:
    """``(N, 3)`` LPS mm of every voxel, in numpy's (z, y, x) C order."""
    size = grid.GetSize()
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in size[::-1]), indexing="ij")
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
    axes = np.asarray(grid.GetDirection(), float).reshape(3, 3) * np.asarray(grid.GetSpacing(), float)[None, :]
    return (np.asarray(grid.GetOrigin(), float)[None, :] + index @ axes.T).astype(np.float64)


def _sample(image: np.ndarray, columns: np.ndarray, rows: np.ndarray, outside: float) -> np.ndarray:
    """Bilinear samples of ``image`` (H, W) float32 at float pixel positions; ``outside`` beyond the frame."""
    count = len(columns)
    if count == 0:
        return np.zeros(0, np.float32)
    padded = -(-count // _MAP_COLUMNS) * _MAP_COLUMNS
    map_x = np.full(padded, -10.0, np.float32)
    map_y = np.full(padded, -10.0, np.float32)
    map_x[:count], map_y[:count] = columns, rows
    values = cv2.remap(image, map_x.reshape(-1, _MAP_COLUMNS), map_y.reshape(-1, _MAP_COLUMNS), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=float(outside))
    return values.ravel()[:count]


def compound_masks(masks, poses, spacing_mm: float = 0.5, reference: Optional[sitk.Image] = None,
                   margin_mm: float = 5.0, largest_component: bool = False) -> Reconstruction:
    """The 3D labelmap of the gland the ``masks`` of a sweep show (see the module docstring).

    Args:
        masks: ``(T, H, W)`` masks, non-zero = gland.
        poses: ``(T, 4, 4)`` pixel-to-LPS matrices; frames whose pose is NaN (untracked) are left out.
        spacing_mm: voxel size of the output grid (ignored with ``reference``).
        reference: reconstruct on this image's grid (size, spacing, origin, direction) instead of an
            axis-aligned box around the masks.
        margin_mm: the box's margin around the masks' pixels (the gland may end up to a frame gap beyond).
        largest_component: keep only the largest 3D connected component (face-connected).

    Raises:
        ReconstructionError: masks of the wrong shape, fewer than 2 tracked frames, or no gland in any.
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ReconstructionError(f"masks must be (T, H, W), got shape {masks.shape}.",
                                  fix="Pass the mask sequence of a 2D sweep.")
    poses = checked_poses(poses, len(masks))
    frames = np.flatnonzero(tracked(poses))
    if len(frames) < 2:
        raise ReconstructionError(f"only {len(frames)} of {len(masks)} frames have a valid pose; at least 2 are "
                                  "needed to fill the space between frames.",
                                  fix="Reconstruct a tracked sweep (or one with per-frame geometry).")
    shown = [t for t in frames if masks[t].any()]
    if not shown:
        raise ReconstructionError(f"none of the {len(frames)} tracked frames shows a gland (all masks are empty).",
                                  fix="Segment the recording first, or pick a sweep through the gland.")
    height, width = masks.shape[1:]
    columns, rows = poses[frames, :3, 0], poses[frames, :3, 1]
    origins = poses[frames, :3, 3]
    normals = np.cross(columns, rows)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    steps = np.stack([columns, rows], axis=2)  # (F, 3, 2)
    projectors = np.linalg.pinv(steps)  # (F, 2, 3): in-plane (i, j) of a point relative to the origin
    pixel_mm = np.stack([np.linalg.norm(columns, axis=1), np.linalg.norm(rows, axis=1)], axis=1)

    if reference is not None:
        grid = _grid_from_reference(reference)
    else:
        points = []
        for t in shown:
            j, i = np.nonzero(masks[t])
            points.append(poses[t, :3, 3] + np.outer(i, poses[t, :3, 0]) + np.outer(j, poses[t, :3, 1]))
        grid = _bounding_grid(np.concatenate(points), spacing_mm, margin_mm)
    centres = _voxel_centres(grid)
    count = len(centres)
    best_gap = np.full(count, np.inf)
    value = np.full(count, np.inf, np.float32)

    distance_maps = {}

    def distance_map(position: int) -> np.ndarray:
        if position not in distance_maps:
            for old in [key for key in distance_maps if key < position - 1]:
                del distance_maps[old]  # the loop moves forward: older frames are never sampled again
            distance_maps[position] = signed_distance_mm(masks[frames[position]], pixel_mm[position])
        return distance_maps[position]

    distance_next = (centres - origins[0]) @ normals[0]
    for a in range(len(frames) - 1):
        b = a + 1
        distance_a = distance_next
        distance_next = (centres - origins[b]) @ normals[b]
        # Neighbouring planes whose normals point opposite ways (a flipped frame) still bracket correctly.
        distance_b = distance_next if normals[a] @ normals[b] >= 0 else -distance_next
        gap = np.abs(distance_a) + np.abs(distance_b)
        candidates = np.flatnonzero((distance_a * distance_b <= 0) & (gap < best_gap))
        if len(candidates) == 0:
            continue
        if not (masks[frames[a]].any() or masks[frames[b]].any()):
            # Both frames empty: nothing inside here, but the pair is still the tightest bracket.
            best_gap[candidates] = gap[candidates]
            value[candidates] = np.inf
            continue
        offsets_a = centres[candidates] - origins[a]
        offsets_b = centres[candidates] - origins[b]
        ij_a = offsets_a @ projectors[a].T
        ij_b = offsets_b @ projectors[b].T
        in_frame = ((ij_a[:, 0] > -1) & (ij_a[:, 0] < width) & (ij_a[:, 1] > -1) & (ij_a[:, 1] < height)) | \
                   ((ij_b[:, 0] > -1) & (ij_b[:, 0] < width) & (ij_b[:, 1] > -1) & (ij_b[:, 1] < height))
        candidates, ij_a, ij_b = candidates[in_frame], ij_a[in_frame], ij_b[in_frame]
        if len(candidates) == 0:
            continue
        sdf_a = _sample(distance_map(a), ij_a[:, 0], ij_a[:, 1], pixel_mm[a].min())
        sdf_b = _sample(distance_map(b), ij_b[:, 0], ij_b[:, 1], pixel_mm[b].min())
        near_a = np.abs(distance_a[candidates])
        total = gap[candidates]
        weight_b = np.divide(near_a, total, out=np.full(len(candidates), 0.5), where=total > 0)
        best_gap[candidates] = total
        value[candidates] = (1.0 - weight_b) * sdf_a + weight_b * sdf_b
    inside = (value <= 0).reshape(grid.GetSize()[::-1]).astype(np.uint8)
    labelmap = sitk.GetImageFromArray(inside)
    labelmap.CopyInformation(grid)
    if largest_component and inside.any():
        components = sitk.RelabelComponent(sitk.ConnectedComponent(labelmap, False), sortByObjectSize=True)
        labelmap = sitk.Cast(components == 1, sitk.sitkUInt8)
    return Reconstruction(labelmap, len(frames), len(shown), len(masks))
