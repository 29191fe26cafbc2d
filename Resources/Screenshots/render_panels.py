"""Render the two Slicer panels from their ``.ui`` files to PNG, outside Slicer, for the README.

Slicer's own widget classes (``ctk*``, ``qMRML*``, ``qSlicer*``) are not available outside the
application, so a temporary copy of each ``.ui`` file uses the Qt class each one extends
(a collapsible button becomes a group box, a path line edit a line edit, a node selector a
combo box).  The panels' fields get the values their parameter nodes start with, and the
setup text is the real package report of the environment that renders.  With ``--run`` the
DTC Training panel shows that training run's log, progress and loss / Dice curves.

PySide6 is not a DTC dependency; install it where you run this (not inside Slicer)::

    pip install PySide6-Essentials
    python Resources/Screenshots/render_panels.py --run RUN_FOLDER
"""

import argparse
import ast
import json
import os
import shlex
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "DTCSegmentation"), str(ROOT / "DTCTraining")]

# Qt classes standing in for Slicer's; anything else unknown falls back to its <extends> class.
STAND_INS = {
    "ctkCollapsibleButton": "QGroupBox", "ctkCollapsibleGroupBox": "QGroupBox", "ctkPathLineEdit": "QLineEdit",
    "ctkDirectoryButton": "QPushButton", "ctkSliderWidget": "QDoubleSpinBox", "ctkDoubleSpinBox": "QDoubleSpinBox",
    "ctkComboBox": "QComboBox", "ctkCheckBox": "QCheckBox", "ctkMenuButton": "QPushButton",
    "qMRMLNodeComboBox": "QComboBox", "qMRMLSubjectHierarchyComboBox": "QComboBox",
    "qMRMLSliderWidget": "QDoubleSpinBox", "qMRMLSpinBox": "QDoubleSpinBox", "qMRMLWidget": "QWidget",
    "qMRMLPlotWidget": "QFrame", "qSlicerWidget": "QWidget",
}


def plain_qt_ui(path: Path) -> str:
    """The ``.ui`` text with Slicer's classes replaced by Qt ones (collapsible buttons keep their text as title)."""
    tree = ElementTree.parse(path)
    root = tree.getroot()
    extends = {}
    custom = root.find("customwidgets")
    if custom is not None:
        for entry in custom.findall("customwidget"):
            extends[entry.findtext("class")] = entry.findtext("extends") or "QWidget"
        root.remove(custom)
    connections = root.find("connections")
    if connections is not None:  # signal connections to Slicer-only signals (mrmlSceneChanged)
        root.remove(connections)
    for widget in root.iter("widget"):
        original = widget.get("class")
        if original in STAND_INS or original in extends:
            widget.set("class", STAND_INS.get(original, extends.get(original, "QWidget")))
        if original in ("ctkCollapsibleButton", "ctkCollapsibleGroupBox"):
            for prop in widget.findall("property"):
                if prop.get("name") == "text":
                    prop.set("name", "title")
                elif prop.get("name") == "collapsed":
                    widget.remove(prop)
        for prop in widget.findall("property"):
            # Slicer-only properties (node types, filters...) mean nothing to the stand-ins
            if prop.get("name") in ("nodeTypes", "filters", "noneEnabled", "addEnabled", "removeEnabled",
                                    "renameEnabled", "showChildNodeTypes", "selectNodeUponCreation"):
                widget.remove(prop)
    return ElementTree.tostring(root, encoding="unicode")


def load_panel(module: str):
    from PySide6.QtCore import QFile
    from PySide6.QtUiTools import QUiLoader

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{module}.ui"
        path.write_text(plain_qt_ui(ROOT / module / "Resources" / "UI" / f"{module}.ui"))
        handle = QFile(str(path))
        handle.open(QFile.ReadOnly)
        panel = QUiLoader().load(handle)
        handle.close()
    return panel


def child(panel, name):
    from PySide6.QtWidgets import QWidget

    return panel.findChild(QWidget, name)


def fill_common(panel) -> None:
    from PySide6.QtWidgets import QComboBox, QLabel, QWidget

    from DTCSegmentationLib.dependencies import dependency_status_text, installed_version, missing_requirements

    status = child(panel, "dependencyStatusLabel")
    if isinstance(status, QLabel):
        status.setText(dependency_status_text())
        if installed_version("torch") and not missing_requirements():
            # the panels collapse their Setup section when every package is there
            for widget in child(panel, "setupCollapsibleButton").findChildren(QWidget):
                widget.hide()
    for combo in panel.findChildren(QComboBox):
        if combo.count() == 0:
            combo.addItem("None")


def parameter_defaults(module: str) -> dict:
    """The literal defaults of the module's parameter-node fields (``name: value``), read from its source."""
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    defaults = {}
    for node in tree.body:
        decorators = [getattr(d, "id", "") for d in getattr(node, "decorator_list", [])]
        if isinstance(node, ast.ClassDef) and "parameterNodeWrapper" in decorators:
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and item.value is not None:
                    try:
                        defaults[item.target.id] = ast.literal_eval(item.value)
                    except ValueError:  # computed defaults: the module-specific fill sets those
                        pass
    return defaults


def set_parameters(panel, values: dict, choices: dict = None) -> None:
    """Put ``values`` (by parameter name) into the widgets bound to them, as connectGui would."""
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

    for widget in panel.findChildren(object):
        name = widget.property("SlicerParameterName")
        if not name or name not in values:
            continue
        value = values[name]
        if isinstance(widget, QComboBox):
            widget.clear()
            widget.addItems([str(choice) for choice in (choices or {}).get(name, [value])])
            widget.setCurrentText(str(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.setValue(value)
        elif isinstance(widget, QLineEdit):
            widget.setText(str(value))
            widget.setCursorPosition(0)


def fill_segmentation(panel) -> None:
    """The model line as the panel shows it for an empty model field: the shipped model."""
    from DTCSegmentationLib.networks.default_model import default_model_path
    from DTCSegmentationLib.networks.model_description import describe_model_file

    child(panel, "modelInfoLabel").setText(describe_model_file(default_model_path()))


def fill_training(panel, run: Path = None) -> None:
    from DTCTrainingLib.config import config_fields, load_config
    from DTCSegmentationLib.choices import DEVICES, FLOW_METHODS, NETWORK_NAMES
    from DTCTrainingLib.panel_settings import (
        PANEL_SETTINGS, STAGE_CHOICES, default_value,
    )

    values = {name: default_value(key) for name, key in PANEL_SETTINGS.items()}
    values.update(stage="all", gpus=1)
    choices = {"stage": STAGE_CHOICES, "network": NETWORK_NAMES, "flowMethod": FLOW_METHODS, "device": DEVICES}
    if run is not None:  # the settings that run was started with
        config = load_config(sorted(run.glob("*_config.json"))[-1]).to_dict()
        for name, key in PANEL_SETTINGS.items():
            section, _, field = key.rpartition(".")
            values[name] = (config[section] if section else config)[field]
        other = [f"{key}={shlex.quote(json.dumps(value, separators=(',', ':')) if not isinstance(value, str) else value)}"
                 for key, value in flat_config(config) if key not in PANEL_SETTINGS.values() and key != "data.dataset"
                 and value != dict(config_fields())[key]]
        values.update(dataFolder=config["data"]["dataset"], outputFolder=str(run), otherSettings=" ".join(other))
    set_parameters(panel, values, choices)
    if run is not None:
        # the path edits are kept in step by the panel's code, not bound by a SlicerParameterName
        for name, parameter in (("dataFolderPathLineEdit", "dataFolder"), ("outputFolderPathLineEdit", "outputFolder")):
            child(panel, name).setText(values[parameter])
            child(panel, name).setCursorPosition(0)
        show_run(panel, run)


def flat_config(config: dict, prefix: str = ""):
    """``(section.field, value)`` for a configuration dictionary."""
    for name, value in config.items():
        if isinstance(value, dict) and not (prefix and name == "arguments"):
            yield from flat_config(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value


def show_run(panel, run: Path) -> None:
    """The finished state of a real run: log lines, full progress, status and the curves the panel draws."""
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QLabel

    from DTCTrainingLib.training_process import event_summary

    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    stages = [stage for stage in ("teacher", "student") if any(e["stage"] == stage for e in events)]
    log = child(panel, "logTextEdit")
    log.setPlainText("\n".join(filter(None, map(event_summary, events))))
    log.verticalScrollBar().setValue(log.verticalScrollBar().maximum())  # the panel follows the newest line
    child(panel, "progressBar").setValue(child(panel, "progressBar").maximum())
    done = [e for e in events if e["event"] == "done"][-1]
    child(panel, "statusLabel").setText(f"Finished. Best model: {done['model']}")
    child(panel, "useModelButton").setEnabled(True)
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "curves.png"
        draw_curves(events, stages, image)
        curves = QLabel()
        pixmap = QPixmap(str(image))
        curves.setPixmap(pixmap)
        frame = child(panel, "curvesFrame")
        frame.layout().addWidget(curves)
        frame.setMinimumHeight(pixmap.height() + 2 * frame.layout().contentsMargins().top())


def draw_curves(events, stages, path: Path) -> None:
    """Loss and validation Dice per epoch, the series the panel's plot chart holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from DTCTrainingLib.mrml import CURVE_COLORS, curve_columns

    columns = curve_columns(events, stages)
    figure, axis = plt.subplots(figsize=(4.3, 2.6), dpi=100)
    for stage in stages:
        for quantity, label in (("loss", "loss"), ("val_dice", "validation Dice")):
            axis.plot(columns["epoch"], columns[f"{stage}_{quantity}"], color=CURVE_COLORS[(stage, quantity)],
                      label=f"{stage} {label}")
    axis.set_xlabel("epoch", fontsize=8)
    axis.set_ylabel("loss / Dice", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a DTC training run folder (events.jsonl) to show in DTC Training")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where the PNGs go")
    parser.add_argument("--width", type=int, default=420, help="panel width in pixels")
    parser.add_argument("--modules", nargs="+", choices=("DTCSegmentation", "DTCTraining"),
                        default=["DTCSegmentation", "DTCTraining"], help="the panels to render")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    for module in args.modules:
        panel = load_panel(module)
        set_parameters(panel, parameter_defaults(module))
        fill_common(panel)
        if module == "DTCTraining":
            fill_training(panel, args.run)
        else:
            fill_segmentation(panel)
        panel.resize(args.width, panel.sizeHint().height())
        panel.adjustSize()
        panel.resize(args.width, panel.height())
        target = args.out / f"{module}.png"
        panel.grab().save(str(target))
        print(json.dumps({"panel": module, "png": str(target), "size": [panel.width(), panel.height()]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
