"""Settings of the TRUS video simulator and its difficulty presets."""

from dataclasses import dataclass
from typing import Optional

VIEWS = ("axial", "sagittal")
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
        depth_mm: imaging depth from the transducer surface, mm.
        overrides: a :class:`Difficulty` replacing the preset (for custom settings).
    """

    view: str = "axial"
    num_frames: int = 60
    height: int = 256
    width: int = 448
    seed: int = 0
    difficulty: str = "default"
    frame_rate: float = 20.0
    depth_mm: float = 42.0
    overrides: Optional[Difficulty] = None

    def __post_init__(self):
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {tuple(DIFFICULTIES)}, got {self.difficulty!r}")
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
