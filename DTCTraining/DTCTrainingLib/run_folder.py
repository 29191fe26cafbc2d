"""The layout of a training run's folder, in one place.

A run folder ``RUN/`` holds, per stage (``teacher`` or ``student``):

* ``RUN/<stage>.safetensors``: the best model of the stage (by validation Dice), once the stage
  has finished;
* ``RUN/<stage>_best_so_far.safetensors``: while the stage runs (and after it was interrupted),
  the best weights so far; named so that nobody mistakes them for a finished model, and renamed
  to ``<stage>.safetensors`` when the stage finishes;
* ``RUN/<stage>_checkpoint.pt``: the latest epoch's full state, for resuming
  (weights, optimiser, scheduler, RNG; tensors only, loaded with ``weights_only=True``);

and for the whole run ``RUN/events.jsonl``: one JSON progress event per line.
"""

from pathlib import Path

from DTCSegmentationLib.errors import PathLike

STAGES = ("teacher", "student")
EVENTS_NAME = "events.jsonl"


def finished_model_path(run_dir: PathLike, stage: str) -> Path:
    """``run_dir/<stage>.safetensors``: the best model of a finished stage."""
    return Path(run_dir) / f"{stage}.safetensors"


def best_so_far_path(run_dir: PathLike, stage: str) -> Path:
    """``run_dir/<stage>_best_so_far.safetensors``: the best weights of a stage that has not finished."""
    return Path(run_dir) / f"{stage}_best_so_far.safetensors"


def model_path(run_dir: PathLike, stage: str) -> Path:
    """The stage's model to use: the finished one if there is one, else the best so far of an unfinished stage
    if there is one, else the (missing) finished one's path."""
    finished = finished_model_path(run_dir, stage)
    unfinished = best_so_far_path(run_dir, stage)
    return unfinished if not finished.is_file() and unfinished.is_file() else finished


def checkpoint_path(run_dir: PathLike, stage: str) -> Path:
    """``run_dir/<stage>_checkpoint.pt``: the stage's resumable state."""
    return Path(run_dir) / f"{stage}_checkpoint.pt"


def events_path(run_dir: PathLike) -> Path:
    """``run_dir/events.jsonl``: the run's progress events."""
    return Path(run_dir) / EVENTS_NAME


def has_checkpoint(run_dir: PathLike) -> bool:
    """Whether ``run_dir`` holds a checkpoint of any stage (so the run can be resumed)."""
    return any(checkpoint_path(run_dir, stage).is_file() for stage in STAGES)
