"""The ablation of the paper: which training signal buys what, on the same data and seed.

Rows (:data:`VARIANTS`): the plain 2D network (the supervised teacher); the same network
fine-tuned from it with the students' schedule (learning rate, epochs, steps) and the
supervised loss only, so that "more training steps" is not mistaken for "temporal terms";
then students initialised from it and trained on video with the pseudo-label term only,
+ distillation, + distillation + prototypes, + distillation + consistency, the full DTC
student (all with the configured pseudo-label source, METHOD.md: the student's own), the
full student with the shipped recipe (pseudo-labels from the frozen teacher), and that
recipe with the teacher's batch-norm statistics frozen, and the shipped recipe plus a
ground-truth Dice + BCE term on the clip frames that have masks (``student.weight_supervised``).
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

import numpy as np

from DTCTrainingLib import run_folder
from DTCTrainingLib.config import TrainingConfig

BASELINE = "2D baseline"
SAME_SCHEDULE = "2D same schedule"
FULL = "full DTC"
SHIPPED = "full DTC + teacher pseudo-labels"
FROZEN_BN = "full DTC + teacher pseudo-labels + frozen BN"
SUPERVISED = "full DTC + teacher pseudo-labels + supervised"
# Student settings changed per row (the rest keep the configuration's values); None: a 2D row.
VARIANTS: Dict[str, Optional[Dict[str, object]]] = {
    BASELINE: None,
    SAME_SCHEDULE: None,
    "pseudo-labels only": {"weight_kd": 0.0, "weight_consistency": 0.0, "weight_prototype": 0.0},
    "+ KD": {"weight_consistency": 0.0, "weight_prototype": 0.0},
    "+ KD + prototypes": {"weight_consistency": 0.0},
    "+ KD + consistency": {"weight_prototype": 0.0},
    FULL: {},
    SHIPPED: {"pseudo_label_source": "teacher"},
    # Chosen before any real-data result: on hard simulated sweeps one student epoch at lr 0 moved
    # validation Dice 0.86 -> 0.75 through the batch-norm running statistics alone.
    FROZEN_BN: {"pseudo_label_source": "teacher", "freeze_batch_norm": True},
    # Chosen before any result of this row: the real students lost Dice by over-segmenting although
    # every real training frame has a mask the pseudo-label term never looks at; the ground-truth
    # term gets the pseudo-label term's default weight (3), so neither dominates by choice of scale.
    SUPERVISED: {"pseudo_label_source": "teacher", "weight_supervised": 3.0},
}


def variant_folder(out: Path, variant: str) -> Path:
    """Where a row's training run lives: ``out/teacher`` for the baseline, ``out/supervised_same_schedule``
    for the fine-tuned 2D row, else ``out/student_<row>``."""
    if variant == BASELINE:
        return out / "teacher"
    if variant == SAME_SCHEDULE:
        return out / "supervised_same_schedule"
    words = "".join(c if c.isalnum() else " " for c in variant.lower()).split()
    return out / ("student_" + "_".join(words))


def _finished(run_dir: Path, stage: str) -> bool:
    from DTCTrainingLib.training_process import read_events

    if not run_folder.model_path(run_dir, stage).is_file():
        return False
    return any(e["event"] == "done" and e.get("stage") == stage for e in read_events(run_folder.events_path(run_dir)))


def seed_folder(out: Path, seed: int) -> Path:
    """Where one seed's runs and report live: ``out/seed_<n>``."""
    return Path(out) / f"seed_{seed}"


def variant_config(base: TrainingConfig, variant: str) -> TrainingConfig:
    """A copy of ``base`` with the row's student settings (loss weights switched off, pseudo-label source)."""
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
        if variant == SAME_SCHEDULE:  # the students' schedule, supervised loss only, from the teacher's weights
            tuned = copy.deepcopy(config)
            tuned.teacher.init = str(teacher)
            if not _finished(run_dir, "teacher"):
                train("teacher", tuned, run_dir, None, run_folder.checkpoint_path(run_dir, "teacher").exists(),
                      emit, progress)
            models[variant] = run_folder.model_path(run_dir, "teacher")
            continue
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


# Per-recording scores compared across seeds and rows: summary key -> label.
SEED_METRICS = {
    "dice": "Dice", "gland_dice": "Dice (gland frames)", "empty_specificity": "Spec (empty frames)",
    "flow_dice": "flow Dice", "flicker_per_100": "flicker events / 100 frames", "area_jitter": "area jitter",
    "response_lag_frames": "response lag (frames)", "widening_frames": "widening (frames)",
    "lag_frames": "lag vs its input (frames)",
}
# The metrics a claim check tests pairwise.
PAIRED_METRICS = ("dice", "gland_dice", "flow_dice", "flicker_per_100", "area_jitter", "response_lag_frames")

SeedScores = Dict[int, Dict[str, Dict[str, Dict[str, float]]]]
"""seed -> method -> recording -> that recording's summary (a ``summary.json`` ``cases`` entry)."""


def recording_scores(summary: Dict[str, float]) -> Dict[str, float]:
    """The :data:`SEED_METRICS` of one recording's summary; ``flicker_per_100`` = 100 x events / frame pairs.

    ``None`` (how ``summary.json`` writes NaN) reads as NaN.
    """
    scores = {key: float("nan") if summary[key] is None else float(summary[key]) for key in SEED_METRICS
              if key in summary}
    pairs = summary.get("frames", 0) - 1
    if "flicker_events" in summary and pairs > 0:
        scores["flicker_per_100"] = 100.0 * summary["flicker_events"] / pairs
    return scores


def _per_recording(scores: SeedScores, method: str, metric: str) -> Dict[str, float]:
    """Recording -> the metric averaged over the seeds that scored it (NaN seeds left out)."""
    values: Dict[str, list] = {}
    for per_method in scores.values():
        for case, summary in per_method.get(method, {}).items():
            values.setdefault(case, []).append(recording_scores(summary).get(metric, float("nan")))
    return {case: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            for case, v in ((c, np.asarray(v, float)) for c, v in values.items())}


def seed_table(scores: SeedScores) -> Dict[str, Dict[str, Dict[str, object]]]:
    """method -> metric -> ``{"mean", "std", "seeds"}``: each seed's dataset value (the mean over its
    recordings, NaN recordings left out), then their mean and sample standard deviation over seeds
    (ddof 1; NaN with one seed)."""
    methods = list(dict.fromkeys(m for per_method in scores.values() for m in per_method))
    table: Dict[str, Dict[str, Dict[str, object]]] = {}
    for method in methods:
        row: Dict[str, Dict[str, object]] = {}
        for metric in SEED_METRICS:
            per_seed = {}
            for seed, per_method in scores.items():
                values = [recording_scores(s).get(metric, float("nan")) for s in per_method.get(method, {}).values()]
                values = np.asarray(values, float)
                if np.isfinite(values).any():
                    per_seed[seed] = float(np.nanmean(values))
            if per_seed:
                column = np.array(list(per_seed.values()))
                row[metric] = {"mean": float(column.mean()),
                               "std": float(column.std(ddof=1)) if len(column) > 1 else float("nan"),
                               "seeds": per_seed}
        table[method] = row
    return table


def paired_statistics(scores: SeedScores, reference: str, other: str,
                      metrics: Iterable[str] = PAIRED_METRICS) -> Dict[str, Dict[str, float]]:
    """``other`` vs ``reference`` per recording, each recording's value averaged over the seeds:
    :func:`~.paired_tests.paired_comparison` per metric, plus ``p_value_per_seed`` (the same test
    on each seed alone, to show whether one seed decides)."""
    from DTCTrainingLib.evaluation.paired_tests import paired_comparison

    result = {}
    for metric in metrics:
        a, b = _per_recording(scores, reference, metric), _per_recording(scores, other, metric)
        cases = sorted(set(a) & set(b))
        comparison = paired_comparison([a[c] for c in cases], [b[c] for c in cases])
        per_seed = {}
        for seed, per_method in scores.items():
            if reference in per_method and other in per_method:
                common = sorted(set(per_method[reference]) & set(per_method[other]))
                pick = lambda m: [recording_scores(per_method[m][c]).get(metric, float("nan")) for c in common]
                per_seed[seed] = paired_comparison(pick(reference), pick(other))["p_value"]
        comparison["p_value_per_seed"] = per_seed
        result[metric] = comparison
    return result


def check_claim_seeds(scores: SeedScores, reference: str = BASELINE, candidate: str = FULL,
                      max_dice_drop: float = 0.01, alpha: float = 0.05) -> Dict[str, object]:
    """The paper's temporal claim, tested over seeds and recordings: ``candidate`` has fewer flicker
    events per 100 frames than ``reference`` (median paired difference below 0 and two-sided
    Wilcoxon p < ``alpha`` over the recordings, seed-averaged) and its Dice, averaged over seeds,
    is at most ``max_dice_drop`` below the reference's."""
    statistics = paired_statistics(scores, reference, candidate)
    table = seed_table({seed: {m: per_method[m] for m in (reference, candidate) if m in per_method}
                        for seed, per_method in scores.items()})
    flicker = statistics["flicker_per_100"]
    fewer = bool(flicker["p_value"] < alpha and flicker["median_difference"] < 0)
    dice_ref, dice_new = table[reference]["dice"]["mean"], table[candidate]["dice"]["mean"]
    dice_ok = bool(dice_new >= dice_ref - max_dice_drop)
    return {"holds": fewer and dice_ok, "reference": reference, "candidate": candidate,
            "seeds": sorted(seed for seed, per_method in scores.items() if reference in per_method and candidate in per_method),
            f"fewer_flicker_events_p<{alpha:g}": fewer, f"dice_within_{max_dice_drop:g}": dice_ok,
            "dice_difference": dice_new - dice_ref,
            "means": {name: {metric: table[name][metric]["mean"] for metric in table[name]} for name in table},
            "paired": statistics}
