"""The Slicer build, the pip package, the README and CI agree with the files on disk."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from samples import REPO_ROOT

ROOT = REPO_ROOT
MODULES = ("DTCSegmentation", "DTCTraining")


def cmake_list(cmake_text: str, variable: str, module_name: str):
    """Entries of ``set(VARIABLE ...)`` in a CMakeLists text, with ${MODULE_NAME} expanded."""
    match = re.search(r"set\(\s*%s\s+(.*?)\)" % variable, cmake_text, re.S)
    assert match, f"set({variable} ...) not found"
    return {entry.replace("${MODULE_NAME}", module_name) for entry in match.group(1).split()}


def files_on_disk(module_dir: Path, pattern: str, under: str):
    return {
        p.relative_to(module_dir).as_posix()
        for p in (module_dir / under).rglob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize("module", MODULES)
def test_cmake_lists_every_script_and_resource(module):
    module_dir = ROOT / module
    text = (module_dir / "CMakeLists.txt").read_text()
    scripts = cmake_list(text, "MODULE_PYTHON_SCRIPTS", module)
    expected = files_on_disk(module_dir, "*.py", f"{module}Lib") | {f"{module}.py"}
    assert scripts == expected, (
        f"{module}/CMakeLists.txt MODULE_PYTHON_SCRIPTS: missing {sorted(expected - scripts)}, "
        f"stale {sorted(scripts - expected)}"
    )
    resources = cmake_list(text, "MODULE_PYTHON_RESOURCES", module)
    expected = files_on_disk(module_dir, "*", "Resources")
    assert resources == expected, (
        f"{module}/CMakeLists.txt MODULE_PYTHON_RESOURCES: missing {sorted(expected - resources)}, "
        f"stale {sorted(resources - expected)}"
    )
    assert f"Resources/UI/{module}.ui" in resources and f"Resources/Icons/{module}.png" in resources


def test_extension_cmake_builds_both_modules_and_depends_on_pytorch():
    text = (ROOT / "CMakeLists.txt").read_text()
    for module in MODULES:
        assert f"add_subdirectory({module})" in text
    depends = re.search(r'set\(EXTENSION_DEPENDS\s+"([^"]*)"\)', text)
    assert depends and "PyTorch" in depends.group(1).split(";")


def test_slicer_modules_define_module_widget_logic_test_classes():
    for module in MODULES:
        tree = ast.parse((ROOT / module / f"{module}.py").read_text())
        classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
        assert {module, f"{module}Widget", f"{module}Logic", f"{module}Test"} <= classes


def test_everything_slicer_imports_is_python39_syntax():
    """Slicer 5.8 ships Python 3.9: no 3.10+ syntax in module or library code."""
    for module in MODULES:
        for path in sorted((ROOT / module).rglob("*.py")):
            ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))


def test_library_code_uses_no_qt_and_no_slicer_singletons():
    pattern = re.compile(r"^\s*(import qt|from qt |import ctk|from ctk )|slicer\.app\b|slicer\.mrmlScene\b", re.M)
    for module in MODULES:
        for path in sorted((ROOT / module / f"{module}Lib").rglob("*.py")):
            assert not pattern.search(path.read_text()), f"{path} uses Qt or Slicer's application singletons"


def readme_commands():
    """The two quick-start commands: the fenced block after the <!-- quickstart --> marker."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- quickstart -->\s*```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block, "README.md has no quick-start block after <!-- quickstart -->"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_quick_start_is_two_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in ci
    # CI takes the test command from the README itself, so the two cannot drift apart.
    assert "<!-- quickstart -->" in ci


def test_dtc_command_is_installed_and_lists_its_subcommands():
    result = subprocess.run(
        [sys.executable, "-m", "DTCTrainingLib.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "simulate" in result.stdout


def test_dtc_help_loads_no_imaging_or_learning_library():
    # `dtc --help` and argument errors should answer at once, and work before the heavy packages are installed.
    code = ("import sys, runpy; sys.argv = ['dtc', '--help']\n"
            "try:\n    runpy.run_module('DTCTrainingLib.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'cv2', 'SimpleITK', 'monai', 'onnxruntime') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_dependency_report_names_every_pyproject_dependency():
    from DTCSegmentationLib.dependencies import REQUIRED_DISTRIBUTIONS

    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    names = {re.match(r"[A-Za-z0-9_.-]+", line.strip().strip('"')).group(0).lower()
             for line in block.splitlines() if line.strip().startswith('"')}
    assert names == {name.lower() for name in REQUIRED_DISTRIBUTIONS}


LOAD_DEFAULT_MODEL = """
import json, sys
sys.path.insert(0, sys.argv[1])
import DTCSegmentationLib
from DTCSegmentationLib.networks.default_model import default_model_path
from DTCSegmentationLib.networks.model_file import load_model
_, info = load_model(default_model_path())
print(json.dumps({"package": DTCSegmentationLib.__file__, "model": str(default_model_path()),
                  "architecture": info.architecture, "input_size": list(info.input_size)}))
"""


def load_default_model_from(folder: Path) -> dict:
    """Load the default model in an interpreter whose import path is ``folder`` and site-packages only."""
    result = subprocess.run([sys.executable, "-I", "-c", LOAD_DEFAULT_MODEL, str(folder)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(loaded["package"]).resolve().is_relative_to(folder.resolve()), loaded  # not the source tree
    assert Path(loaded["model"]).resolve().is_relative_to(folder.resolve()), loaded
    return loaded


def test_installed_extension_finds_the_default_model(tmp_path):
    """The files each module's CMake lists name, laid out as Slicer's build installs them.

    SlicerMacroBuildScriptedModule.cmake (v5.6.2, v5.8.1, main) hands SCRIPTS and RESOURCES to
    ctkMacroCompilePythonScript with DESTINATION_DIR ``${Slicer_QTSCRIPTEDMODULES_LIB_DIR}`` (no module
    subfolder without WITH_SUBDIR) = ``lib/Slicer-X.Y/qt-scripted-modules`` (SlicerDirectories.cmake);
    CTK's ctkMacroCompilePythonScript.cmake copies each listed file to ``DESTINATION_DIR/<its relative
    path>`` and installs that folder as it is.  Both modules of the extension share it.
    """
    tree = tmp_path / "lib" / "Slicer-5.8" / "qt-scripted-modules"
    for module in MODULES:
        text = (ROOT / module / "CMakeLists.txt").read_text()
        for variable in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
            for entry in cmake_list(text, variable, module):
                (tree / entry).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / module / entry, tree / entry)
    loaded = load_default_model_from(tree)
    assert Path(loaded["model"]) == tree / "Resources" / "Models" / "dtc_default.safetensors"
    assert (loaded["architecture"], loaded["input_size"]) == ("fast_unet", [128, 160])  # MODEL_CARD.md


def test_wheel_ships_the_default_model(tmp_path):
    """``pip wheel .`` then ``pip install --target``: the wheel alone holds a loadable default model."""
    pytest.importorskip("setuptools", minversion="70.1", reason="building the wheel without isolation needs setuptools")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "out", "dtc_demo"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run(pip + ["wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("slicer_dtc-*.whl"))
    target = tmp_path / "target"
    installed = subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    loaded = load_default_model_from(target)
    assert Path(loaded["model"]) == target / "DTCSegmentationLib" / "Resources" / "Models" / "dtc_default.safetensors"
    assert (loaded["architecture"], loaded["input_size"]) == ("fast_unet", [128, 160])  # MODEL_CARD.md


def cmake_setting(name: str) -> str:
    match = re.search(r'set\(%s\s+"([^"]*)"\)' % name, (ROOT / "CMakeLists.txt").read_text())
    assert match, name
    return match.group(1)


def test_license_is_the_apache_license_pyproject_names():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert re.search(r'^license = \{ text = "Apache-2.0" \}', (ROOT / "pyproject.toml").read_text(), re.M)


# The catalog entry schema v1.0.2 (Slicer/Slicer Schemas/slicer-extension-catalog-entry-schema-v1.0.2.json, the copy in
# Slicer/ExtensionsIndex schemas/): required $schema, category, scm_url; no other properties than these, with their types.
CATALOG_PROPERTIES = {"$schema": str, "category": str, "scm_url": str, "scm_revision": str, "scm_type": str,
                      "build_dependencies": list, "dicom_support_rule": str, "build_subdirectory": str, "enabled": bool,
                      "tier": int}


def test_extension_description_matches_the_catalog_schema_and_the_cmake_project():
    raw = (ROOT / "DTC.json").read_bytes()
    assert b"\r" not in raw  # the index's check_json_file_format: LF only
    description = json.loads(raw)
    assert {"$schema", "category", "scm_url"} <= set(description) <= set(CATALOG_PROPERTIES)
    for key, value in description.items():
        assert isinstance(value, CATALOG_PROPERTIES[key]), key
    assert description["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.2.json#")
    assert 1 <= description["tier"] <= 5
    assert re.search(r"^project\(DTC\)", (ROOT / "CMakeLists.txt").read_text(), re.M)  # the file's name is the project's
    assert description["category"] == cmake_setting("EXTENSION_CATEGORY")
    assert description["scm_url"] == cmake_setting("EXTENSION_HOMEPAGE") + ".git"
    assert description["build_dependencies"] == cmake_setting("EXTENSION_DEPENDS").split(";")


INDEX_CHECKS = """
import json, shutil, sys, tempfile
from pathlib import Path
index, root = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(index / "scripts"))
import check_description_files as checks
description = checks.parse_json(str(root / "DTC.json"))
checks.check_json_file_format("DTC", description, str(root / "DTC.json"))
checks.check_extension_name("DTC", description)
checks.check_category("DTC", description)
checks.check_git_repository_name("DTC", description)
checks.check_scm_url_syntax("DTC", description)
checks.check_license_file("DTC", description, str(root))
catalog = Path(tempfile.mkdtemp()) / "catalog"
shutil.copytree(index, catalog, ignore=shutil.ignore_patterns(".git"))
shutil.copy(root / "DTC.json", catalog / "DTC.json")
checks.check_dependencies(str(catalog))
schema = "not checked: jsonschema is not installed"
if checks.jsonschema is not None:
    checks.jsonschema.validate(description, json.loads(
        (index / "schemas" / "slicer-extension-catalog-entry-schema-v1.0.2.json").read_text()))
    schema = "valid"
print(json.dumps({"schema": schema}))
"""


def test_extension_description_passes_the_extensions_index_checks():
    """The index's own scripts/check_description_files.py, from a checkout named by DTC_EXTENSIONS_INDEX, run by
    DTC_EXTENSIONS_INDEX_PYTHON (the index's CI uses Python 3.12, and the script needs it).

    Its main() clones the repository and downloads the schema, so the checks that work offline run one by one:
    JSON format, extension and repository names, category, SCM URL, licence file, build dependencies being catalog
    entries; the schema is validated with the script's jsonschema against the index's own copy (schemas/).
    """
    index = os.environ.get("DTC_EXTENSIONS_INDEX")
    if not index:
        pytest.skip("set DTC_EXTENSIONS_INDEX to a Slicer/ExtensionsIndex checkout to run its checks")
    python = os.environ.get("DTC_EXTENSIONS_INDEX_PYTHON", sys.executable)
    result = subprocess.run([python, "-c", INDEX_CHECKS, index, str(ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"schema": "valid"}, result.stdout[-2000:]
