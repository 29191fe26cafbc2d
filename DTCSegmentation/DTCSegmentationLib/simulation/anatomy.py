"""Pelvic anatomy around the prostate as smooth implicit functions of tissue position.

Everything is a function of in-plane tissue coordinates ``(x, y)`` in mm (``y`` = depth
from the mean probe position) and of the elevational sweep position, so the image and
the ground-truth mask come from the *same* shape: the mask is exact by construction.

The gland is a 3D ellipsoid with an irregular, walnut-like outline (an ellipse modulated
by a few low-order Fourier terms, flattened and indented on the rectal side); the imaging
plane cuts it at the sweep position, so the cross-section grows, shrinks and can vanish.
"""

from typing import List, Tuple

import cv2
import numpy as np

from DTCSegmentationLib.simulation.config import Difficulty

TEXTURE_EXTENT_MM = (-80.0, 80.0, -15.0, 70.0)  # x0, x1, y0, y1 of the tissue texture grid
TEXTURE_STEP_MM = 0.5


def smooth_noise(rng: np.random.Generator, shape: Tuple[int, int], sigma_px: float) -> np.ndarray:
    """``shape`` float32 Gaussian-smoothed noise with zero mean and unit standard deviation."""
    field = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), sigma_px)
    return (field - field.mean()) / (field.std() + 1e-6)


class Anatomy:
    """One patient's gland and surroundings for one view (random but fixed for a recording)."""

    def __init__(self, rng: np.random.Generator, view: str, settings: Difficulty):
        self.view = view
        self.settings = settings
        # Gland size (half-axes, mm): lateral, antero-posterior, cranio-caudal.
        lateral, ap, length = rng.uniform(17, 23), rng.uniform(11, 15), rng.uniform(17, 24)
        if view == "axial":
            self.half_u, self.half_v, self.half_out = lateral, ap, length
        else:
            self.half_u, self.half_v, self.half_out = length, ap, lateral
        self.centre = np.array([rng.uniform(-3, 3), rng.uniform(19, 23)], np.float32)
        self.harmonics = [(k, rng.uniform(0.015, 0.05), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4, 5)]
        self.indent_depth = rng.uniform(0.08, 0.16)  # the rectal side of the gland is flattened
        self.drift = rng.uniform(-2, 2, 2)  # the gland centre moves a little across the sweep
        self.urethra_offset = np.array([rng.uniform(-1.5, 1.5), rng.uniform(0.15, 0.35)], np.float32)
        shape = (int((TEXTURE_EXTENT_MM[3] - TEXTURE_EXTENT_MM[2]) / TEXTURE_STEP_MM),
                 int((TEXTURE_EXTENT_MM[1] - TEXTURE_EXTENT_MM[0]) / TEXTURE_STEP_MM))
        # Coarse tissue texture (fat lobules, fibres) fixed in tissue: it moves with the tissue.
        self.texture = smooth_noise(rng, shape, 3.0)
        self.fine_texture = smooth_noise(rng, shape, 1.2)
        self.nodules: List[Tuple[float, float, float]] = [
            (rng.uniform(-0.5, 0.5), rng.uniform(-0.4, 0.5), rng.uniform(0.12, 0.22)) for _ in range(rng.integers(0, 3))
        ]
        # Sagittal only: bladder anterior-superior (towards the bladder neck), seminal vesicles posterior-superior.
        self.bladder = (self.half_u + rng.uniform(6, 14), self.centre[1] + rng.uniform(10, 16),
                        rng.uniform(16, 22), rng.uniform(10, 14))
        self.vesicle = (self.half_u * 0.9, self.centre[1] - self.half_v * 0.8, rng.uniform(6, 9), rng.uniform(2.5, 4))

    # ------------------------------------------------------------------ gland shape
    def section(self, sweep: float):
        """Scale of the gland outline and its centre for a plane at ``sweep`` (fraction of the half-size)."""
        scale = float(np.sqrt(max(0.0, 1.0 - sweep**2)))
        centre = self.centre + np.float32(sweep) * self.drift.astype(np.float32)
        return scale, centre

    def radius_ratio(self, x: np.ndarray, y: np.ndarray, sweep: float) -> np.ndarray:
        """``rho = |p - c| / R(phi)`` for the section at ``sweep``: < 1 inside the gland, 1 on its outline.

        Infinite everywhere when the plane misses the gland.
        """
        scale, centre = self.section(sweep)
        if scale < 1e-3:
            return np.full(np.shape(x), np.inf, np.float32)
        u, v = x - centre[0], y - centre[1]
        phi = np.arctan2(v, u)
        cos_p, sin_p = np.cos(phi), np.sin(phi)
        a, b = self.half_u, self.half_v
        if self.view == "sagittal":
            b = b * (1.0 + 0.18 * np.clip(u / self.half_u, -1, 1))  # wider towards the base (bladder side)
        radius = a * b / np.sqrt((b * cos_p) ** 2 + (a * sin_p) ** 2)
        outline = 1.0 + sum(amp * np.cos(k * phi + phase) for k, amp, phase in self.harmonics)
        # Rectal (posterior, towards the probe: phi = -pi/2) side flattened and slightly indented.
        outline = outline * (1.0 - self.indent_depth * np.exp(-(((phi + np.pi / 2) / 0.55) ** 2)))
        return (np.hypot(u, v) / (scale * radius * outline)).astype(np.float32)

    def gland_mask(self, x: np.ndarray, y: np.ndarray, sweep: float) -> np.ndarray:
        """``(...)`` bool: tissue points inside the gland section."""
        return self.radius_ratio(x, y, sweep) < 1.0

    # ------------------------------------------------------------------ echogenicity
    def _sample_texture(self, texture: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        map_x = (x - TEXTURE_EXTENT_MM[0]) / TEXTURE_STEP_MM
        map_y = (y - TEXTURE_EXTENT_MM[2]) / TEXTURE_STEP_MM
        return cv2.remap(texture, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)

    def echogenicity(self, x: np.ndarray, y: np.ndarray, probe_depth: np.ndarray, sweep: float) -> np.ndarray:
        """Backscatter amplitude ``(...)`` float32 at tissue points (1 = average soft tissue; 0.5 = -6 dB).

        Args:
            x, y: tissue coordinates (mm).
            probe_depth: distance of each point from the transducer surface (mm); the rectal
                wall is in contact with the probe, so it follows the probe, not the tissue.
            sweep: elevational plane position.
        """
        s = self.settings
        texture = self._sample_texture(self.texture, x, y)
        fine = self._sample_texture(self.fine_texture, x, y)
        echo = 1.0 + 0.25 * texture + 0.12 * fine  # pelvic soft tissue
        rho = self.radius_ratio(x, y, sweep)
        scale, centre = self.section(sweep)
        size = max(scale * min(self.half_u, self.half_v), 1e-3)
        # Periprostatic fat: a bright, lobulated band a few mm wide around the capsule.
        fat = np.clip(1.0 - np.abs(rho - 1.0 - 3.0 / size) / (3.0 / size), 0, 1)
        echo = echo + fat * (0.8 + 0.4 * texture)
        inside = rho < 1.0
        gland = s.gland_echo * (1.0 + 0.12 * fine + 0.08 * texture)
        # Transition zone (inner gland) a little darker and more heterogeneous than the peripheral zone.
        gland = gland * (1.0 - 0.12 * np.clip(1.0 - rho / 0.65, 0, 1))
        for nu, nv, nr in self.nodules:
            d = np.hypot((x - centre[0]) / (self.half_u * scale + 1e-3) - nu, (y - centre[1]) / (self.half_v * scale + 1e-3) - nv)
            gland = gland * (1.0 - 0.35 * np.clip(1.0 - d / nr, 0, 1))
        echo = np.where(inside, gland, echo)
        capsule_width = 1.1 / size
        capsule = np.clip(1.0 - np.abs(rho - 1.0) / capsule_width, 0, 1)
        echo = echo * (1.0 - capsule) + s.capsule_echo * (1.0 + 0.2 * fine) * capsule
        # Urethra: small hypoechoic lumen with a bright wall, anterior of centre.
        if scale > 0:
            ux = centre[0] + self.urethra_offset[0] * scale
            uy = centre[1] + self.urethra_offset[1] * self.half_v * scale
            if self.view == "axial":
                d = np.hypot(x - ux, y - uy)
                lumen = np.clip(1.0 - d / 2.2, 0, 1) ** 0.5
                wall = np.clip(1.0 - np.abs(d - 2.6) / 0.6, 0, 1)
            else:  # along the gland in the sagittal plane, towards the bladder neck
                d = np.abs((y - uy) - 0.25 * (x - ux))
                lumen = np.clip(1.0 - d / 1.2, 0, 1) * (rho < 1.05)
                wall = np.clip(1.0 - np.abs(d - 1.6) / 0.5, 0, 1) * (rho < 1.0)
            echo = echo * (1.0 - 0.8 * lumen) + 0.5 * wall
        if self.view == "sagittal":
            echo = self._sagittal_structures(x, y, echo, texture, rho)
        # Rectal wall against the probe: mucosa (bright), muscularis (dark), serosa (bright).
        layers = (1.6 * np.exp(-((probe_depth - 0.6) / 0.5) ** 2) - 0.45 * np.exp(-((probe_depth - 1.9) / 0.6) ** 2)
                  + 1.1 * np.exp(-((probe_depth - 3.2) / 0.6) ** 2))
        echo = echo * (1.0 + layers)
        return np.maximum(echo, 0.01).astype(np.float32)

    def _sagittal_structures(self, x, y, echo, texture, rho):
        bx, by, brx, bry = self.bladder
        d = np.hypot((x - bx) / brx, (y - by) / bry)
        # The gland indents the bladder base: the bladder never covers gland tissue or its capsule.
        outside_gland = np.clip((rho - 1.05) / 0.1, 0, 1)
        lumen = np.clip((1.0 - d) / 0.08, 0, 1) * outside_gland
        wall = np.clip(1.0 - np.abs(d - 1.04) / 0.06, 0, 1) * outside_gland
        echo = echo * (1.0 - 0.995 * lumen) + 0.9 * wall
        vx, vy, vrx, vry = self.vesicle
        d = np.hypot((x - vx) / vrx, (y - vy) / vry)
        vesicle = np.clip((1.0 - d) / 0.3, 0, 1)
        return echo * (1.0 - 0.5 * vesicle * (1.0 + 0.3 * texture))
