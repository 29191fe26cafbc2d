"""B-mode image formation by the convolution model, in beam space.

``envelope = | PSF * (scatterers x sqrt(echogenicity) x shadowing) + noise |``, then depth
gain (attenuation with imperfect time-gain compensation), per-frame gain, and log
compression to 8 bits.  Scatterers are a complex Gaussian field fixed in tissue (so speckle
moves with the tissue) that is partly renewed every frame (speckle decorrelation from
out-of-plane motion).  The PSF is a separable Gaussian in beam space: finer along the beam
than across it, so speckle is elongated laterally as in real B-mode, and in a fan its
lateral size grows with depth.
"""

from dataclasses import dataclass
from typing import List

import cv2
import numpy as np

from DTCSegmentationLib.simulation.anatomy import TEXTURE_EXTENT_MM

SPECKLE_STEP_MM = 0.15
PSF_SIGMA_SAMPLES = 3.0  # along the beam, in 0.1 mm samples
PSF_SIGMA_LINES = 2.4  # across beams, in scan lines


class SpeckleField:
    """Complex scatterer amplitudes on a tissue grid, partly renewed each frame."""

    POOL = 3

    def __init__(self, rng: np.random.Generator, extent=TEXTURE_EXTENT_MM):
        self.rng = rng
        self.extent = extent
        x0, x1, y0, y1 = extent
        self.shape = (int((y1 - y0) / SPECKLE_STEP_MM), int((x1 - x0) / SPECKLE_STEP_MM), 2)
        scale = np.float32(np.sqrt(0.5))
        self.field = rng.standard_normal(self.shape, dtype=np.float32) * scale
        # Drawing 10^6 fresh normals per frame would cost most of the frame budget; a few
        # independent fields, each shifted by a random offset, are as good a source of new
        # scatterers for the renewed fraction.
        self._pool = [rng.standard_normal(self.shape, dtype=np.float32) * scale for _ in range(self.POOL)]

    def renew(self, fraction: float) -> None:
        """Replace ``fraction`` of the scatterer power with fresh scatterers (AR(1) in time)."""
        if fraction <= 0:
            return
        fraction = min(fraction, 1.0)
        source = self._pool[int(self.rng.integers(self.POOL))]
        shift = (int(self.rng.integers(self.shape[0])), int(self.rng.integers(self.shape[1])))
        fresh = np.roll(source, shift, axis=(0, 1))
        cv2.addWeighted(self.field, float(np.sqrt(1.0 - fraction)), fresh, float(np.sqrt(fraction)), 0.0, dst=self.field)

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(..., 2)`` float32 (real, imaginary) scatterer amplitudes at tissue points (mm)."""
        map_x = ((x - self.extent[0]) / SPECKLE_STEP_MM).astype(np.float32)
        map_y = ((y - self.extent[2]) / SPECKLE_STEP_MM).astype(np.float32)
        return cv2.remap(self.field, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@dataclass
class Calcification:
    """A bright point reflector that casts an acoustic shadow while it exists."""

    x: float
    y: float
    radius_mm: float
    first_frame: int
    last_frame: int


def shadow_map(depth: np.ndarray, casters: List[tuple]) -> np.ndarray:
    """``(S, L)`` float32 transmission: 1 where the beam is clear, low behind calcifications.

    Args:
        depth: ``(S, L)`` depth along each beam (mm).
        casters: ``(depth_mm, offsets_mm, radius_mm)`` per visible calcification, where
            ``offsets_mm`` ``(L,)`` is each beam's lateral distance from it at its depth.
    """
    transmission = np.ones(depth.shape, np.float32)
    for calc_depth, offsets, radius in casters:
        across = np.exp(-((offsets / (1.2 * radius)) ** 4)).astype(np.float32)[None, :]
        behind = np.clip(depth - calc_depth, 0, 1)
        transmission *= 1.0 - 0.85 * across * behind
    return transmission


def psf_blur(amplitudes: np.ndarray, sigma_lines: float = PSF_SIGMA_LINES,
             sigma_samples: float = PSF_SIGMA_SAMPLES) -> np.ndarray:
    """Convolve ``(S, L, 2)`` complex amplitudes with the separable Gaussian PSF (sigmas in lines / samples)."""
    return cv2.GaussianBlur(amplitudes, (0, 0), sigmaX=sigma_lines, sigmaY=sigma_samples)


def psf_gain(sigma_lines: float = PSF_SIGMA_LINES, sigma_samples: float = PSF_SIGMA_SAMPLES) -> float:
    """Envelope RMS produced by unit-variance scatterers through :func:`psf_blur` (for normalisation)."""
    size = 2 * int(np.ceil(4 * max(sigma_lines, sigma_samples, 5.0))) + 1
    impulse = np.zeros((size, size, 2), np.float32)
    impulse[size // 2, size // 2, 0] = 1.0
    kernel = psf_blur(impulse, sigma_lines, sigma_samples)[..., 0]
    return float(np.sqrt(np.sum(kernel**2)))


def depth_gain_db(depth: np.ndarray, max_depth: float, tgc_error_db: float) -> np.ndarray:
    """Residual gain (dB) over depth after time-gain compensation: a bright near field and a slope."""
    near_field = 4.0 * np.exp(-depth / 2.5)
    return (near_field + tgc_error_db * (depth / max_depth - 0.5)).astype(np.float32)


def log_compress(envelope: np.ndarray, gain_db: np.ndarray, dynamic_range_db: float) -> np.ndarray:
    """Envelope (1 = average tissue) to display values in [0, 255] (float32).

    Average tissue sits at about half of full brightness, as on a well-set scanner.
    """
    decibels = 20.0 * np.log10(np.maximum(envelope, 1e-6)) + gain_db
    return np.clip((decibels + 0.5 * dynamic_range_db) / dynamic_range_db * 255.0, 0, 255).astype(np.float32)


# ---------------------------------------------------------------- clinical machine effects
def tgc_gain_db(depth: np.ndarray, max_depth: float, sliders_db: np.ndarray) -> np.ndarray:
    """Gain (dB) of the operator's TGC sliders, equally spaced over ``max_depth``, interpolated in depth."""
    positions = np.linspace(0.0, max_depth, len(sliders_db))
    return np.interp(depth, positions, sliders_db).astype(np.float32)


def probe_echoes(depth: np.ndarray, spacing_mm: float, strength: float, decay: float, count: int = 5) -> np.ndarray:
    """``depth.shape`` float32 echogenicity gain from the transducer surface and its reverberations.

    The sound bounces between the transducer face and the rectal wall, so the interface shows
    again at multiples of the round trip (``spacing_mm``), each weaker by ``decay``.
    """
    echoes = np.zeros(depth.shape, np.float32)
    for k in range(count):
        width = 0.35 + 0.12 * k  # later echoes are smeared over a wider depth
        echoes += strength * decay**k * np.exp(-(((depth - k * spacing_mm) / width) ** 2)).astype(np.float32)
    return echoes


def display_map(image: np.ndarray, gamma: float, black: float) -> np.ndarray:
    """Scanner grey map: ``(H, W)`` uint8 through a power curve with a raised black level (uint8 out)."""
    lut = np.arange(256, dtype=np.float32) / 255.0
    lut = black + (255.0 - black) * lut**gamma
    lut[0] = 0.0  # outside the field of view stays black
    return cv2.LUT(image, np.clip(np.rint(lut), 0, 255).astype(np.uint8))


def degrade(image: np.ndarray, resolution: float, blur_px: float) -> np.ndarray:
    """Video-path loss of detail on a ``(H, W)`` uint8 frame: resampled at ``resolution`` (<= 1) and blurred."""
    height, width = image.shape
    if resolution < 0.999:
        small = cv2.resize(image, (max(8, int(round(width * resolution))), max(8, int(round(height * resolution)))),
                           interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if blur_px > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), blur_px)
    return image


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``(H, W)`` uint8 frame after a JPEG round trip at ``quality`` (1-100), as in exported or streamed video."""
    encoded, data = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not encoded:
        raise RuntimeError("OpenCV could not JPEG-encode a simulated frame")
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
