"""The layout of a training run's folder, in one place.

A run folder ``RUN/`` holds, per stage (``teacher`` or ``student``):

* ``RUN/<stage>.safetensors``: the best model of the stage (by validation Dice);
* ``RUN/<stage>_checkpoint.pt``: the latest epoch's full state, for resuming
  (weights, optimiser, scheduler, RNG; tensors only, loaded with ``weights_only=True``);

and for the whole run ``RUN/events.jsonl``: one JSON progress event per line.
"""

from pathlib import Path

from DTCSegmentationLib.errors import PathLike

STAGES = ("teacher", "student")
EVENTS_NAME = "events.jsonl"


def model_path(run_dir: PathLike, stage: str) -> Path:
    """``run_dir/<stage>.safetensors``: the stage's best model."""
    return Path(run_dir) / f"{stage}.safetensors"


def checkpoint_path(run_dir: PathLike, stage: str) -> Path:
    """``run_dir/<stage>_checkpoint.pt``: the stage's resumable state."""
    return Path(run_dir) / f"{stage}_checkpoint.pt"


def events_path(run_dir: PathLike) -> Path:
    """``run_dir/events.jsonl``: the run's progress events."""
    return Path(run_dir) / EVENTS_NAME


def has_checkpoint(run_dir: PathLike) -> bool:
    """Whether ``run_dir`` holds a checkpoint of any stage (so the run can be resumed)."""
    return any(checkpoint_path(run_dir, stage).is_file() for stage in STAGES)
