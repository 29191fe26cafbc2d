"""The TRUS video simulator: anatomy + probe motion + image formation, frame by frame.

Both styles (see :mod:`.config`) share the tissue model, the motion and the beam-space
image formation; ``clinical`` adds a machine drawn per recording (:mod:`.machine`), the
probe-at-the-bottom display (:func:`.scanner.probe_at_bottom`), the zoned anatomy
(:class:`.anatomy.ClinicalAnatomy`), the transducer ring and reverberations, the video
path (grey map, resampling, blur, JPEG) and the screen around the image (:mod:`.screen`).
The mask is computed from the same display geometry as the image, so it stays exact
through the flip and every display step.
"""

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import cv2
import numpy as np

from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCSegmentationLib.simulation.anatomy import Anatomy, ClinicalAnatomy
from DTCSegmentationLib.simulation.config import SimulationConfig
from DTCSegmentationLib.simulation.image_formation import (
    PSF_SIGMA_LINES,
    PSF_SIGMA_SAMPLES,
    Calcification,
    SpeckleField,
    degrade,
    depth_gain_db,
    display_map,
    jpeg,
    log_compress,
    probe_echoes,
    psf_blur,
    psf_gain,
    shadow_map,
    tgc_gain_db,
)
from DTCSegmentationLib.simulation.machine import Machine, draw_machine
from DTCSegmentationLib.simulation.motion import ProbeMotion, ProbePose, probe_to_tissue, tissue_to_probe
from DTCSegmentationLib.simulation.scanner import ScanGeometry, mirrored, probe_at_bottom, scan_geometry
from DTCSegmentationLib.simulation.screen import Screen, draw_layout

ELEVATION_BEAM_MM = 1.5  # out-of-plane beam width: moving this far renews all speckle
CLASSIC_DEPTH_MM = 42.0


@dataclass
class SimulatedFrame:
    """One frame of a simulated recording.

    Attributes:
        image: ``(H, W)`` uint8 B-mode frame.
        mask: ``(H, W)`` uint8 ground truth, 1 = prostate.
        time: acquisition time in seconds.
        events: what happened to this frame (``dropped_before``, ``duplicated``, ``shadows``).
    """

    image: np.ndarray
    mask: np.ndarray
    time: float
    events: Dict[str, int] = field(default_factory=dict)


@dataclass
class SimulatedSequence:
    """A whole simulated recording: frames, exact masks and per-frame events."""

    images: FrameSequence
    masks: FrameSequence
    events: List[Dict[str, int]]
    config: SimulationConfig


class TrusSimulator:
    """Generates the frames of one :class:`SimulationConfig`, deterministically from its seed."""

    def __init__(self, config: SimulationConfig):
        self.config = config
        settings = config.settings
        self.rng = np.random.default_rng(config.seed)
        self.machine: Optional[Machine] = None
        self.screen: Optional[Screen] = None
        self.psf = (PSF_SIGMA_LINES, PSF_SIGMA_SAMPLES)
        self.calcification_echo, self.calcification_spot = 4.0, 0.25
        if config.style == "clinical":
            # The machine and the screen layout come from their own streams: the tissue, the
            # motion and the speckle of a seed do not depend on them, and the screen can be
            # switched off without changing a single image pixel.
            style_rng = np.random.default_rng([config.seed, 1])
            self.machine = draw_machine(style_rng, config, settings)
            self.layout = draw_layout(style_rng, config.height, config.width)
            self.scan: ScanGeometry = probe_at_bottom(config.height, config.width, self.machine.probe,
                                                      self.layout.region, self.machine.flip)
            self.anatomy: Anatomy = ClinicalAnatomy(self.rng, config.view, settings)
            self.psf = (self.machine.psf_lines, self.machine.psf_samples)
            # Clinical calcifications: saturated white foci, smaller than the shadow they cast.
            self.calcification_echo, self.calcification_spot = 10.0, 0.12
            depth_mm = self.machine.probe.depth_mm
        else:
            depth_mm = config.depth_mm if config.depth_mm is not None else CLASSIC_DEPTH_MM
            self.scan = scan_geometry(config.view, config.height, config.width, depth_mm)
            if config.flip:
                self.scan = mirrored(self.scan)
            self.anatomy = Anatomy(self.rng, config.view, settings)
        self.motion = ProbeMotion(self.rng, settings)
        self.speckle = SpeckleField(self.rng, self.anatomy.EXTENT)
        self.normalisation = 1.0 / psf_gain(*self.psf)
        # TGC usually under-compensates the far field.  Drawn in both styles so that the tissue
        # stream stays the same; a clinical machine brings its own (``machine.tgc_error_db``).
        self.tgc_error_db = float(self.rng.uniform(-7, 1))
        self.calcifications = self._place_calcifications()
        depth = self.scan.sample_depth
        if self.machine is None:
            self.static_gain_db = depth_gain_db(depth, depth_mm, self.tgc_error_db)
        else:
            m = self.machine
            focus = 1.5 * np.exp(-(((depth - m.focus_mm) / 8.0) ** 2))  # the focal zone is a little brighter
            self.static_gain_db = (depth_gain_db(depth, depth_mm, m.tgc_error_db) + np.float32(m.gain_db) + focus
                                   + tgc_gain_db(depth, depth_mm, np.array(m.tgc_db)))
            self.probe_echoes = probe_echoes(depth, m.reverb_mm, m.reverb_strength, m.reverb_decay)
            # The transducer face itself: a smooth (not speckled) bright ring.
            self.probe_ring = (m.reverb_strength * 1.2 * np.exp(-(((depth - 0.1) / 0.25) ** 2))).astype(np.float32)
            if config.screen:
                self.screen = Screen(np.random.default_rng([config.seed, 2]), self.scan, m, self.layout)
        if self.scan.line_angle is not None:
            # Curvilinear beams lose sensitivity towards the edges of the fan.
            edge = np.abs(self.scan.line_angle) / np.abs(self.scan.line_angle).max()
            self.static_gain_db = self.static_gain_db - 5.0 * edge[None, :] ** 4

    def _place_calcifications(self) -> List[Calcification]:
        count = self.rng.poisson(self.config.settings.calcifications * self.config.num_frames / 100.0)
        result = []
        for _ in range(count):
            x, y = self.anatomy.calcification_site(self.rng)
            first = int(self.rng.integers(-10, self.config.num_frames))
            radius = float(self.rng.uniform(*self.anatomy.CALCIFICATION_RADIUS_MM))
            result.append(Calcification(float(x), float(y), radius, first,
                                        first + int(self.rng.integers(8, 40))))
        return result

    def _casters(self, frame_index: int, pose: ProbePose):
        """Beam-space position of every calcification visible in this frame."""
        casters = []
        for calc in self.calcifications:
            if not calc.first_frame <= frame_index <= calc.last_frame:
                continue
            if not self.anatomy.gland_mask(np.float32(calc.x), np.float32(calc.y), pose.sweep):
                continue
            px, py = tissue_to_probe(calc.x, calc.y, pose)
            if self.scan.line_angle is not None:
                radius = np.hypot(px, py + self.scan.radius_mm)
                offsets = (self.scan.line_angle - np.arctan2(px, py + self.scan.radius_mm)) * radius
                depth = radius - self.scan.radius_mm
            else:
                offsets, depth = self.scan.line_x - px, py
            casters.append((float(depth), offsets, calc.radius_mm, px, py))
        return casters

    def render(self, frame_index: int, time_s: float, previous_sweep: float):
        """Image and mask at ``time_s``; ``previous_sweep`` sets how much speckle decorrelates."""
        settings = self.config.settings
        pose = self.motion.pose(time_s)
        sweep_mm = abs(pose.sweep - previous_sweep) * self.anatomy.half_out
        self.speckle.renew(settings.decorrelation + min(1.0, sweep_mm / ELEVATION_BEAM_MM))
        scan = self.scan
        tx, ty = probe_to_tissue(scan.sample_x, scan.sample_y, pose)
        echo = self.anatomy.echogenicity(tx, ty, scan.sample_depth, pose.sweep)
        if self.machine is not None:
            echo = echo + self.probe_echoes
        amplitudes = self.speckle.sample(tx, ty) * echo[..., None]
        casters = self._casters(frame_index, pose)
        if casters:
            transmission = shadow_map(scan.sample_depth, [c[:3] for c in casters])
            if self.machine is None:
                amplitudes *= transmission[..., None]
            for depth, offsets, radius, _, _ in casters:
                # The calcification itself: a bright, blurred point reflector.
                spot = np.exp(-((scan.sample_depth - depth) ** 2 + offsets[None, :] ** 2)
                              / (self.calcification_spot * radius**2))
                amplitudes[..., 0] += (self.calcification_echo * spot).astype(np.float32)
            if self.machine is not None:
                # Shadowed after the reflectors are placed: a calcification shows its near surface
                # (a bright arc facing the probe) and fades in the shadow of another.
                amplitudes *= transmission[..., None]
        rf = psf_blur(amplitudes, *self.psf) * np.float32(self.normalisation)
        if self.machine is not None:
            rf[..., 0] += self.probe_ring
        noise_level = np.float32(10 ** (settings.noise_db / 20))
        rf += self.rng.standard_normal(rf.shape, dtype=np.float32) * noise_level
        envelope = cv2.magnitude(rf[..., 0], rf[..., 1])
        gain = self.static_gain_db + np.float32(self.rng.normal(0.0, settings.gain_flicker_db))
        dynamic_range = settings.dynamic_range_db if self.machine is None else self.machine.dynamic_range_db
        beam_image = log_compress(envelope, gain, dynamic_range)
        image = cv2.remap(beam_image, scan.map_line, scan.map_sample, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        image = np.where(scan.inside, np.clip(np.rint(image), 0, 255), 0).astype(np.uint8)
        if self.machine is not None:
            image = self._video_path(image, time_s)
        px, py = probe_to_tissue(scan.pixel_x, scan.pixel_y, pose)
        mask = (self.anatomy.gland_mask(px, py, pose.sweep) & scan.inside).astype(np.uint8)
        return image, mask, pose, len(casters)

    def _video_path(self, image: np.ndarray, time_s: float) -> np.ndarray:
        """Grey map, resampling, blur, the screen, then JPEG: what reaches a frame grabber."""
        m = self.machine
        image = degrade(display_map(image, m.gamma, m.black), m.resolution, m.blur_px)
        if self.screen is not None:
            image = self.screen.apply(image, time_s)
        if m.jpeg_quality is not None:
            image = jpeg(image, m.jpeg_quality)
        return image

    def frames(self) -> Iterator[SimulatedFrame]:
        """Yield every frame of the recording, with dropped and duplicated frames as configured."""
        settings, config = self.config.settings, self.config
        period = 1.0 / config.frame_rate
        step, previous = 0, None
        previous_sweep = self.motion.pose(0.0).sweep
        for index in range(config.num_frames):
            events = {"dropped_before": 0, "duplicated": 0, "shadows": 0}
            if index > 0 and self.rng.random() < settings.drop_probability:
                step += 1  # the scanner skipped a frame: a time gap in the recording
                events["dropped_before"] = 1
            time_s = step * period
            if previous is not None and self.rng.random() < settings.duplicate_probability:
                image, mask = previous.image, previous.mask
                events["duplicated"] = 1
                events["shadows"] = previous.events["shadows"]
            else:
                image, mask, pose, shadows = self.render(index, time_s, previous_sweep)
                previous_sweep = pose.sweep
                events["shadows"] = shadows
            previous = SimulatedFrame(image, mask, time_s, events)
            yield previous
            step += 1


def iter_simulation(config: SimulationConfig) -> Iterator[SimulatedFrame]:
    """Stream the frames of ``config`` one at a time (bounded memory for long recordings)."""
    return TrusSimulator(config).frames()


def simulate(config: SimulationConfig) -> SimulatedSequence:
    """The whole recording of ``config`` in memory."""
    simulator = TrusSimulator(config)
    frames = list(simulator.frames())
    geometry = simulator.scan.frame_geometry
    times = np.array([f.time for f in frames])
    metadata = {"simulated": True, "view": config.view, "seed": config.seed, "difficulty": config.difficulty,
                "style": config.style}
    images = FrameSequence(np.stack([f.image for f in frames]), geometry, times, dict(metadata))
    masks = FrameSequence(np.stack([f.mask for f in frames]), geometry, times, dict(metadata))
    return SimulatedSequence(images, masks, [f.events for f in frames], config)
