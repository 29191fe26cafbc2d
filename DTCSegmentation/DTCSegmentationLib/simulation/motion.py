"""Smooth probe motion over time, and the mapping from probe frame to tissue frame.

Hand-held TRUS moves slowly and smoothly: each degree of freedom is a sum of a few
sinusoids with random low frequencies (0.05-0.5 Hz) and phases.  The probe also presses
on the tissue next to it, compressing it along the beam; the elevational sweep moves the
imaging plane through the gland.
"""

from dataclasses import dataclass

import numpy as np

from DTCSegmentationLib.simulation.config import Difficulty

COMPRESSION_LENGTH_MM = 8.0  # how far from the probe the pressure deformation reaches


@dataclass(frozen=True)
class ProbePose:
    """Where the probe is at one instant (relative to its mean position).

    Attributes:
        dx, dy: translation of the probe in the imaging plane, mm.
        angle: rotation of the probe in the imaging plane, radians.
        pressure: relative compression of tissue next to the probe (0 = none).
        sweep: elevational position of the imaging plane as a fraction of the gland's half-size
            across the plane (0 = through the gland's centre).
    """

    dx: float
    dy: float
    angle: float
    pressure: float
    sweep: float


class _SmoothSignal:
    """Zero-mean sum of three sinusoids of random frequency and phase, peak roughly ``amplitude``."""

    def __init__(self, rng: np.random.Generator, amplitude: float, low_hz: float = 0.05, high_hz: float = 0.5):
        self.frequencies = rng.uniform(low_hz, high_hz, 3)
        self.phases = rng.uniform(0, 2 * np.pi, 3)
        weights = rng.uniform(0.5, 1.0, 3)
        self.weights = amplitude * weights / weights.sum()

    def __call__(self, time_s: float) -> float:
        return float(np.sum(self.weights * np.sin(2 * np.pi * self.frequencies * time_s + self.phases)))


class ProbeMotion:
    """The probe's trajectory over a recording."""

    def __init__(self, rng: np.random.Generator, settings: Difficulty):
        self._dx = _SmoothSignal(rng, settings.motion_mm)
        self._dy = _SmoothSignal(rng, 0.5 * settings.motion_mm)
        self._angle = _SmoothSignal(rng, np.deg2rad(settings.rotation_deg))
        self._pressure = _SmoothSignal(rng, 0.5 * settings.pressure, 0.1, 0.6)
        self._pressure_mean = 0.5 * settings.pressure
        # One slow sweep across the gland: a period of 4-8 s, starting anywhere in it.
        self._sweep_frequency = rng.uniform(1 / 8.0, 1 / 4.0)
        self._sweep_phase = rng.uniform(0, 2 * np.pi)
        self._sweep_amplitude = settings.sweep

    def pose(self, time_s: float) -> ProbePose:
        sweep = self._sweep_amplitude * np.sin(2 * np.pi * self._sweep_frequency * time_s + self._sweep_phase)
        return ProbePose(
            dx=self._dx(time_s), dy=self._dy(time_s), angle=self._angle(time_s),
            pressure=max(0.0, self._pressure_mean + self._pressure(time_s)), sweep=float(sweep),
        )


def probe_to_tissue(x: np.ndarray, y: np.ndarray, pose: ProbePose):
    """Tissue-frame coordinates (mm) of probe-frame points ``(x, y)`` (mm, any equal shapes).

    Pressure pushes tissue near the probe deeper: a point at probe depth ``y`` shows tissue
    from depth ``y * (1 + p * exp(-y / L))``, which is monotonic and leaves far tissue in
    place.  The probe pose (rotation about the transducer centre, then translation) follows.
    """
    depth = np.maximum(y, 0.0)
    y_tissue = y + pose.pressure * depth * np.exp(-depth / COMPRESSION_LENGTH_MM)
    cos_a, sin_a = np.cos(pose.angle), np.sin(pose.angle)
    tissue_x = cos_a * x - sin_a * y_tissue + pose.dx
    tissue_y = sin_a * x + cos_a * y_tissue + pose.dy
    return tissue_x.astype(np.float32, copy=False), tissue_y.astype(np.float32, copy=False)


def tissue_to_probe(tx: float, ty: float, pose: ProbePose):
    """Inverse of :func:`probe_to_tissue` for one point (solved by fixed-point iteration)."""
    cos_a, sin_a = np.cos(pose.angle), np.sin(pose.angle)
    ux, uy = tx - pose.dx, ty - pose.dy
    x, y_tissue = cos_a * ux + sin_a * uy, -sin_a * ux + cos_a * uy
    y = y_tissue
    for _ in range(20):
        depth = max(y, 0.0)
        y = y_tissue - pose.pressure * depth * np.exp(-depth / COMPRESSION_LENGTH_MM)
    return float(x), float(y)
