"""Where the model shipped with the extension lies, and the model a command runs when none is named.

The model file is kept in the DTCSegmentation module's ``Resources/Models/`` folder, which lies
beside ``DTCSegmentationLib/`` in a source checkout and in an installed Slicer extension
(``lib/Slicer-X.Y/qt-scripted-modules/``); a wheel has no sibling folders, so ``setup.py`` puts
the same folder inside the package (``DTCSegmentationLib/Resources/Models/``).  Both places are
relative to this package, never to the working folder.
"""

from pathlib import Path
from typing import Optional

from DTCSegmentationLib.errors import DTCError, PathLike

DEFAULT_MODEL_NAME = "dtc_default.safetensors"


def default_model_path() -> Path:
    """The shipped model's path; where Slicer installs it if it is in neither place (a stripped-down install)."""
    package = Path(__file__).resolve().parents[1]
    beside, inside = (folder / "Resources" / "Models" / DEFAULT_MODEL_NAME for folder in (package.parent, package))
    return inside if inside.is_file() and not beside.is_file() else beside


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
