"""Synthetic B-mode TRUS video with exact prostate masks: the project's built-in data.

Real TRUS datasets need registration, so demos, tests, benchmarks and the default model
use this simulator.  See :mod:`.image_formation` (convolution model), :mod:`.anatomy`,
:mod:`.motion` and :mod:`.scanner`; for the ``clinical`` style (probe at the bottom, a
scanner's screen, randomised machines; the default stays ``classic``, see :mod:`.config`)
also :mod:`.machine` and :mod:`.screen`.

Example::

    from DTCSegmentationLib.simulation import SimulationConfig, simulate
    recording = simulate(SimulationConfig(view="axial", num_frames=60, seed=1))
    recording.images.frames  # (60, 256, 448) uint8
    recording.masks.frames   # (60, 256, 448) uint8, 1 = prostate
    clinical = simulate(SimulationConfig(view="sagittal", style="clinical", seed=1))
"""

from DTCSegmentationLib.simulation.config import DIFFICULTIES, MIN_FRAME_SIZE, STYLES, VIEWS, Difficulty, SimulationConfig
from DTCSegmentationLib.simulation.preview import montage, write_preview
from DTCSegmentationLib.simulation.simulator import SimulatedFrame, SimulatedSequence, TrusSimulator, iter_simulation, simulate

__all__ = [
    "DIFFICULTIES", "MIN_FRAME_SIZE", "STYLES", "VIEWS", "Difficulty", "SimulationConfig", "SimulatedFrame",
    "SimulatedSequence", "TrusSimulator", "iter_simulation", "simulate", "montage", "write_preview",
]
