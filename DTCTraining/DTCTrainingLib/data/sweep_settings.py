"""How the virtual probe sweeps a volume: the settings of ``dtc dataset from-volumes``, checked on creation.

Apart from :mod:`DTCTrainingLib.data.volume_sweeps` (which needs SimpleITK) so that ``dtc --help``
can list the options without loading the imaging libraries.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

from DTCSegmentationLib.errors import DTCError

KINDS = ("rotational", "axial")


class VolumeImportError(DTCError):
    """A volume, label map or import setting that cannot be turned into sweeps."""


@dataclass(frozen=True)
class SweepSettings:
    """How the virtual probe sweeps one volume (see the module docstring for the geometry).

    Attributes:
        kind: ``"rotational"`` or ``"axial"``.
        frames: number of frames T.
        height, width: frame size H x W in pixels.
        pixel_mm: pixel size (isotropic) in mm.
        frame_rate: frames per second (frame times ``t / frame_rate`` s).
        probe_axis, probe_side: directions (letters ``LRPASI`` or ``+i`` ... ``-k``).
        probe_at: ``"bottom"`` or ``"top"``: where the transducer is drawn.
        standoff_mm: gap between the gland's most posterior voxel and the transducer.
        probe_radius_mm: distance from the probe axis to the transducer surface.
        margin: fraction of the frames on each side of the gland that miss it (auto range).
        sweep_range: ``(start, end)`` in degrees (rotational) or mm along the probe axis
            from the gland centroid (axial); None: the gland's extent plus ``margin``.
        tilt_deg: axial sweeps: change of the plane's tilt about ``lateral`` over the sweep.
        tremor_mm, tremor_deg: amplitude of hand tremor: in-plane and along-sweep
            translation (mm), out-of-plane tilt / angle (degrees).
        rotation_deg: amplitude of in-plane rotation about the transducer (degrees).
        pressure: amplitude of the relative scale change from probe pressure (0.03 = 3 %).
    """

    kind: str = "rotational"
    frames: int = 40
    height: int = 128
    width: int = 160
    pixel_mm: float = 1.0
    frame_rate: float = 20.0
    probe_axis: str = "S"
    probe_side: str = "P"
    probe_at: str = "bottom"
    standoff_mm: float = 3.0
    probe_radius_mm: float = 10.0
    margin: float = 0.15
    sweep_range: Optional[Tuple[float, float]] = None
    tilt_deg: float = 10.0
    tremor_mm: float = 0.5
    tremor_deg: float = 1.0
    rotation_deg: float = 3.0
    pressure: float = 0.03

    def __post_init__(self):
        def bad(what, fix):
            raise VolumeImportError(f"sweep setting {what}.", fix=fix)

        if self.kind not in KINDS:
            bad(f"kind {self.kind!r} is unknown", f"Use one of {', '.join(KINDS)}.")
        if self.frames < 2:
            bad(f"frames={self.frames} is too few", "Ask for at least 2 frames.")
        if self.height < 16 or self.width < 16:
            bad(f"size {self.height}x{self.width} is too small", "Use frames of at least 16x16 pixels.")
        for name in ("pixel_mm", "frame_rate"):
            if not getattr(self, name) > 0:
                bad(f"{name}={getattr(self, name)} is not positive", f"Give a positive {name}.")
        if self.probe_at not in ("bottom", "top"):
            bad(f"probe_at={self.probe_at!r} is unknown", "Use bottom or top.")
        if not 0 <= self.margin < 0.5:
            bad(f"margin={self.margin} is outside [0, 0.5)", "Use e.g. 0.15 (15 % of the frames on each side).")
        for name in ("standoff_mm", "probe_radius_mm", "tremor_mm", "tremor_deg", "rotation_deg", "pressure"):
            if getattr(self, name) < 0:
                bad(f"{name}={getattr(self, name)} is negative", f"Give {name} >= 0.")
        if self.pressure >= 0.5:
            bad(f"pressure={self.pressure} is not a small scale change", "Use e.g. 0.03 (3 %).")
        if self.sweep_range is not None and (len(self.sweep_range) != 2 or self.sweep_range[0] == self.sweep_range[1]):
            bad(f"sweep_range={self.sweep_range} is not a (start, end) pair", "Give two different values.")
