"""Dependencies inside Slicer: the requirements file is pyproject's list without torch; installation order and pins."""

import re
from pathlib import Path

import pytest
from DTCSegmentationLib.dependencies import (
    SLICER_REQUIREMENTS,
    ensure_dependencies,
    installed_version,
    missing_requirements,
)
from DTCSegmentationLib.errors import DTCError
from samples import REPO_ROOT

ROOT = REPO_ROOT


def requirement_lines(text: str):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_slicer_requirements_are_pyproject_dependencies_without_torch():
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    pyproject = [re.match(r'\s*"([^"]+)"', line).group(1) for line in block.splitlines() if line.strip().startswith('"')]
    assert any(line.startswith("torch") for line in pyproject)
    expected = [line for line in pyproject if not re.match(r"torch\b", line)]
    assert requirement_lines(SLICER_REQUIREMENTS.read_text()) == expected
    assert "Resources/requirements.txt" in (ROOT / "DTCSegmentation" / "CMakeLists.txt").read_text()


def test_missing_requirements_checks_versions_and_markers(tmp_path):
    numpy = installed_version("numpy")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join([
        "# comment", "", "-c constraints.txt",
        f"numpy=={numpy}",  # installed: not missing
        "numpy>=999",  # installed, too old
        "dtc-no-such-distribution>=1.0",  # absent
        "dtc-no-such-distribution-either; python_version < '3'",  # not for this Python
    ]))
    assert missing_requirements(requirements) == ["numpy>=999", "dtc-no-such-distribution>=1.0"]


def test_the_modules_requirements_file_is_judged_by_the_installed_versions(monkeypatch):
    # Versions are faked, so the outcome does not depend on what this machine has installed.
    installed = {"numpy": "1.23.0", "opencv-python-headless": "4.8.0", "SimpleITK": "2.2.0", "pynrrd": "1.0.0",
                 "pydicom": "3.0.0", "nibabel": "4.0.0", "tqdm": "4.60.0", "monai": "1.3.0", "safetensors": "0.4.0",
                 "onnx": "1.14.0", "onnxruntime": "1.16.0", "matplotlib": "3.5.0", "pyigtl": "0.3.0",
                 "pysodmetrics": "1.4.0", "scipy": "1.9.0"}
    monkeypatch.setattr("DTCSegmentationLib.dependencies.installed_version", installed.get)
    assert missing_requirements() == []  # every minimum met exactly
    installed.update(monai="1.2.9", pyigtl=None)
    assert missing_requirements() == ["monai>=1.3", "pyigtl>=0.3"]


class Installer:
    """Records what the modules would ask PyTorchUtils and pip to do, answering prompts with ``answers``."""

    def __init__(self, torch_present=True, answers=(True, True)):
        self.torch_present, self.answers, self.calls = torch_present, list(answers), []

    def torch_installed(self):
        return self.torch_present

    def install_torch(self, requirement):
        self.calls.append(("install_torch", requirement))
        return "torch"

    def confirm(self, text):
        self.calls.append(("confirm", text))
        return self.answers.pop(0)

    def pip_install(self, arguments):
        constraints = Path(arguments[arguments.index("-c") + 1]).read_text()
        self.calls.append(("pip", arguments[:arguments.index("-c")], constraints))

    def ensure(self, requirements):
        return ensure_dependencies(self.torch_installed, self.install_torch, self.confirm, self.pip_install, requirements)


def test_torch_comes_from_the_pytorch_extension_and_pip_never_replaces_it(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("dtc-no-such-distribution>=1.0\nnumpy>=1.0\n")
    installer = Installer(torch_present=False)
    # pip is only recorded here, so the package is still missing afterwards and that is reported
    with pytest.raises(DTCError, match="did not install dtc-no-such-distribution"):
        installer.ensure(requirements)
    kinds = [call[0] for call in installer.calls]
    assert kinds == ["confirm", "install_torch", "confirm", "pip"]
    assert "PyTorch" in installer.calls[0][1] and "dtc-no-such-distribution" in installer.calls[2][1]
    assert installer.calls[1][1] == pyproject_torch_specifier()
    _, arguments, constraints = installer.calls[3]
    assert arguments == ["dtc-no-such-distribution>=1.0"]
    assert constraints.strip() == f"torch=={installed_version('torch')}"


def test_nothing_is_installed_when_the_user_declines(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("dtc-no-such-distribution>=1.0\n")
    declined_torch = Installer(torch_present=False, answers=[False])
    assert declined_torch.ensure(requirements) is False and len(declined_torch.calls) == 1
    declined_pip = Installer(answers=[False])
    assert declined_pip.ensure(requirements) is False and [c[0] for c in declined_pip.calls] == ["confirm"]
    installed = tmp_path / "installed.txt"
    installed.write_text("numpy>=1.0\n")  # present in every environment that runs these tests
    satisfied = Installer(torch_present=True)
    assert satisfied.ensure(installed) is True and satisfied.calls == []


def pyproject_torch_specifier() -> str:
    """The version specifier of pyproject's torch dependency, e.g. ``>=2.1``."""
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    return re.search(r'"torch([<>=!~][^";]*)"', block).group(1)
