"""Errors a user can cause, with one message that names the file and the fix.

Every function that reads user input raises :class:`DTCError` (or a subclass) for
problems the user can fix (bad file, wrong shape, missing model, no GPU).  The
command line and the Slicer modules catch it and show ``str(error)`` without a
traceback; anything else is a bug and keeps its traceback.
"""

import re
from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]

_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


def _one_line(text: str) -> str:
    # Messages quote what parsers of hostile files say, line breaks included; the command line
    # promises one line per error.
    return _LINE_BREAKS.sub(" ", text).strip()


class DTCError(Exception):
    """A problem the user can fix; ``str(err)`` is the whole message, on one line."""

    def __init__(self, message: str, path: Optional[PathLike] = None, fix: Optional[str] = None):
        self.path = Path(path) if path is not None else None
        self.fix = fix
        name = str(self.path) if self.path is not None else ""
        if not name.isprintable():  # a file name with a line break or control character is shown escaped
            name = repr(name)
        text = f"{name}: {_one_line(message)}" if self.path is not None else _one_line(message)
        if fix:
            text = f"{text} Fix: {_one_line(fix)}"
        super().__init__(text)


class SequenceReadError(DTCError):
    """A sequence file or folder that cannot be read."""


class SequenceWriteError(DTCError):
    """A sequence that cannot be written where the user asked."""
