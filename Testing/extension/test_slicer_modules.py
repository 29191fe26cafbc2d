"""The Slicer panels, checked without Slicer: widget names, parameter-node bindings, settings and packaging."""

import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from DTCSegmentationLib.choices import DEVICES, NETWORK_NAMES
from DTCTrainingLib.config import config_fields, load_config
from DTCTrainingLib.panel_settings import PANEL_SETTINGS, default_value, panel_overrides
from DTCTrainingLib.training_process import override_arguments
from samples import REPO_ROOT

ROOT = REPO_ROOT
MODULES = ("DTCSegmentation", "DTCTraining")


def ui_tree(module):
    return ElementTree.parse(ROOT / module / "Resources" / "UI" / f"{module}.ui")


def ui_widget_names(module):
    return {widget.get("name") for widget in ui_tree(module).iter("widget")}


def ui_parameter_bindings(module):
    """``{widget name: parameter name}`` from the widgets' SlicerParameterName dynamic properties."""
    bindings = {}
    for widget in ui_tree(module).iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bindings[widget.get("name")] = prop.find("string").text
    return bindings


def parameter_node_fields(module):
    """Field names of the module's ``@parameterNodeWrapper`` classes (empty if it has none)."""
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    fields = set()
    for node in tree.body:
        decorators = [getattr(d, "id", getattr(d, "attr", "")) for d in getattr(node, "decorator_list", [])]
        if isinstance(node, ast.ClassDef) and "parameterNodeWrapper" in decorators:
            fields |= {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
    return fields


@pytest.mark.parametrize("module", MODULES)
def test_every_widget_the_code_uses_is_in_the_ui_file(module):
    used = set(re.findall(r"\bself\.ui\.(\w+)", (ROOT / module / f"{module}.py").read_text()))
    assert used, f"{module}.py uses no widgets of its .ui"
    missing = used - ui_widget_names(module)
    assert not missing, f"{module}.py uses widgets that {module}.ui does not define: {sorted(missing)}"


@pytest.mark.parametrize("module", MODULES)
def test_ui_parameter_bindings_name_parameter_node_fields(module):
    unknown = set(ui_parameter_bindings(module).values()) - parameter_node_fields(module)
    assert not unknown, f"{module}.ui binds widgets to parameters its parameter node lacks: {sorted(unknown)}"


@pytest.mark.parametrize("module", MODULES)
def test_module_cmake_runs_the_self_test(module):
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in (ROOT / module / "CMakeLists.txt").read_text()


def test_training_panel_binds_every_training_setting():
    fields = parameter_node_fields("DTCTraining")
    bound = set(ui_parameter_bindings("DTCTraining").values())
    expected = set(PANEL_SETTINGS) | {"dataFolder", "useSceneData", "outputFolder", "stage", "gpus", "otherSettings"}
    assert expected <= fields and expected <= bound, (sorted(expected - fields), sorted(expected - bound))


def test_panel_defaults_are_the_configurations():
    defaults = dict(config_fields())
    for key in PANEL_SETTINGS.values():
        assert default_value(key) == defaults[key], key
    assert defaults["device"] in DEVICES and defaults["network.name"] in NETWORK_NAMES


def test_panel_values_become_the_run_configuration():
    values = {"epochs": 7, "network": "unet", "weightConsistency": 1.5, "amp": True, "height": 128, "unrelated": 1}
    overrides = panel_overrides(values, "optim.lr=0.0005 'data.val=P01,P02' optim.epochs=9")
    config = load_config(overrides=override_arguments(overrides))
    assert (config.optim.epochs, config.network.name, config.student.weight_consistency) == (9, "unet", 1.5)
    assert (config.optim.amp, config.data.height, config.optim.lr, config.data.val) == (True, 128, 5e-4, ["P01", "P02"])
    with pytest.raises(Exception, match="unknown setting optim.learning_rate"):
        panel_overrides({}, "optim.learning_rate=1")
    with pytest.raises(Exception, match="is not section.field=value"):
        panel_overrides({}, "optim.lr")


# Everything the DTC modules need that Slicer does not ship: none of it may load with the module.
NOT_IN_SLICER = ("torch", "cv2", "monai", "safetensors", "onnx", "onnxruntime", "nibabel", "pynrrd", "matplotlib",
                 "tqdm", "pyigtl")


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_without_the_packages_it_installs(module):
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    imported = sorted({node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                       and node.col_offset == 0 and (node.module or "").startswith("DTC")})
    assert imported
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {NOT_IN_SLICER!r}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        + "".join(f"import {name}\n" for name in imported)
    )
    result = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
