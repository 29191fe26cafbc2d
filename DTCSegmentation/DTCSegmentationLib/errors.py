"""Errors a user can cause, with one message that names the file and the fix.

Every function that reads user input raises :class:`DTCError` (or a subclass) for
problems the user can fix (bad file, wrong shape, missing model, no GPU).  The
command line and the Slicer modules catch it and show ``str(error)`` without a
traceback; anything else is a bug and keeps its traceback.
"""

from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


class DTCError(Exception):
    """A problem the user can fix; ``str(err)`` is the whole message."""

    def __init__(self, message: str, path: Optional[PathLike] = None, fix: Optional[str] = None):
        self.path = Path(path) if path is not None else None
        self.fix = fix
        text = f"{self.path}: {message}" if self.path is not None else message
        if fix:
            text = f"{text} Fix: {fix}"
        super().__init__(text)


class SequenceReadError(DTCError):
    """A sequence file or folder that cannot be read."""


class SequenceWriteError(DTCError):
    """A sequence that cannot be written where the user asked."""
