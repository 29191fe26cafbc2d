"""Analytic glands for the 3D reconstruction tests: an ellipsoid in a volume of known geometry, swept by the importer.

The ellipsoid ``(x/a)^2 + (y/b)^2 + (z/c)^2 <= 1`` is measured along the volume's own axes (an oblique
direction and anisotropic spacing, so that no axis convention can hide), centred in the volume; its
volume is ``4/3 pi a b c``.  Sweeps are made by ``DTCTrainingLib.data.volume_sweeps.make_sweep``, which
resamples every frame's exact mask from the 0/1 label volume.
"""

import numpy as np
import SimpleITK as sitk

SEMI_AXES_MM = (18.0, 14.0, 12.0)
SPACING_MM = (0.6, 0.7, 0.8)
SIZE = (80, 66, 56)
ORIGIN_MM = (10.0, -20.0, 5.0)
_ANGLE = np.radians(20.0)
DIRECTION = np.array([[np.cos(_ANGLE), -np.sin(_ANGLE), 0.0], [np.sin(_ANGLE), np.cos(_ANGLE), 0.0], [0.0, 0.0, 1.0]])


def analytic_volume_ml(semi_axes=SEMI_AXES_MM) -> float:
    a, b, c = semi_axes
    return 4.0 / 3.0 * np.pi * a * b * c / 1000.0


def centre_lps() -> np.ndarray:
    """LPS mm of the ellipsoid's centre (the volume's centre)."""
    axes = DIRECTION * np.asarray(SPACING_MM)[None, :]
    return np.asarray(ORIGIN_MM) + axes @ ((np.asarray(SIZE) - 1) / 2.0)


def ellipsoid_label(semi_axes=SEMI_AXES_MM) -> sitk.Image:
    """0/1 uint8 volume: voxels whose centre lies inside the ellipsoid."""
    index = np.stack(np.meshgrid(*(np.arange(n) for n in SIZE), indexing="ij"), axis=-1).reshape(-1, 3).astype(float)
    offsets = index * np.asarray(SPACING_MM) - (np.asarray(SIZE) - 1) / 2.0 * np.asarray(SPACING_MM)  # along the axes
    inside = ((offsets / np.asarray(semi_axes)) ** 2).sum(1) <= 1.0
    label = sitk.GetImageFromArray(inside.reshape(SIZE).transpose(2, 1, 0).astype(np.uint8))
    label.SetSpacing(SPACING_MM)
    label.SetOrigin(ORIGIN_MM)
    label.SetDirection(tuple(DIRECTION.ravel()))
    return label


def ellipsoid_sweep(kind: str, frames: int = 40, seed: int = 0, label=None):
    """The importer's ``kind`` sweep (``rotational`` / ``axial``) through the ellipsoid: 96 x 128 frames of 0.5 mm."""
    from DTCTrainingLib.data.volume_sweeps import SweepSettings, make_sweep

    label = ellipsoid_label() if label is None else label
    settings = SweepSettings(kind=kind, frames=frames, height=96, width=128, pixel_mm=0.5, probe_axis="S", probe_side="P")
    return make_sweep(label * 100, label, settings, seed=seed)
