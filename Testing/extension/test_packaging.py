"""The Slicer build, the pip package, the README and CI agree with the files on disk."""

import ast
import re
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


def test_dependency_report_names_every_pyproject_dependency():
    from DTCSegmentationLib.dependencies import REQUIRED_DISTRIBUTIONS

    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    names = {re.match(r"[A-Za-z0-9_.-]+", line.strip().strip('"')).group(0).lower()
             for line in block.splitlines() if line.strip().startswith('"')}
    assert names == {name.lower() for name in REQUIRED_DISTRIBUTIONS}
