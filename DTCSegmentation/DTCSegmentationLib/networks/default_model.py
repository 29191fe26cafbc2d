"""Where the model shipped with the extension lies, and the model a command runs when none is named.

The model file sits in the DTCSegmentation module's ``Resources/Models/`` folder: beside
``DTCSegmentationLib/`` in a source checkout and in an installed Slicer extension
(``qt-scripted-modules/``) alike, so it is found relative to this package, never to the
working folder.
"""

from pathlib import Path
from typing import Optional

from DTCSegmentationLib.errors import DTCError, PathLike

DEFAULT_MODEL_NAME = "dtc_default.safetensors"


def default_model_path() -> Path:
    """The shipped model's path (it may be missing in a stripped-down install)."""
    return Path(__file__).resolve().parents[2] / "Resources" / "Models" / DEFAULT_MODEL_NAME


def model_or_default(path: Optional[PathLike]) -> Path:
    """``path`` itself, or the shipped model when ``path`` is None.

    Raises:
        DTCError: no path was given and the shipped model is not installed.
    """
    if path:
        return Path(path)
    default = default_model_path()
    if not default.is_file():
        raise DTCError("no default model is installed.", default, "Pass --model FILE (train one with `dtc train`).")
    return default
