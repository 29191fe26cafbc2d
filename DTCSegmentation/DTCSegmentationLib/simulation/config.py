"""Settings of the TRUS video simulator, its difficulty presets and its two looks.

Two styles (``SimulationConfig.style``):

- ``classic`` (the default): the transducer at the top of a bare fan or rectangle, a large
  hypoechoic gland in uniform speckle, nothing on the screen but the image.  It stays the
  default because the shipped model (``Resources/Models/dtc_default.safetensors``), the demo
  and the benchmarks are built on it, and a seed must keep giving the same recording.
- ``clinical``: what a scanner's screen shows.  The probe is at the *bottom* (anterior up)
  with its bright ring and reverberations, the gland sits just above it and fills about
  15-40 % of the frame width, with zonal echotexture, calcifications and their shadows,
  rectal wall and periprostatic fat; around the image, text, a depth scale, focus markers
  and vendor-style blocks (never inside the fan, so never inside the mask); machine and
  operator settings (gain, dynamic range, TGC, speckle size, blur, JPEG-like compression,
  sector angle or aperture, depth, left-right flip) are drawn per recording.  Meant to be
  mixed with real sweeps when training; opt in with ``style="clinical"``
  (``dtc simulate --style clinical``).
"""

from dataclasses import dataclass
from typing import Optional

VIEWS = ("axial", "sagittal")
STYLES = ("classic", "clinical")
MIN_FRAME_SIZE = 32  # pixels; smaller frames cannot resolve the gland, capsule and urethra


@dataclass(frozen=True)
class Difficulty:
    """Everything that makes a recording easy or hard to segment consistently.

    Attributes:
        gland_echo: echogenicity of the gland interior relative to surrounding tissue (1 = invisible).
        capsule_echo: echogenicity of the capsule (bright rim).
        noise_db: electronic noise level relative to tissue, dB (higher = noisier).
        dynamic_range_db: log-compression range, dB.
        motion_mm: amplitude of probe translation, mm.
        rotation_deg: amplitude of probe rotation, degrees.
        pressure: peak relative compression near the probe (0..0.4).
        sweep: elevational sweep amplitude as a fraction of the gland's half-length
            (> 1 sweeps past the gland's end, where it vanishes).
        decorrelation: fraction of speckle renewed per frame, before sweep-induced loss.
        calcifications: expected number of calcifications (shadow casters) per 100 frames.
        gain_flicker_db: standard deviation of the per-frame gain, dB.
        drop_probability: chance that a frame is dropped (a time gap in the recording).
        duplicate_probability: chance that a frame repeats the previous one.
    """

    gland_echo: float = 0.4
    capsule_echo: float = 2.4
    noise_db: float = -50.0
    dynamic_range_db: float = 55.0
    motion_mm: float = 2.5
    rotation_deg: float = 3.0
    pressure: float = 0.12
    sweep: float = 0.75
    decorrelation: float = 0.08
    calcifications: float = 4.0
    gain_flicker_db: float = 0.8
    drop_probability: float = 0.02
    duplicate_probability: float = 0.02


DIFFICULTIES = {
    "easy": Difficulty(gland_echo=0.3, capsule_echo=2.8, noise_db=-55.0, motion_mm=1.5, rotation_deg=2.0,
                       pressure=0.06, sweep=0.6, decorrelation=0.05, calcifications=1.0, gain_flicker_db=0.3,
                       drop_probability=0.0, duplicate_probability=0.0),
    "default": Difficulty(),
    "hard": Difficulty(gland_echo=0.58, capsule_echo=1.8, noise_db=-42.0, motion_mm=4.0, rotation_deg=5.0,
                       pressure=0.2, sweep=1.05, decorrelation=0.15, calcifications=10.0, gain_flicker_db=2.0,
                       drop_probability=0.05, duplicate_probability=0.05),
}


@dataclass(frozen=True)
class SimulationConfig:
    """One simulated TRUS recording.

    Attributes:
        view: ``axial`` (curvilinear fan, transverse plane) or ``sagittal`` (linear array,
            longitudinal plane).
        num_frames: frames to produce.
        height, width: output frame size in pixels.
        seed: seed of the one random generator; the same seed gives the same recording bit for bit.
        difficulty: a preset name (``easy``, ``default``, ``hard``).
        frame_rate: frames per second of the recording.
        depth_mm: imaging depth from the transducer surface, mm; None = 42 mm for ``classic``,
            drawn per recording for ``clinical`` (48-72 mm axial, 55-78 mm sagittal; a fixed
            depth there changes how much of the frame the gland fills).
        overrides: a :class:`Difficulty` replacing the preset (for custom settings).
        style: ``classic`` (default) or ``clinical``; see the module docstring.
        flip: mirror the image left-right (and the mask with it); None = never for
            ``classic``, a coin toss per recording for ``clinical``.
        screen: ``clinical`` only: draw the scanner's screen (text, depth scale, markers,
            vendor blocks) around the image; False leaves the bare image on black, with
            everything else (the image and mask pixels included) unchanged.
    """

    view: str = "axial"
    num_frames: int = 60
    height: int = 256
    width: int = 448
    seed: int = 0
    difficulty: str = "default"
    frame_rate: float = 20.0
    depth_mm: Optional[float] = None
    overrides: Optional[Difficulty] = None
    style: str = "classic"
    flip: Optional[bool] = None
    screen: bool = True

    def __post_init__(self):
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {tuple(DIFFICULTIES)}, got {self.difficulty!r}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        if self.depth_mm is not None and not 10.0 <= self.depth_mm <= 200.0:
            raise ValueError(f"depth_mm must be between 10 and 200 mm, got {self.depth_mm}")
        if self.num_frames < 1 or min(self.height, self.width) < MIN_FRAME_SIZE:
            raise ValueError(f"need at least one frame of at least {MIN_FRAME_SIZE} x {MIN_FRAME_SIZE} pixels")
        if not self.frame_rate > 0 or self.frame_rate == float("inf"):  # NaN fails the first test
            raise ValueError(f"frame_rate must be a positive number of frames per second, got {self.frame_rate}")

    def working_memory_bytes(self) -> int:
        """About the most memory the simulator holds at once: it works on whole frames in float64.

        Measured with tracemalloc: 124-130 bytes a pixel at 512 x 896 (either view), rounded up.
        """
        return 160 * self.height * self.width + (64 << 20)

    @property
    def settings(self) -> Difficulty:
        """The difficulty settings in force."""
        return self.overrides if self.overrides is not None else DIFFICULTIES[self.difficulty]
