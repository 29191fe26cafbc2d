"""The ablation of the paper: which training signal buys what, on the same data and seed.

Rows (:data:`VARIANTS`): the plain 2D network (the supervised teacher), then students
initialised from it and trained on video with the pseudo-label term only, + distillation,
+ distillation + prototypes, + distillation + consistency, and the full DTC student.
Every row is scored on the same held-out recordings (accuracy and temporal consistency),
and :func:`check_claim` tests the paper's claim: the full student is more consistent
(flow-compensated consistency) and flickers less than the plain 2D baseline, with Dice no
more than 0.01 lower.

Finished runs are reused and interrupted ones resumed, so re-running the same command
after a crash continues where it stopped.
"""

import copy
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional

from DTCTrainingLib import run_folder
from DTCTrainingLib.config import TrainingConfig

BASELINE = "2D baseline"
FULL = "full DTC"
# Student loss weights switched off per row (the rest keep the configuration's values).
VARIANTS: Dict[str, Optional[Dict[str, float]]] = {
    BASELINE: None,
    "pseudo-labels only": {"weight_kd": 0.0, "weight_consistency": 0.0, "weight_prototype": 0.0},
    "+ KD": {"weight_consistency": 0.0, "weight_prototype": 0.0},
    "+ KD + prototypes": {"weight_consistency": 0.0},
    "+ KD + consistency": {"weight_prototype": 0.0},
    FULL: {},
}


def variant_folder(out: Path, variant: str) -> Path:
    """Where a row's training run lives: ``out/teacher`` for the baseline, else ``out/student_<row>``."""
    if variant == BASELINE:
        return out / "teacher"
    words = "".join(c if c.isalnum() else " " for c in variant.lower()).split()
    return out / ("student_" + "_".join(words))


def _finished(run_dir: Path, stage: str) -> bool:
    from DTCTrainingLib.training_process import read_events

    if not run_folder.model_path(run_dir, stage).is_file():
        return False
    return any(e["event"] == "done" and e.get("stage") == stage for e in read_events(run_folder.events_path(run_dir)))


def variant_config(base: TrainingConfig, variant: str) -> TrainingConfig:
    """A copy of ``base`` with the row's student loss weights switched off."""
    config = copy.deepcopy(base)
    for name, value in (VARIANTS[variant] or {}).items():
        setattr(config.student, name, value)
    return config


def train_variants(config: TrainingConfig, out: Path, variants: Iterable[str] = tuple(VARIANTS),
                   emit: Optional[Callable] = None, progress: Optional[Callable] = None,
                   teacher_config: Optional[TrainingConfig] = None) -> Dict[str, Path]:
    """Train (or reuse, or resume) the teacher and every student row; returns row -> model file.

    ``teacher_config`` (default ``config``) trains the teacher, e.g. with more epochs and
    a higher learning rate than the students' fine-tuning.
    """
    from DTCTrainingLib.trainer import train  # torch: not needed to list the rows

    out = Path(out)
    teacher_dir = variant_folder(out, BASELINE)
    models = {}
    if not _finished(teacher_dir, "teacher"):
        resume = run_folder.checkpoint_path(teacher_dir, "teacher").exists()
        train("teacher", teacher_config or config, teacher_dir, None, resume, emit, progress)
    teacher = run_folder.model_path(teacher_dir, "teacher")
    for variant in variants:
        if variant == BASELINE:
            models[variant] = teacher
            continue
        run_dir = variant_folder(out, variant)
        if not _finished(run_dir, "student"):
            train("student", variant_config(config, variant), run_dir, teacher,
                  run_folder.checkpoint_path(run_dir, "student").exists(), emit, progress)
        models[variant] = run_folder.model_path(run_dir, "student")
    return models


def check_claim(dataset: Dict[str, Dict[str, float]], max_dice_drop: float = 0.01) -> Dict[str, object]:
    """The paper's claim on the rows' dataset-level scores: full DTC vs the plain 2D baseline."""
    base, full = dataset[BASELINE], dataset[FULL]
    checks = {
        "flow_consistency_higher": full["flow_consistency"] > base["flow_consistency"],
        "fewer_flicker_events": full["flicker_events"] < base["flicker_events"],
        "dice_within_0.01": full.get("dice", float("nan")) >= base.get("dice", float("nan")) - max_dice_drop,
    }
    return {"holds": all(checks.values()), **checks,
            "baseline": {k: base.get(k) for k in ("dice", "flow_consistency", "flow_dice", "flicker_events")},
            "full": {k: full.get(k) for k in ("dice", "flow_consistency", "flow_dice", "flicker_events")}}
