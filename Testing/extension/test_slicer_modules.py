"""The Slicer panels, checked without Slicer: widget names, parameter-node bindings, settings and packaging."""

import ast
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

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


def module_path_edits(module):
    """The module's ``PATH_EDITS``: path edits its panel keeps in step with string parameters itself."""
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "PATH_EDITS" for target in node.targets):
            return ast.literal_eval(node.value)
    return {}


@pytest.mark.parametrize("module", MODULES)
def test_path_edits_the_panel_syncs_are_ui_widgets_and_string_fields(module):
    edits = module_path_edits(module)
    assert edits, f"{module}.py has no PATH_EDITS"
    assert set(edits) <= ui_widget_names(module) and set(edits.values()) <= parameter_node_fields(module)
    assert not set(edits) & set(ui_parameter_bindings(module)), "bound twice: by the wrapper and by the panel"


def test_training_panel_binds_every_training_setting():
    fields = parameter_node_fields("DTCTraining")
    bound = set(ui_parameter_bindings("DTCTraining").values()) | set(module_path_edits("DTCTraining").values())
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


# Everything the DTC modules need that Slicer does not ship (module: distribution); none of it may load
# with the module.  Slicer ships numpy, SimpleITK and pydicom.
NOT_IN_SLICER = {"torch": "torch", "cv2": "opencv-python-headless", "monai": "monai", "safetensors": "safetensors",
                 "onnx": "onnx", "onnxruntime": "onnxruntime", "nibabel": "nibabel", "nrrd": "pynrrd",
                 "matplotlib": "matplotlib", "tqdm": "tqdm", "pyigtl": "pyigtl", "py_sod_metrics": "pysodmetrics",
                 "scipy": "scipy"}
# A Slicer before the panel's Install: the modules cannot be imported and the distributions are not installed.
BLOCKER = (
    "import sys\n"
    "from importlib import metadata\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    f"        if name.split('.')[0] in {sorted(NOT_IN_SLICER)!r}:\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
    "installed_version = metadata.version\n"
    "def version(name):\n"
    f"    if name.lower() in {sorted(NOT_IN_SLICER.values())!r}:\n"
    "        raise metadata.PackageNotFoundError(name)\n"
    "    return installed_version(name)\n"
    "metadata.version = version\n"
)


def run_blocked(script: str, *arguments: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter where importing any of :data:`NOT_IN_SLICER` fails (as before the
    panel's Install), with the Testing folder (stand-ins) on the path."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "Testing")] + [p for p in environment.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.run([sys.executable, "-c", BLOCKER + script, *arguments], capture_output=True, text=True,
                          timeout=120, env=environment)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_without_the_packages_it_installs(module):
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    imported = sorted({node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                       and node.col_offset == 0 and (node.module or "").startswith("DTC")})
    assert imported
    result = run_blocked("".join(f"import {name}\n" for name in imported))
    assert result.returncode == 0, result.stderr[-2000:]


PANEL_BEFORE_INSTALLATION = """
import json, sys
import slicer
import slicer_stand_ins as stand_ins
from DTCSegmentationLib.mrml.scene import new_scene

scene = new_scene()
assert scene.ReadFromMRB(sys.argv[1])  # a scene saved after a run, opened before the packages are installed
stand_ins.install(scene=scene)
segmentation = stand_ins.load_module("DTCSegmentation")
panel = segmentation.DTCSegmentationWidget()
panel.setup()  # the dependency status, and the parameter node: the panel shows the run's summary
panel.onShowFlicker(False)
panel.onShowCurves()
panel.onDefaultModel()
training = stand_ins.load_module("DTCTraining")
trainingPanel = training.DTCTrainingWidget()
trainingPanel.setup()
print(json.dumps({"summary": panel.ui.summaryLabel.text, "model": str(panel._parameterNode.modelPath),
                  "resumable": trainingPanel.ui.resumeButton.enabled}))
"""


def test_panel_paths_that_run_before_installation_import_none_of_the_packages(tmp_path, mrml):
    """What a user can do before Install: open a scene with a run (summary, flicker overlay, curves),
    pick the default model, see the dependency status; and the training panel's buttons."""
    from DTCSegmentationLib import mrml as dtc_mrml
    from samples import recording, tiny_segmenter

    stand_ins = pytest.importorskip("slicer_stand_ins")
    with stand_ins.installed(scene=dtc_mrml.new_scene()):
        module = stand_ins.load_module("DTCSegmentation")
        frames = recording(num_frames=4)
        sequence = dtc_mrml.add_volume_sequence(mrml.mrmlScene, frames, "sweep")
        browser = dtc_mrml.add_sequence_browser(mrml.mrmlScene, [sequence], "sweep browser")
        run = dtc_mrml.segment_recording(mrml.mrmlScene, browser, tiny_segmenter(tmp_path, frames))
        parameters = module.DTCSegmentationLogic().getParameterNode()
        parameters.inputNode, parameters.masks = browser, run.masks
        parameters.consistencyChart = run.chart
        bundle = dtc_mrml.write_scene_bundle(mrml.mrmlScene, tmp_path / "run.mrb")
    result = run_blocked(PANEL_BEFORE_INSTALLATION, str(bundle))
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["summary"].startswith("4 frames | consistency "), shown
    assert shown["model"] == str(ROOT / "DTCSegmentation" / "Resources" / "Models" / "dtc_default.safetensors")
    assert shown["resumable"] is False


RUN_UNIT_TEST = """
import json, sys, unittest
import slicer_stand_ins as stand_ins

stand_ins.install(testing=True)
stand_ins.load_module(sys.argv[1], register=True)
# Slicer's Base/Python/slicer/testing.py runUnitTest(path, testname), what slicer_add_python_unittest's ctest
# runs (CMake/SlicerMacroPythonTesting.cmake): the module's tests loaded by name, run by a TextTestRunner.
suite = unittest.TestLoader().loadTestsFromName(sys.argv[1])
result = unittest.TextTestRunner(verbosity=2).run(suite)
print(json.dumps({"run": result.testsRun, "errors": [str(test) for test, _ in result.errors + result.failures],
                  "skipped": {test._testMethodName: reason for test, reason in result.skipped}}))
"""


@pytest.mark.parametrize("module", MODULES)
def test_ctest_runs_each_self_test_method_and_those_needing_the_packages_skip(module):
    result = run_blocked(RUN_UNIT_TEST, module)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    tree = ast.parse((ROOT / module / f"{module}.py").read_text())
    test_class = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == f"{module}Test")
    methods = {node.name for node in test_class.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test")}
    assert outcome["run"] == len(methods) and outcome["errors"] == [], result.stderr[-3000:]
    assert set(outcome["skipped"]) == methods - {"test_dependency_report"}
    assert all("missing" in reason for reason in outcome["skipped"].values())


def ui_number_ranges(module):
    """``{parameter: (minimum, maximum)}`` of the .ui's bound spin boxes and sliders that set both."""
    ranges = {}
    for widget in ui_tree(module).iter("widget"):
        values = {prop.get("name"): prop.find("number") if prop.find("number") is not None else prop.find("double")
                  for prop in widget.findall("property")}
        name = ui_parameter_bindings(module).get(widget.get("name"))
        if name and values.get("minimum") is not None and values.get("maximum") is not None:
            ranges[name] = (float(values["minimum"].text), float(values["maximum"].text))
    return ranges


@pytest.mark.parametrize("module", MODULES)
def test_bound_spin_boxes_keep_the_range_of_the_ui_file(stand_ins, module):
    """Slicer's parameterNodeWrapper/guiConnectors.py (the int spin box / slider connector and the float one, 5.6.2
    to main) sets the widget's range when it binds: WithinRange's bounds, else Minimum / Maximum with the other
    end at -2**31 / 2**31 - 1 (int) or -inf / inf (float) - replacing the .ui's range."""
    parameters = getattr(stand_ins.load_module(module), f"{module}ParameterNode").allParameters
    ranges = ui_number_ranges(module)
    assert ranges, module
    for name, ui_range in ranges.items():
        actual, annotations, _ = parameters[name]
        unbounded = (-2.0 ** 31, 2.0 ** 31 - 1) if actual is int else (float("-inf"), float("inf"))
        within = [a for a in annotations if isinstance(a, stand_ins.WithinRange)]
        minimum = [a.minimum for a in annotations if isinstance(a, stand_ins.Minimum)]
        maximum = [a.maximum for a in annotations if isinstance(a, stand_ins.Maximum)]
        bound = (within[0].minimum, within[0].maximum) if within else (
            minimum[0] if minimum else unbounded[0], maximum[0] if maximum else unbounded[1])
        assert tuple(map(float, bound)) == ui_range, f"{module}.{name}: the panel would offer {bound}, the .ui {ui_range}"


@pytest.mark.parametrize("module", MODULES)
def test_path_widgets_never_show_a_dot(stand_ins, module):
    """A path widget bound to a pathlib field shows ``str(value)`` (guiConnectors.py ctkPathLineEdit /
    ctkDirectoryButton connectors), and an unset pathlib field is ``Path()`` (serializers.py PathSerializer.default)."""
    parameters = getattr(stand_ins.load_module(module), f"{module}ParameterNode").allParameters
    classes = {widget.get("name"): widget.get("class") for widget in ui_tree(module).iter("widget")}
    for widget, name in ui_parameter_bindings(module).items():
        if classes[widget] in ("ctkPathLineEdit", "ctkDirectoryButton"):
            actual, _, default = parameters[name]
            assert actual in stand_ins.PATH_TYPES, f"{module}.{name}: no connector binds {classes[widget]} to {actual}"
            assert str(default) != ".", f"{module}.{name} shows '.' until set"


def pyproject_torch_specifier() -> str:
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    return re.search(r'"torch([<>=!~][^";]*)"', block).group(1)


@pytest.mark.parametrize("module, install", [("DTCSegmentation", "installDependencies"), ("DTCTraining", "ensureDependencies")])
def test_both_modules_install_the_torch_version_pyproject_names(stand_ins, module, install):
    logic = getattr(stand_ins.load_module(module), f"{module}Logic")()
    assert getattr(logic, install)() is True
    assert stand_ins.PyTorchUtilsLogic.installs == [{"askConfirmation": False,
                                                     "torchVersionRequirement": pyproject_torch_specifier()}]
    assert [kind for kind, _ in stand_ins.DISPLAYED] == ["confirm"]  # asked first, in DTC's own words


TEXT_ATTRIBUTES = {"text", "toolTip", "title", "helpText", "acknowledgementText", "placeholderText"}


def untranslated_strings(path: Path):
    """User-visible string literals not marked with ``_()``, and ``_()`` calls lupdate cannot read."""
    problems = []

    def literal(node):
        return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)
                                                    and node.value.strip() != "")

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and literal(node.value) and any(
                isinstance(target, ast.Attribute) and target.attr in TEXT_ATTRIBUTES for target in node.targets):
            problems.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name.endswith("Display") or name == "_enable":
                arguments = node.args[1:] if name == "_enable" else node.args[:1]
                problems += [f"line {node.lineno}: {ast.unparse(node)[:80]}" for argument in arguments if literal(argument)]
            if name == "_" and not (len(node.args) == 1 and isinstance(node.args[0], ast.Constant)):
                problems.append(f"line {node.lineno}: _() of something lupdate cannot read: {ast.unparse(node)[:80]}")
    return problems


@pytest.mark.parametrize("module", MODULES)
def test_user_visible_strings_are_marked_for_translation(module):
    """As Slicer's own modules and template do: ``from slicer.i18n import tr as _`` (5.6.2, 5.8.1, main)."""
    problems = untranslated_strings(ROOT / module / f"{module}.py")
    assert not problems, "\n".join(problems)


RELOAD = """
import importlib, json, sys
import slicer_stand_ins as stand_ins

stand_ins.install()
name = sys.argv[1]
library = name + "Lib"
module = stand_ins.load_module(name)
panel = getattr(module, name + "Widget")()
panel.setup()
before = importlib.import_module(library + ".run_folder" if name == "DTCTraining" else library + ".choices")
panel.onReload()
gone = [loaded for loaded in sys.modules if loaded == library or loaded.startswith(library + ".")]
after = importlib.import_module(before.__name__)
print(json.dumps({"left": gone, "fresh": after is not before, "reloaded": stand_ins.ScriptedLoadableModuleWidget.reloads}))
"""


@pytest.mark.parametrize("module", MODULES)
def test_reload_reloads_the_library_too(module):
    """Slicer's Reload re-executes only the module file (util.py reloadScriptedModule); the panel drops its
    library from ``sys.modules`` first, so the re-executed file imports the edited library."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "Testing"), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", RELOAD, module], capture_output=True, text=True, timeout=120,
                            env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"left": [], "fresh": True, "reloaded": [module]}


def test_sample_data_offers_a_simulated_sweep_made_on_the_spot(stand_ins, mrml):
    slicer = mrml
    module = stand_ins.load_module("DTCSegmentation")
    module.DTCSegmentation(stand_ins.Widget())  # Slicer creates the module at startup
    assert stand_ins.SampleDataLogic.sources == {}
    slicer.app.startup.emit()  # startupCompleted(): the module registers its sample
    (source,) = stand_ins.SampleDataLogic.sources["DTC"]
    assert Path(source.thumbnailFileName).is_file()
    browser = stand_ins.SampleDataLogic.click("DTC", source.sampleName)
    assert stand_ins.DISPLAYED == [] and browser.GetClassName() == "vtkMRMLSequenceBrowserNode"
    sequence = browser.GetMasterSequenceNode()
    assert sequence.GetNumberOfDataNodes() == 60
    proxy = browser.GetProxyNode(sequence)
    assert proxy.GetImageData().GetDimensions() == (448, 256, 1)  # dtc simulate's default size, one frame
