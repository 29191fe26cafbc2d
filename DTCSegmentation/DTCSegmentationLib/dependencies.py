"""Which of the packages the library needs are importable, without importing them.

Slicer modules use this to tell the user what is missing before anything heavy is
imported (torch in particular must come from Slicer's PyTorch extension, not pip), and
:func:`ensure_dependencies` to install it on first use, with the user's consent.
"""

import tempfile
from collections import OrderedDict
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional

from DTCSegmentationLib.errors import DTCError, PathLike

# Distribution names, in the order a user should install them.
REQUIRED_DISTRIBUTIONS = (
    "torch", "numpy", "opencv-python-headless", "SimpleITK", "pynrrd", "pydicom", "nibabel", "tqdm", "monai",
    "safetensors", "onnx", "onnxruntime", "matplotlib", "pyigtl", "pysodmetrics", "scipy",
)


def installed_version(distribution: str) -> Optional[str]:
    """The installed version of ``distribution`` (a pip name), or None if it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def dependency_report() -> Dict[str, Optional[str]]:
    """``{distribution: version or None}`` for every package the library needs."""
    return OrderedDict((name, installed_version(name)) for name in REQUIRED_DISTRIBUTIONS)


def dependency_status_text() -> str:
    """One line per required package, ``name: version`` or ``name: missing``, for the Slicer panels."""
    return "\n".join(f"{name}: {version or 'missing'}" for name, version in dependency_report().items())


# ---------------------------------------------------------------------- inside Slicer
SLICER_REQUIREMENTS = Path(__file__).resolve().parent.parent / "Resources" / "requirements.txt"
"""pyproject's dependencies without torch (next to the modules' other resources, in the source tree and in Slicer)."""
TORCH_REQUIREMENT = ">=2.1"
"""The torch versions both Slicer modules install (pyproject's ``torch>=2.1``)."""


def _requirement_class():
    try:
        from packaging.requirements import Requirement
    except ImportError:  # Slicer before 5.10 ships pip, whose vendored copy is the same library
        from pip._vendor.packaging.requirements import Requirement
    return Requirement


def missing_requirements(requirements_file: PathLike = SLICER_REQUIREMENTS) -> List[str]:
    """The lines of a requirements file that apply to this Python and are not installed in a matching version."""
    requirement_class = _requirement_class()
    missing = []
    for line in Path(requirements_file).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        requirement = requirement_class(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = installed_version(requirement.name)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(line)
    return missing


def dependencies_ready(requirements_file: PathLike = SLICER_REQUIREMENTS) -> bool:
    """Whether torch and every requirement are installed (nothing is imported to find out)."""
    return installed_version("torch") is not None and not missing_requirements(requirements_file)


def ensure_with_pytorch_utils(pytorch_logic, confirm: Callable[[str], bool],
                              pip_install: Callable[[List[str]], object]) -> bool:
    """:func:`ensure_dependencies` through Slicer's PyTorch extension: what both modules' Install does.

    ``pytorch_logic`` is a ``PyTorchUtils.PyTorchUtilsLogic()`` (fepegar/SlicerPyTorch, PyTorchUtils.py:
    ``torchInstalled()``, ``installTorch(askConfirmation, forceComputationBackend, torchVersionRequirement, ...)``).
    """
    return ensure_dependencies(
        pytorch_logic.torchInstalled,
        lambda requirement: pytorch_logic.installTorch(askConfirmation=False, torchVersionRequirement=requirement),
        confirm, pip_install)


def _satisfies(version: Optional[str], specifier: str) -> bool:
    if version is None:
        return False
    requirement = _requirement_class()(f"torch{specifier}")
    return requirement.specifier.contains(version, prereleases=True)


def ensure_dependencies(torch_installed: Callable[[], bool], install_torch: Callable[[str], object],
                        confirm: Callable[[str], bool], pip_install: Callable[[List[str]], object],
                        requirements_file: PathLike = SLICER_REQUIREMENTS) -> bool:
    """Torch through Slicer's PyTorch extension, then the missing requirements through pip; True when all are there.

    ``install_torch`` is called with :data:`TORCH_REQUIREMENT` (e.g. ``">=2.1"``) when torch is missing or
    older.  The Slicer modules go through :func:`ensure_with_pytorch_utils`.  Nothing is installed
    without ``confirm`` returning True.  pip runs with the installed torch pinned as a
    constraint, so a requirement that depends on torch (MONAI) can never replace it.
    """
    if not torch_installed() or not _satisfies(installed_version("torch"), TORCH_REQUIREMENT):
        if not confirm(f"DTC needs PyTorch {TORCH_REQUIREMENT}. Install it now with the PyTorch extension "
                       "(this can take minutes)?"):
            return False
        if install_torch(TORCH_REQUIREMENT) is None:
            return False
    missing = missing_requirements(requirements_file)
    if not missing:
        return True
    if not confirm("DTC needs these Python packages: " + ", ".join(missing) + ". Install them now with pip?"):
        return False
    with tempfile.TemporaryDirectory(prefix="dtc-pip-") as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text(f"torch=={installed_version('torch')}\n")
        pip_install(missing + ["-c", str(constraints)])
    still_missing = missing_requirements(requirements_file)
    if still_missing:
        raise DTCError(f"pip did not install {', '.join(still_missing)}.", requirements_file,
                       "See the Python console for pip's message, then restart Slicer and try again.")
    return True
