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

    EXTENT = TEXTURE_EXTENT_MM  # tissue covered by the texture grids (x0, x1, y0, y1), mm
    CALCIFICATION_RADIUS_MM = (0.6, 1.3)

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
        shape = (int((self.EXTENT[3] - self.EXTENT[2]) / TEXTURE_STEP_MM),
                 int((self.EXTENT[1] - self.EXTENT[0]) / TEXTURE_STEP_MM))
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

    def calcification_site(self, rng: np.random.Generator) -> Tuple[float, float]:
        """Tissue position (mm) of a new calcification: anywhere in the inner gland."""
        angle, radius = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0.0, 0.55))
        return (float(self.centre[0] + radius * self.half_u * np.cos(angle)),
                float(self.centre[1] + radius * self.half_v * np.sin(angle)))

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
        return (self._length(u, v) / (scale * radius * outline)).astype(np.float32)

    @staticmethod
    def _length(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.hypot(u, v)

    def gland_mask(self, x: np.ndarray, y: np.ndarray, sweep: float) -> np.ndarray:
        """``(...)`` bool: tissue points inside the gland section."""
        return self.radius_ratio(x, y, sweep) < 1.0

    # ------------------------------------------------------------------ echogenicity
    def _sample_texture(self, texture: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        map_x = (x - self.EXTENT[0]) / TEXTURE_STEP_MM
        map_y = (y - self.EXTENT[2]) / TEXTURE_STEP_MM
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

    def _bladder(self, x, y, rho):
        """Bladder lumen (0..1) and wall (0..1) at tissue points."""
        bx, by, brx, bry = self.bladder
        d = self._length((x - bx) / brx, (y - by) / bry)
        # The gland indents the bladder base: the bladder never covers gland tissue or its capsule.
        outside_gland = np.clip((rho - 1.05) / 0.1, 0, 1)
        lumen = np.clip((1.0 - d) / 0.08, 0, 1) * outside_gland
        wall = np.clip(1.0 - np.abs(d - 1.04) / 0.06, 0, 1) * outside_gland
        return lumen, wall

    def _sagittal_structures(self, x, y, echo, texture, rho):
        lumen, wall = self._bladder(x, y, rho)
        echo = echo * (1.0 - 0.995 * lumen) + 0.9 * wall
        vx, vy, vrx, vry = self.vesicle
        d = np.hypot((x - vx) / vrx, (y - vy) / vry)
        vesicle = np.clip((1.0 - d) / 0.3, 0, 1)
        return echo * (1.0 - 0.5 * vesicle * (1.0 + 0.3 * texture))


class ClinicalAnatomy(Anatomy):
    """The anatomy as a clinical TRUS screen shows it (``style="clinical"``).

    Compared with :class:`Anatomy`: the gland sits just above the rectal wall (its posterior
    edge 3-7 mm from the probe) and is somewhat shorter cranio-caudally, and the echotexture
    has zones: a brighter, fine-grained peripheral zone (posterior and lateral), a
    heterogeneous transition zone with nodules (anterior-central, BPH), a dark anterior
    fibromuscular stroma, the urethra; around the gland a lobulated bright fat layer,
    neurovascular bundles, the levator ani (dark bands), a layered rectal wall and, in some
    patients, the pubic bone with its shadow.  The gland outline (hence the mask) is the same
    function as in :class:`Anatomy`.
    """

    EXTENT = (-95.0, 95.0, -15.0, 90.0)  # deeper and wider fields than the classic view
    # Shadows that show are cast by calcifications (or clusters) wider than the beam (~2 mm).
    CALCIFICATION_RADIUS_MM = (1.0, 2.2)

    def __init__(self, rng: np.random.Generator, view: str, settings: Difficulty):
        super().__init__(rng, view, settings)
        if view == "sagittal":
            self.half_u *= rng.uniform(0.8, 0.92)  # prostate length 30-42 mm rather than 34-48 mm
        else:
            self.half_out *= rng.uniform(0.8, 0.92)
        # Rectal wall (2-4 mm) and a little fat between the probe and the gland's flattened back.
        self.centre[1] = np.float32(self.half_v * (1.0 - 0.6 * self.indent_depth) + rng.uniform(4.5, 7.5))
        # The bladder (more or less full) above the base, its neck meeting the gland.
        brx, bry = self.bladder[2] * rng.uniform(0.55, 0.9), self.bladder[3] * rng.uniform(0.6, 0.9)
        self.bladder = (float(self.centre[0]) + 0.7 * self.half_u + 0.6 * brx,
                        float(self.centre[1]) + 0.45 * self.half_v + 0.6 * bry, brx, bry)
        # Seminal vesicles: beyond the base, between the bladder and the rectum.
        self.vesicle = (self.half_u + 0.6 * self.vesicle[2], self.centre[1] - 0.25 * self.half_v, self.vesicle[2],
                        self.vesicle[3])
        self.tissue_level = rng.uniform(0.85, 1.1)
        self.fat_level = rng.uniform(0.8, 1.6)
        self.fat_mm = rng.uniform(2.0, 5.0)
        # Transition zone: an ellipse in gland-normalised coordinates, larger in older men (BPH).
        self.tz = (rng.uniform(-0.08, 0.08), rng.uniform(0.12, 0.3), rng.uniform(0.5, 0.78), rng.uniform(0.45, 0.7))
        self.pz_gain = rng.uniform(1.5, 2.1)
        self.tz_gain = rng.uniform(0.8, 1.1)
        self.bph_nodules = [(rng.uniform(-0.55, 0.55), rng.uniform(-0.3, 0.6), rng.uniform(0.1, 0.22),
                             float(rng.choice([0.55, 0.7, 1.35]))) for _ in range(int(rng.integers(1, 6)))]
        self.wall_scale = rng.uniform(0.8, 1.4)
        self.background = self._background(rng)
        self._layers_cache = (None, None)

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        """Everything outside the gland that is fixed in tissue, on the texture grid (float32).

        Precomputed once, so a frame samples one map instead of evaluating it at every beam sample.
        """
        shape = self.texture.shape
        broad = smooth_noise(rng, shape, 12.0)  # regional echo changes (fat lobules vs muscle), ~6 mm
        gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32) * np.float32(TEXTURE_STEP_MM)
        x, y = gx + np.float32(self.EXTENT[0]), gy + np.float32(self.EXTENT[2])
        cx, cy = float(self.centre[0]), float(self.centre[1])
        echo = self.tissue_level * (1.0 + 0.3 * broad + 0.22 * self.texture + 0.1 * self.fine_texture)
        gap, width, level = rng.uniform(7.0, 13.0), rng.uniform(2.5, 4.5), rng.uniform(0.35, 0.6)
        pubis = rng.random() < 0.5
        y0, curve, half_width = cy + self.half_v + rng.uniform(18, 30), rng.uniform(0.006, 0.015), rng.uniform(14, 24)
        if self.view == "axial":
            # Levator ani: a dark, fibrous sling lateral to the gland and around the rectum
            # (anchored to the pelvis, so it stays when the plane leaves the gland).
            d = self._length((x - cx) / (self.half_u + gap), (y - cy + 0.4 * self.half_v) / (self.half_v + gap + 4.0))
            band = np.clip(1.0 - np.abs(d - 1.0) * (self.half_u + gap) / width, 0, 1) * (y < cy + 0.6 * self.half_v)
            echo = echo * (1.0 - (1.0 - level) * band * (1.0 + 0.3 * self.fine_texture))
            if pubis:
                # Pubic symphysis in some patients: a bright arc convex towards the probe, far
                # anterior, and its shadow beyond.
                arc = y0 + curve * (x - cx) ** 2
                lateral = np.clip((half_width - np.abs(x - cx)) / 3.0, 0, 1)
                bone = np.exp(-(((y - arc) / 0.9) ** 2)) * lateral
                echo = echo * (1.0 - 0.88 * lateral * np.clip((y - arc) / 1.5, 0, 1)) + 3.0 * bone
        return echo.astype(np.float32)

    @staticmethod
    def _length(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        # np.hypot is more than ten times slower than this on float32 arrays, and the extra
        # care it takes with overflow is not needed at tissue scales (mm).
        u, v = np.asarray(u, np.float32), np.asarray(v, np.float32)
        return np.sqrt(u * u + v * v)

    def _near_gland(self, x: np.ndarray, y: np.ndarray, sweep: float, margin_mm: float):
        """Bounding box ``(rows, columns)`` slices of the points within ``margin_mm`` of the gland
        section, or None; the gland and what hugs it are evaluated there only."""
        scale, centre = self.section(sweep)
        if scale < 1e-3:
            return None
        # The outline reaches at most ~1.42 half-axes (sagittal base widening and harmonics).
        reach = scale * max(self.half_u, self.half_v) * 1.5 + margin_mm
        near = self._length(x - centre[0], y - centre[1]) < reach
        rows, cols = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
        if not rows.size:
            return None
        return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)

    def gland_mask(self, x: np.ndarray, y: np.ndarray, sweep: float) -> np.ndarray:
        """``(H, W)`` bool: points inside the gland section (the same outline as :class:`Anatomy`)."""
        if np.ndim(x) != 2:
            return super().gland_mask(x, y, sweep)
        mask = np.zeros(np.shape(x), bool)
        window = self._near_gland(x, y, sweep, 1.0)
        if window is not None:
            mask[window] = self.radius_ratio(x[window], y[window], sweep) < 1.0
        return mask

    def calcification_site(self, rng: np.random.Generator) -> Tuple[float, float]:
        """Mostly on the surgical capsule (the TZ / PZ border, where corpora amylacea collect), else in the gland."""
        angle = rng.uniform(0, 2 * np.pi)
        tx, ty, ta, tb = self.tz
        if rng.random() < 0.65:
            u, v = tx + ta * np.cos(angle), ty + tb * np.sin(angle)
        else:
            radius = np.sqrt(rng.uniform(0.0, 0.6))
            u, v = radius * np.cos(angle), radius * np.sin(angle)
        return float(self.centre[0] + u * self.half_u), float(self.centre[1] + v * self.half_v)

    def echogenicity(self, x: np.ndarray, y: np.ndarray, probe_depth: np.ndarray, sweep: float) -> np.ndarray:
        """Backscatter amplitude ``(...)`` float32 at tissue points (1 = average soft tissue); see the class."""
        echo = self._sample_texture(self.background, x, y)
        scale, centre = self.section(sweep)
        rho = np.full(np.shape(x), 1e3, np.float32)
        window = self._near_gland(x, y, sweep, 1.6 * self.fat_mm + 3.0)
        if window is not None:
            echo[window], rho[window] = self._gland_echo(x[window], y[window], echo[window], scale, centre, sweep)
        if self.view == "sagittal":
            echo = self._sagittal_structures(x, y, echo, self._sample_texture(self.texture, x, y), rho)
            # Posterior acoustic enhancement: urine barely attenuates, so tissue beyond the bladder
            # is brighter.  The arrays are beam space, samples along axis 0.
            if probe_depth.shape[0] > 1:
                step = float(probe_depth[1, 0] - probe_depth[0, 0])
                fluid_mm = np.cumsum(self._bladder(x, y, rho)[0], axis=0) * step
                echo = echo * (1.0 + 0.8 * np.clip(fluid_mm / 12.0, 0, 1))
        return np.maximum(echo * self._rectal_wall(probe_depth), 0.01).astype(np.float32)

    def _rectal_wall(self, probe_depth: np.ndarray) -> np.ndarray:
        """``1 + layers`` of the rectal wall against the probe: mucosa (bright), muscularis (dark),
        perirectal fat (bright); it follows the probe, so it is cached per beam grid."""
        key, value = self._layers_cache
        if key is not probe_depth:
            w = self.wall_scale
            value = (1.0 + 1.2 * np.exp(-((probe_depth - 0.7 * w) / (0.45 * w)) ** 2)
                     - 0.55 * np.exp(-((probe_depth - 1.9 * w) / (0.6 * w)) ** 2)
                     + 0.9 * np.exp(-((probe_depth - 3.2 * w) / (0.7 * w)) ** 2)).astype(np.float32)
            self._layers_cache = (probe_depth, value)
        return value

    def _gland_echo(self, x, y, echo, scale: float, centre, sweep: float):
        """The gland, its capsule, fat, urethra and neurovascular bundles over ``echo``; returns it and rho."""
        s = self.settings
        texture = self._sample_texture(self.texture, x, y)
        fine = self._sample_texture(self.fine_texture, x, y)
        rho = self.radius_ratio(x, y, sweep)
        cx, cy = float(centre[0]), float(centre[1])
        radial = self._length(x - cx, y - cy)
        outside_mm = radial * (1.0 - 1.0 / np.maximum(rho, 1e-3))
        # Periprostatic fat: lobulated and brighter, thicker anteriorly.
        thickness = self.fat_mm * (1.0 + 0.5 * np.clip((y - cy) / self.half_v, 0, 1))
        fat = np.clip(1.0 - np.abs(outside_mm - 0.5 * thickness) / (0.5 * thickness), 0, 1)
        echo = echo + fat * self.fat_level * np.maximum(1.0 + 0.6 * texture, 0.2)
        if self.view == "axial" and scale > 0.3:
            # Neurovascular bundles: small dark vessels with bright walls, posterolateral to the capsule.
            for side in (-1.0, 1.0):
                vx, vy = cx + side * 0.72 * self.half_u * scale, cy - 0.62 * self.half_v * scale
                d = self._length(x - vx, y - vy)
                lumen = np.clip(1.0 - d / 1.6, 0, 1)
                echo = echo * (1.0 - 0.6 * lumen) + 0.5 * np.clip(1.0 - np.abs(d - 2.0) / 0.5, 0, 1)
        nx = (x - cx) / (self.half_u * scale)
        ny = (y - cy) / (self.half_v * scale)
        tx, ty, ta, tb = self.tz
        tz_rho = self._length((nx - tx) / ta, (ny - ty) / tb)
        tz = np.clip((1.05 - tz_rho) / 0.1, 0, 1)
        peripheral = min(0.95, s.gland_echo * self.pz_gain) * (1.0 + 0.1 * fine)
        transition = s.gland_echo * self.tz_gain * (1.0 + 0.35 * texture + 0.15 * fine)
        for nu, nv, nr, level in self.bph_nodules:
            d = self._length(nx - nu, ny - nv)
            transition = transition * (1.0 + (level - 1.0) * np.clip((1.0 - d / nr) / 0.3, 0, 1))
        gland = peripheral * (1.0 - tz) + transition * tz
        # Surgical capsule: a faint bright line between the zones.
        gland = gland + 0.25 * s.gland_echo * np.clip(1.0 - np.abs(tz_rho - 1.05) / 0.05, 0, 1)
        # Anterior fibromuscular stroma: dark, in front of the transition zone.
        gland = gland * (1.0 - 0.35 * np.clip((ny - 0.55) / 0.3, 0, 1) * (1.0 - tz))
        echo = np.where(rho < 1.0, gland, echo)
        capsule = np.clip(1.0 - np.abs(outside_mm) / 0.5, 0, 1)
        echo = echo * (1.0 - capsule) + 0.8 * s.capsule_echo * (1.0 + 0.2 * fine) * capsule
        ux, uy = cx + self.urethra_offset[0] * scale, cy + (ty + 0.05) * self.half_v * scale
        if self.view == "axial":
            d = self._length(x - ux, y - uy)
            lumen = np.sqrt(np.clip(1.0 - d / 1.8, 0, 1))
            wall = np.clip(1.0 - np.abs(d - 2.2) / 0.6, 0, 1)
        else:  # along the gland towards the bladder neck
            d = np.abs((y - uy) - 0.3 * (x - ux))
            lumen = np.clip(1.0 - d / 1.0, 0, 1) * (rho < 1.05)
            wall = np.clip(1.0 - np.abs(d - 1.4) / 0.5, 0, 1) * (rho < 1.0)
        echo = echo * (1.0 - 0.7 * lumen) + 0.4 * wall
        return echo.astype(np.float32), rho
