"""Which of the packages the library needs are importable, without importing them.

Slicer modules use this to tell the user what is missing before anything heavy is
imported (torch in particular must come from Slicer's PyTorch extension, not pip).
"""

from collections import OrderedDict
from importlib import metadata
from typing import Dict, Optional

# Distribution names, in the order a user should install them.
REQUIRED_DISTRIBUTIONS = (
    "torch", "numpy", "opencv-python-headless", "SimpleITK", "pynrrd", "pydicom", "nibabel", "tqdm", "monai",
    "safetensors", "onnx", "onnxruntime", "matplotlib",
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
