"""What differs between scanners and operators, drawn once per clinical recording.

Real TRUS data come from many machines, presets and hands: the same gland looks brighter
or darker, softer or grainier, wider or narrower, mirrored, compressed.  A model trained
on one fixed look learns the look; :func:`draw_machine` randomises it instead.  The ranges
are those of ordinary clinical settings (5-12 MHz endocavity probes, 48-78 mm depth,
120-170 degree transverse fans, 50-64 mm linear arrays, about 45-70 dB dynamic range),
not extremes.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from DTCSegmentationLib.simulation.config import Difficulty, SimulationConfig
from DTCSegmentationLib.simulation.image_formation import PSF_SIGMA_LINES, PSF_SIGMA_SAMPLES
from DTCSegmentationLib.simulation.scanner import LINES, SAMPLE_MM, Probe

SAMPLES_PER_BEAM = 460  # beam samples kept about constant: deeper fields get a coarser step, not more work


@dataclass(frozen=True)
class Machine:
    """One recording's scanner, preset and operator settings.

    Attributes:
        probe: array kind and field of view.
        flip: the display is mirrored left-right.
        frequency_mhz: centre frequency: sets speckle size and attenuation.
        gain_db: overall gain.
        dynamic_range_db: log-compression range.
        tgc_db: ``(8,)`` time-gain-compensation slider settings (dB), shallow to deep.
        tgc_error_db: residual attenuation slope after TGC over the whole depth (dB, negative = darker far field).
        focus_mm: transmit focus depth (slightly brighter band; shown by the focus marker).
        psf_lines, psf_samples: PSF sigma across beams (scan lines) and along them (samples).
        gamma, black: grey map: power curve and black level (0-255).
        resolution: the video path's resampling factor (1 = none, 0.5 = half the pixels).
        blur_px: Gaussian blur of the displayed image (pixels).
        jpeg_quality: JPEG quality of exported / streamed frames, or None for none.
        reverb_mm, reverb_strength, reverb_decay: the transducer ring and its reverberations
            (round-trip spacing, first-echo strength, decay per bounce).
    """

    probe: Probe
    flip: bool
    frequency_mhz: float
    gain_db: float
    dynamic_range_db: float
    tgc_db: Tuple[float, ...]
    tgc_error_db: float
    focus_mm: float
    psf_lines: float
    psf_samples: float
    gamma: float
    black: float
    resolution: float
    blur_px: float
    jpeg_quality: Optional[int]
    reverb_mm: float
    reverb_strength: float
    reverb_decay: float


def draw_probe(rng: np.random.Generator, view: str, depth_mm: Optional[float]) -> Probe:
    """A clinical probe for ``view``: a wide convex fan (axial) or a linear array, sometimes convex (sagittal)."""
    if view == "axial":
        depth = depth_mm if depth_mm is not None else rng.uniform(48.0, 72.0)
        kind, radius, half_angle, aperture = "convex", rng.uniform(8.0, 12.0), rng.uniform(62.0, 85.0), 60.0
    else:
        convex = rng.random() < 0.35  # end-fire or convex sagittal arrays show a narrower fan
        kind = "convex" if convex else "linear"
        depth = rng.uniform(55.0, 70.0) if convex else rng.uniform(60.0, 78.0)
        depth = depth_mm if depth_mm is not None else depth
        radius, half_angle, aperture = rng.uniform(6.0, 10.0), rng.uniform(40.0, 55.0), rng.uniform(50.0, 64.0)
    sample_mm = max(SAMPLE_MM, float(depth) / SAMPLES_PER_BEAM)
    # Wide fans need more lines, or the far field is sampled far more coarsely than the display.
    lines = 320 if kind == "convex" and half_angle > 70.0 else LINES
    return Probe(kind=kind, depth_mm=float(depth), radius_mm=float(radius), half_angle_deg=float(half_angle),
                 aperture_mm=float(aperture), sample_mm=sample_mm, lines=lines)


def draw_machine(rng: np.random.Generator, config: SimulationConfig, settings: Difficulty) -> Machine:
    """The scanner, preset and operator of one clinical recording (deterministic in ``rng``)."""
    probe = draw_probe(rng, config.view, config.depth_mm)
    flip = bool(rng.random() < 0.5)
    if config.flip is not None:
        flip = bool(config.flip)
    frequency = rng.uniform(5.0, 12.0)
    # Speckle scales with wavelength (1/f); the beam-to-beam spread with the operator's line density.
    grain = 9.0 / frequency
    psf_samples = PSF_SIGMA_SAMPLES * SAMPLE_MM / probe.sample_mm * grain * rng.uniform(0.85, 1.2)
    psf_lines = PSF_SIGMA_LINES * (0.7 + 0.3 * grain) * rng.uniform(0.8, 1.15)
    # Attenuation ~0.5 dB/cm/MHz one way; TGC takes most of it back, not all.
    tgc_error = -rng.uniform(0.0, 0.25) * frequency * probe.depth_mm / 10.0 + rng.uniform(-1.0, 2.0)
    resolution = 1.0 if rng.random() < 0.5 else rng.uniform(0.45, 0.9)
    jpeg_quality = int(rng.integers(30, 93)) if rng.random() < 0.75 else None
    return Machine(
        probe=probe, flip=flip, frequency_mhz=float(frequency),
        gain_db=float(rng.uniform(-5.0, 5.0)),
        dynamic_range_db=float(settings.dynamic_range_db + rng.uniform(-10.0, 15.0)),
        tgc_db=tuple(float(v) for v in rng.normal(0.0, 2.0, 8)),
        tgc_error_db=float(tgc_error),
        focus_mm=float(rng.uniform(0.3, 0.6) * probe.depth_mm),
        psf_lines=float(psf_lines), psf_samples=float(psf_samples),
        gamma=float(rng.uniform(0.75, 1.35)), black=float(rng.uniform(0.0, 16.0)),
        resolution=float(resolution), blur_px=float(rng.uniform(0.0, 1.0)), jpeg_quality=jpeg_quality,
        reverb_mm=float(rng.uniform(1.3, 2.6)), reverb_strength=float(rng.uniform(1.0, 3.0)),
        reverb_decay=float(rng.uniform(0.3, 0.55)),
    )
