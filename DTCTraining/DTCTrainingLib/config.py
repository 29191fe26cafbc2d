"""The typed training configuration, with every default from METHOD.md.

One JSON file holds a whole run's configuration; any field can be overridden on the
command line as ``section.field=value`` (e.g. ``student.weight_consistency=1.5``).  The
resolved configuration is saved with every run, so a run can always be repeated.
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from DTCSegmentationLib.choices import MIN_INPUT_SIZE
from DTCSegmentationLib.errors import DTCError, PathLike


class ConfigError(DTCError):
    """A configuration file or override that does not fit the configuration schema."""


def _check(section: str, rules) -> None:
    """Raise :class:`ConfigError` for the first ``(field, value, holds, expected)`` rule that does not hold.

    A value of the right type can still make training fail deep inside PyTorch (a negative
    learning rate), loop without learning (zero epochs) or train on nothing (a 7-pixel input).
    """
    for name, value, holds, expected in rules:
        if not holds:
            key = f"{section}.{name}" if section else name
            raise ConfigError(f"{key} = {value!r} is out of range: it must be {expected}.",
                              fix=f"Set {key} to {expected} (the default is the method's).")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@dataclass
class DataConfig:
    """Where the data is and how frames are presented to the network."""

    dataset: str = ""
    val: List[str] = field(default_factory=list)  # TRUS-V patients / SUN-SEG cases for validation
    test: List[str] = field(default_factory=list)
    height: int = 256
    width: int = 448
    in_channels: int = 1
    clip_length: int = 3
    frame_gap: int = 1
    workers: int = 0

    def __post_init__(self):
        _check("data", [
            ("height", self.height, self.height >= MIN_INPUT_SIZE, f"at least {MIN_INPUT_SIZE} pixels"),
            ("width", self.width, self.width >= MIN_INPUT_SIZE, f"at least {MIN_INPUT_SIZE} pixels"),
            ("in_channels", self.in_channels, self.in_channels in (1, 3), "1 (gray) or 3 (RGB)"),
            ("clip_length", self.clip_length, self.clip_length >= 2, "at least 2 frames (consistency needs pairs)"),
            ("frame_gap", self.frame_gap, self.frame_gap >= 1, "at least 1"),
            ("workers", self.workers, self.workers >= 0, "0 or more"),
        ])


@dataclass
class NetworkConfig:
    """Which registry network to build, and with which arguments."""

    name: str = "fast_unet"
    arguments: Dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    """AdamW with cosine annealing and warm restarts, clipping, accumulation, early stopping."""

    epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    t0: int = 10
    t_mult: int = 2
    eta_min: float = 1e-6
    grad_clip: float = 1.0
    accumulate: int = 1
    patience: int = 10
    amp: bool = False
    steps_per_epoch: int = 0  # 0: one pass over the training set

    def __post_init__(self):
        _check("optim", [
            ("epochs", self.epochs, self.epochs >= 1, "at least 1"),
            ("batch_size", self.batch_size, self.batch_size >= 1, "at least 1"),
            ("lr", self.lr, _finite(self.lr) and self.lr >= 0, "0 (weights frozen) or a positive number"),
            ("weight_decay", self.weight_decay, _finite(self.weight_decay) and self.weight_decay >= 0, "0 or more"),
            ("t0", self.t0, self.t0 >= 1, "at least 1 epoch"),
            ("t_mult", self.t_mult, self.t_mult >= 1, "at least 1"),
            ("eta_min", self.eta_min, _finite(self.eta_min) and self.eta_min >= 0, "0 or more"),
            ("grad_clip", self.grad_clip, _finite(self.grad_clip) and self.grad_clip > 0, "a positive number"),
            ("accumulate", self.accumulate, self.accumulate >= 1, "at least 1"),
            ("patience", self.patience, self.patience >= 0, "0 (stop after the first epoch) or more"),
            ("steps_per_epoch", self.steps_per_epoch, self.steps_per_epoch >= 0, "0 (a whole pass) or more"),
        ])


@dataclass
class TeacherConfig:
    """Stage 1: supervised training on labelled frames."""

    bce_weight: float = 0.5
    augment: bool = True
    # A model file to start from instead of random weights (fine-tuning, e.g. on corrected
    # frames): its architecture and arguments must be the configured network's.
    init: str = ""

    def __post_init__(self):
        _check("teacher", [("bce_weight", self.bce_weight, _finite(self.bce_weight) and 0 <= self.bce_weight <= 1,
                            "between 0 and 1")])


@dataclass
class StudentConfig:
    """Stage 2: the temporally distilled student (loss weights of the paper)."""

    weight_seg: float = 3.0
    weight_kd: float = 1.0
    weight_consistency: float = 2.0
    weight_prototype: float = 0.1
    # Not in the paper: Dice + BCE (the teacher's loss) against the ground truth on the clip frames
    # that have masks; 0 keeps the paper's recipe, whose segmentation term uses pseudo-labels only.
    weight_supervised: float = 0.0
    kd_temperature: float = 4.0
    pseudo_label_transforms: List[str] = field(default_factory=lambda: ["hflip"])
    hard_pseudo_dice: bool = True  # Dice against binarised pseudo-labels (soft ones make the mask grow)
    # Whose flipped prediction is the pseudo-label: "student" (METHOD.md) or the frozen "teacher".
    # The student's own labels have a degenerate fixed point (any flip-symmetric mask scores
    # zero loss): without enough distillation it collapses (val Dice 0.97 -> 0.30 in 20 steps
    # on simulated TRUS at lr 3e-4), while teacher labels kept 0.95.
    pseudo_label_source: str = "student"
    foreground_quantile: float = 0.7
    binarize_warped: bool = True
    flow_method: str = "farneback"
    cache_teacher: bool = True  # teacher logits computed once per frame instead of every step
    freeze_batch_norm: bool = False  # keep the teacher's batch-norm statistics (not in METHOD.md)
    local_tap: str = ""  # empty: the network's registry default
    global_tap: str = ""

    def __post_init__(self):
        from DTCSegmentationLib.choices import FLOW_METHODS, PSEUDO_LABEL_TRANSFORMS

        if self.pseudo_label_source not in ("student", "teacher"):
            raise ConfigError(f"student.pseudo_label_source = {self.pseudo_label_source!r}.",
                              fix="Use student or teacher.")
        if self.flow_method not in FLOW_METHODS:
            raise ConfigError(f"student.flow_method = {self.flow_method!r}.", fix=f"Use one of {', '.join(FLOW_METHODS)}.")
        weights = ("weight_seg", "weight_kd", "weight_consistency", "weight_prototype", "weight_supervised")
        _check("student", [(name, getattr(self, name), _finite(getattr(self, name)) and getattr(self, name) >= 0,
                            "0 (off) or a positive weight") for name in weights] + [
            ("kd_temperature", self.kd_temperature, _finite(self.kd_temperature) and self.kd_temperature > 0,
             "a positive number"),
            ("foreground_quantile", self.foreground_quantile,
             _finite(self.foreground_quantile) and 0 <= self.foreground_quantile <= 1, "between 0 and 1"),
            ("pseudo_label_transforms", self.pseudo_label_transforms,
             bool(self.pseudo_label_transforms) and set(self.pseudo_label_transforms) <= set(PSEUDO_LABEL_TRANSFORMS),
             f"one or more of {', '.join(PSEUDO_LABEL_TRANSFORMS)}"),
        ])


@dataclass
class TrainingConfig:
    """The whole configuration of a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        _check("", [("seed", self.seed, 0 <= self.seed < 2**32, "a whole number from 0 to 2**32 - 1")])

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: PathLike) -> None:
        """Write the resolved configuration as JSON (atomically)."""
        from DTCSegmentationLib.atomic import atomic_output

        with atomic_output(path, overwrite=True) as temporary:
            temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def _build(cls, values: Dict[str, Any], where: str, source: Optional[Path]):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(where + k for k in unknown)}.", source,
                          f"Use only: {', '.join(where + k for k in known)}.")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{name} must be a section (an object).", source, "Write it as {...}.")
            kwargs[name] = _build(type(default), value, f"{where}{name}.", source)
        else:
            kwargs[name] = _coerce(value, default, where + name, source)
    return cls(**kwargs)


def _coerce(value: Any, default: Any, name: str, source: Optional[Path]) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif isinstance(default, (int, float)) and not isinstance(value, bool):
        try:
            number = type(default)(value)
            if isinstance(default, int) and float(value) != number:
                raise ValueError
            return number
        except (TypeError, ValueError, OverflowError):
            pass
    elif isinstance(default, str):
        return str(value)
    elif isinstance(default, list):
        if isinstance(value, str):
            return [item for item in value.split(",") if item]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
    elif isinstance(default, dict) and isinstance(value, dict):
        return value
    raise ConfigError(f"{name} = {value!r} is not a valid {type(default).__name__}.", source,
                      f"Give a {type(default).__name__} like {default!r}.")


def load_config(path: Optional[PathLike] = None, overrides: Iterable[str] = ()) -> TrainingConfig:
    """Defaults, updated by the JSON file ``path`` (if given), then by ``section.field=value`` overrides."""
    values: Dict[str, Any] = {}
    source = Path(path) if path else None
    if source is not None:
        try:
            values = json.loads(source.read_text())
        except FileNotFoundError:
            raise ConfigError("does not exist.", source, "Check the path of the configuration file.") from None
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"is not valid JSON ({error}).", source, "Fix the JSON syntax.") from None
        if not isinstance(values, dict):
            raise ConfigError("must hold a JSON object.", source, 'Write it as {"optim": {...}, ...}.')
    for override in overrides:
        key, separator, raw = override.partition("=")
        if not separator or not key:
            raise ConfigError(f"override {override!r} is not section.field=value.",
                              fix="Write it like optim.lr=0.0005.")
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = raw
        target = values
        *sections, name = key.split(".")
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override {override!r} names {section!r}, which is not a section.")
        target[name] = parsed
    return _build(TrainingConfig, values, "", source)


def config_fields() -> List[Tuple[str, Any]]:
    """Every ``section.field`` with its default, for help texts and the Slicer panel."""
    result = []

    def walk(obj, prefix):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                result.append((prefix + f.name, value))

    walk(TrainingConfig(), "")
    return result
