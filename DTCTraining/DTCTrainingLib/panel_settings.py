"""The training settings the DTCTraining panel shows, and how they become ``dtc train --set`` overrides.

Defaults come from the configuration dataclasses (``config.py``) without instantiating them,
so the Slicer module can define its parameter node before OpenCV or torch are installed.
"""

import dataclasses
import shlex
from typing import Any, Dict, Mapping

from DTCTrainingLib.config import ConfigError, TrainingConfig

PANEL_SETTINGS = {
    # parameter-node name: configuration key
    "network": "network.name",
    "epochs": "optim.epochs",
    "batchSize": "optim.batch_size",
    "height": "data.height",
    "width": "data.width",
    "weightSegmentation": "student.weight_seg",
    "weightDistillation": "student.weight_kd",
    "weightConsistency": "student.weight_consistency",
    "weightPrototype": "student.weight_prototype",
    "flowMethod": "student.flow_method",
    "device": "device",
    "amp": "optim.amp",
}

STAGE_CHOICES = ("all", "teacher", "student")


def default_value(key: str) -> Any:
    """The default of configuration key ``section.field`` (e.g. ``optim.epochs``)."""
    cls = TrainingConfig
    *sections, name = key.split(".")
    for section in sections:
        cls = _field(cls, section, key).default_factory
    entry = _field(cls, name, key)
    if entry.default is not dataclasses.MISSING:
        return entry.default
    return entry.default_factory()


def _field(cls, name: str, key: str) -> dataclasses.Field:
    for entry in dataclasses.fields(cls):
        if entry.name == name:
            return entry
    raise ConfigError(f"unknown setting {key}.", fix="See `dtc train --help` for the configuration keys.")


def panel_overrides(values: Mapping[str, Any], other: str = "") -> Dict[str, Any]:
    """``{configuration key: value}`` for the panel's settings ``values`` (by parameter name) and ``other``.

    ``other`` is free text of further ``section.field=value`` items separated by spaces
    (quote a value that holds spaces); they win over the panel's fields.
    """
    overrides = {PANEL_SETTINGS[name]: value for name, value in values.items() if name in PANEL_SETTINGS}
    for item in shlex.split(other or ""):
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise ConfigError(f"other setting {item!r} is not section.field=value.",
                              fix="Write it like optim.lr=0.0005 (several separated by spaces).")
        default_value(key)  # an unknown key fails here, before anything is launched
        overrides[key] = value
    return overrides
