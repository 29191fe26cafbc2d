"""Probe geometry: where each beam sample lies, and how beams map onto image pixels.

The probe frame has its origin at the centre of the transducer surface, ``x`` lateral
and ``y`` depth (mm, downwards).  The axial (transverse) view uses a curvilinear array
with a small radius of curvature and a wide fan, as TRUS end-fire and biplane probes do;
the sagittal view a linear array along the probe shaft.  Beam space is
``(samples along the beam, scan lines)``; images are produced from it by scan
conversion (``cv2.remap`` with the maps computed here).
"""

from dataclasses import dataclass

import numpy as np

from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry

SAMPLE_MM = 0.1  # axial sampling along the beam: finer than the PSF so speckle is resolved
LINES = 256


@dataclass
class ScanGeometry:
    """Beam-space sample positions and the scan-conversion maps for one probe.

    Attributes:
        sample_x, sample_y: ``(S, L)`` float32 probe-frame positions (mm) of beam samples.
        sample_depth: ``(S, L)`` float32 distance from the transducer surface (mm).
        pixel_x, pixel_y: ``(H, W)`` float32 probe-frame positions (mm) of image pixels.
        map_sample, map_line: ``(H, W)`` float32 beam-space coordinates of each pixel
            (``-1`` outside the field of view), for ``cv2.remap``.
        inside: ``(H, W)`` bool, pixel inside the field of view.
        spacing_mm: image pixel size (isotropic).
        line_angle: ``(L,)`` beam angles (radians, curvilinear) or None (linear).
        line_x: ``(L,)`` lateral beam positions (mm, linear) or None.
        radius_mm: radius of curvature (0 for linear).
    """

    sample_x: np.ndarray
    sample_y: np.ndarray
    sample_depth: np.ndarray
    pixel_x: np.ndarray
    pixel_y: np.ndarray
    map_sample: np.ndarray
    map_line: np.ndarray
    inside: np.ndarray
    spacing_mm: float
    radius_mm: float
    line_angle: object = None
    line_x: object = None

    @property
    def frame_geometry(self) -> FrameGeometry:
        """Pixel placement: spacing and the probe-frame position of pixel (0, 0)."""
        return FrameGeometry(spacing=(self.spacing_mm, self.spacing_mm, 1.0),
                             origin=(float(self.pixel_x[0, 0]), float(self.pixel_y[0, 0]), 0.0))


def curvilinear(height: int, width: int, depth_mm: float, radius_mm: float = 10.0, half_angle_deg: float = 70.0) -> ScanGeometry:
    """A convex transverse TRUS array: apex ``radius_mm`` behind the surface, fan of ``2 * half_angle_deg``."""
    half = np.deg2rad(half_angle_deg)
    samples = int(round(depth_mm / SAMPLE_MM))
    r = radius_mm + np.arange(samples, dtype=np.float32) * SAMPLE_MM
    theta = np.linspace(-half, half, LINES, dtype=np.float32)
    rr, tt = np.meshgrid(r, theta, indexing="ij")
    sample_x, sample_y = rr * np.sin(tt), rr * np.cos(tt) - radius_mm
    x_extent = 2 * (radius_mm + depth_mm) * np.sin(half)
    y_top = radius_mm * np.cos(half) - radius_mm
    y_extent = depth_mm - y_top
    spacing = 1.02 * max(x_extent / width, y_extent / height)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * spacing
    ys = y_top + np.arange(height, dtype=np.float32) * spacing
    pixel_x, pixel_y = np.meshgrid(xs, ys)
    pr = np.hypot(pixel_x, pixel_y + radius_mm)
    pt = np.arctan2(pixel_x, pixel_y + radius_mm)
    map_sample = (pr - radius_mm) / SAMPLE_MM
    map_line = (pt + half) / (2 * half) * (LINES - 1)
    inside = (map_sample >= 0) & (map_sample <= samples - 1) & (np.abs(pt) <= half)
    return ScanGeometry(
        sample_x=sample_x.astype(np.float32), sample_y=sample_y.astype(np.float32),
        sample_depth=(rr - radius_mm).astype(np.float32), pixel_x=pixel_x, pixel_y=pixel_y,
        map_sample=np.where(inside, map_sample, -1).astype(np.float32),
        map_line=np.where(inside, map_line, -1).astype(np.float32),
        inside=inside, spacing_mm=float(spacing), radius_mm=radius_mm, line_angle=theta,
    )


def linear(height: int, width: int, depth_mm: float, aperture_mm: float = 64.0) -> ScanGeometry:
    """A linear sagittal TRUS array of ``aperture_mm``; the image may be wider than the aperture."""
    samples = int(round(depth_mm / SAMPLE_MM))
    depth = np.arange(samples, dtype=np.float32) * SAMPLE_MM
    line_x = np.linspace(-aperture_mm / 2, aperture_mm / 2, LINES, dtype=np.float32)
    sample_y, sample_x = np.meshgrid(depth, line_x, indexing="ij")
    spacing = 1.02 * max(aperture_mm / width, depth_mm / height)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * spacing
    ys = np.arange(height, dtype=np.float32) * spacing
    pixel_x, pixel_y = np.meshgrid(xs, ys)
    map_sample = pixel_y / SAMPLE_MM
    map_line = (pixel_x + aperture_mm / 2) / aperture_mm * (LINES - 1)
    inside = (map_sample <= samples - 1) & (map_line >= 0) & (map_line <= LINES - 1)
    return ScanGeometry(
        sample_x=sample_x.astype(np.float32), sample_y=sample_y.astype(np.float32),
        sample_depth=sample_y.astype(np.float32), pixel_x=pixel_x, pixel_y=pixel_y,
        map_sample=np.where(inside, map_sample, -1).astype(np.float32),
        map_line=np.where(inside, map_line, -1).astype(np.float32),
        inside=inside, spacing_mm=float(spacing), radius_mm=0.0, line_x=line_x,
    )


def scan_geometry(view: str, height: int, width: int, depth_mm: float) -> ScanGeometry:
    """The probe of a view: curvilinear for ``axial``, linear for ``sagittal``."""
    return curvilinear(height, width, depth_mm) if view == "axial" else linear(height, width, depth_mm)
