"""Probe geometry: where each beam sample lies, and how beams map onto image pixels.

The probe frame has its origin at the centre of the transducer surface, ``x`` lateral
and ``y`` depth (mm, downwards).  The axial (transverse) view uses a curvilinear array
with a small radius of curvature and a wide fan, as TRUS end-fire and biplane probes do;
the sagittal view a linear array along the probe shaft.  Beam space is
``(samples along the beam, scan lines)``; images are produced from it by scan
conversion (``cv2.remap`` with the maps computed here).

The classic display puts the transducer at the top of the frame (depth down);
:func:`probe_at_bottom` is the clinical one: transducer at the bottom, anterior up, inside
a screen region, optionally mirrored, with a convex fan or a linear rectangle of any size.
"""

from dataclasses import dataclass, replace

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
        sample_mm: beam sampling step (mm).
        screen: a clinical screen layout (probe at the bottom): the frame is a screen capture,
            so :attr:`frame_geometry` gives the pixel spacing only.
        mirror: the per-pixel arrays are mirrored left-right (see :func:`mirrored`).
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
    sample_mm: float = SAMPLE_MM
    screen: bool = False
    mirror: bool = False

    @property
    def frame_geometry(self) -> FrameGeometry:
        """Pixel placement: spacing and the probe-frame position of pixel (0, 0).

        For a clinical screen (probe at the bottom, possibly mirrored) only the spacing: the
        frame is what a video grabber records, with no patient coordinates.
        """
        if self.screen:
            return FrameGeometry(spacing=(self.spacing_mm, self.spacing_mm, 1.0))
        if self.mirror:  # columns run towards -x
            return FrameGeometry(spacing=(self.spacing_mm, self.spacing_mm, 1.0),
                                 origin=(float(self.pixel_x[0, 0]), float(self.pixel_y[0, 0]), 0.0),
                                 direction=(-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
        return FrameGeometry(spacing=(self.spacing_mm, self.spacing_mm, 1.0),
                             origin=(float(self.pixel_x[0, 0]), float(self.pixel_y[0, 0]), 0.0))


def _convex_beams(depth_mm: float, radius_mm: float, half: float, sample_mm: float, lines: int):
    samples = int(round(depth_mm / sample_mm))
    r = radius_mm + np.arange(samples, dtype=np.float32) * sample_mm
    theta = np.linspace(-half, half, lines, dtype=np.float32)
    rr, tt = np.meshgrid(r, theta, indexing="ij")
    sample_x, sample_y = rr * np.sin(tt), rr * np.cos(tt) - radius_mm
    return samples, theta, rr, sample_x, sample_y


def _convex_maps(pixel_x, pixel_y, samples: int, radius_mm: float, half: float, sample_mm: float, lines: int):
    pr = np.hypot(pixel_x, pixel_y + radius_mm)
    pt = np.arctan2(pixel_x, pixel_y + radius_mm)
    map_sample = (pr - radius_mm) / sample_mm
    map_line = (pt + half) / (2 * half) * (lines - 1)
    inside = (map_sample >= 0) & (map_sample <= samples - 1) & (np.abs(pt) <= half)
    return map_sample, map_line, inside


def _linear_beams(depth_mm: float, aperture_mm: float, sample_mm: float, lines: int):
    samples = int(round(depth_mm / sample_mm))
    depth = np.arange(samples, dtype=np.float32) * sample_mm
    line_x = np.linspace(-aperture_mm / 2, aperture_mm / 2, lines, dtype=np.float32)
    sample_y, sample_x = np.meshgrid(depth, line_x, indexing="ij")
    return samples, line_x, sample_x, sample_y


def _linear_maps(pixel_x, pixel_y, samples: int, aperture_mm: float, sample_mm: float, lines: int):
    map_sample = pixel_y / sample_mm
    map_line = (pixel_x + aperture_mm / 2) / aperture_mm * (lines - 1)
    inside = (map_sample >= 0) & (map_sample <= samples - 1) & (map_line >= 0) & (map_line <= lines - 1)
    return map_sample, map_line, inside


def curvilinear(height: int, width: int, depth_mm: float, radius_mm: float = 10.0, half_angle_deg: float = 70.0) -> ScanGeometry:
    """A convex transverse TRUS array: apex ``radius_mm`` behind the surface, fan of ``2 * half_angle_deg``."""
    half = np.deg2rad(half_angle_deg)
    samples, theta, rr, sample_x, sample_y = _convex_beams(depth_mm, radius_mm, half, SAMPLE_MM, LINES)
    x_extent = 2 * (radius_mm + depth_mm) * np.sin(half)
    y_top = radius_mm * np.cos(half) - radius_mm
    y_extent = depth_mm - y_top
    spacing = 1.02 * max(x_extent / width, y_extent / height)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * spacing
    ys = y_top + np.arange(height, dtype=np.float32) * spacing
    pixel_x, pixel_y = np.meshgrid(xs, ys)
    map_sample, map_line, inside = _convex_maps(pixel_x, pixel_y, samples, radius_mm, half, SAMPLE_MM, LINES)
    return ScanGeometry(
        sample_x=sample_x.astype(np.float32), sample_y=sample_y.astype(np.float32),
        sample_depth=(rr - radius_mm).astype(np.float32), pixel_x=pixel_x, pixel_y=pixel_y,
        map_sample=np.where(inside, map_sample, -1).astype(np.float32),
        map_line=np.where(inside, map_line, -1).astype(np.float32),
        inside=inside, spacing_mm=float(spacing), radius_mm=radius_mm, line_angle=theta,
    )


def linear(height: int, width: int, depth_mm: float, aperture_mm: float = 64.0) -> ScanGeometry:
    """A linear sagittal TRUS array of ``aperture_mm``; the image may be wider than the aperture."""
    samples, line_x, sample_x, sample_y = _linear_beams(depth_mm, aperture_mm, SAMPLE_MM, LINES)
    spacing = 1.02 * max(aperture_mm / width, depth_mm / height)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * spacing
    ys = np.arange(height, dtype=np.float32) * spacing
    pixel_x, pixel_y = np.meshgrid(xs, ys)
    map_sample, map_line, inside = _linear_maps(pixel_x, pixel_y, samples, aperture_mm, SAMPLE_MM, LINES)
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


def mirrored(scan: ScanGeometry) -> ScanGeometry:
    """The same probe shown mirrored left-right: every per-pixel array flipped, beam space unchanged."""
    flip = lambda a: np.ascontiguousarray(a[:, ::-1])  # noqa: E731
    return replace(scan, pixel_x=flip(scan.pixel_x), pixel_y=flip(scan.pixel_y), map_sample=flip(scan.map_sample),
                   map_line=flip(scan.map_line), inside=flip(scan.inside), mirror=not scan.mirror)


@dataclass(frozen=True)
class Probe:
    """A clinical probe setting: which array, how deep and how wide it images.

    Attributes:
        kind: ``convex`` (fan) or ``linear`` (rectangle).
        depth_mm: imaging depth from the transducer surface.
        radius_mm: radius of curvature of a convex array (its apex lies this far behind the surface).
        half_angle_deg: half the sector angle of a convex array.
        aperture_mm: length of a linear array.
        sample_mm: beam sampling step; coarser for deeper fields so the cost per frame stays flat.
        lines: scan lines.
    """

    kind: str
    depth_mm: float
    radius_mm: float = 10.0
    half_angle_deg: float = 75.0
    aperture_mm: float = 60.0
    sample_mm: float = SAMPLE_MM
    lines: int = LINES


def probe_at_bottom(height: int, width: int, probe: Probe, region: tuple, flip: bool) -> ScanGeometry:
    """The clinical display: the probe at the bottom of ``region``, anterior up, optionally mirrored.

    Args:
        height, width: frame size (pixels).
        probe: the array and its field of view.
        region: ``(top, bottom, left, right)`` pixel rows / columns (end exclusive) the field
            of view must fit in.  It is centred on the frame's middle column so that a
            left-right flip is exactly a mirror of the frame (``np.fliplr``).
        flip: mirror the display (patient's right on the other side).

    Returns:
        A :class:`ScanGeometry` over the whole frame; pixels outside the field of view have
        ``inside`` False and maps of ``-1``.  Probe-frame depth ``y`` increases *upwards*.
    """
    top, bottom, left, right = region
    if probe.kind == "convex":
        half = np.deg2rad(probe.half_angle_deg)
        samples, theta, rr, sample_x, sample_y = _convex_beams(probe.depth_mm, probe.radius_mm, half,
                                                              probe.sample_mm, probe.lines)
        reach = probe.radius_mm + probe.depth_mm
        x_extent = 2 * reach * np.sin(min(half, np.pi / 2))
        # The lowest point of the fan is where its edge leaves the transducer (behind the surface).
        y_low = probe.radius_mm * np.cos(half) - probe.radius_mm
        sample_depth = (rr - probe.radius_mm).astype(np.float32)
        line_angle, line_x, radius = theta, None, probe.radius_mm
    else:
        samples, line_x, sample_x, sample_y = _linear_beams(probe.depth_mm, probe.aperture_mm, probe.sample_mm,
                                                            probe.lines)
        x_extent, y_low = probe.aperture_mm, 0.0
        sample_depth = sample_y.astype(np.float32)
        line_angle, radius = None, 0.0
    y_extent = probe.depth_mm - y_low
    spacing = max(x_extent / (right - left), y_extent / (bottom - top))
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * np.float32(spacing)
    ys = np.float32(y_low) + (bottom - 1 - np.arange(height, dtype=np.float32)) * np.float32(spacing)
    pixel_x, pixel_y = np.meshgrid(xs, ys)
    if probe.kind == "convex":
        map_sample, map_line, inside = _convex_maps(pixel_x, pixel_y, samples, probe.radius_mm, half,
                                                    probe.sample_mm, probe.lines)
    else:
        map_sample, map_line, inside = _linear_maps(pixel_x, pixel_y, samples, probe.aperture_mm,
                                                    probe.sample_mm, probe.lines)
    scan = ScanGeometry(
        sample_x=sample_x.astype(np.float32), sample_y=sample_y.astype(np.float32), sample_depth=sample_depth,
        pixel_x=pixel_x, pixel_y=pixel_y,
        map_sample=np.where(inside, map_sample, -1).astype(np.float32),
        map_line=np.where(inside, map_line, -1).astype(np.float32),
        inside=inside, spacing_mm=float(spacing), radius_mm=radius, line_angle=line_angle, line_x=line_x,
        sample_mm=probe.sample_mm, screen=True,
    )
    return mirrored(scan) if flip else scan
