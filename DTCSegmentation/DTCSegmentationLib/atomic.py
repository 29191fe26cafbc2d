"""Write outputs so that an interrupted job never leaves a half-written file.

Everything is first written under a hidden temporary name next to the target and
renamed into place only when complete.  Existing outputs are never replaced unless
the caller asks for it.
"""

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from .errors import PathLike, SequenceWriteError


def check_writable(path: PathLike, overwrite: bool = False) -> Path:
    """Return ``path`` as a Path; raise if it exists and ``overwrite`` is False or its folder is missing."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise SequenceWriteError(
            "already exists and would be overwritten.", path, "Choose another output or pass overwrite (--overwrite)."
        )
    if not path.parent.is_dir():
        raise SequenceWriteError("the folder to write into does not exist.", path, "Create the folder first.")
    return path


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")


@contextlib.contextmanager
def atomic_output(path: PathLike, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` only if the block succeeds.

    Args:
        path: final file (or folder, with ``directory=True``).
        overwrite: replace an existing ``path``; otherwise an existing one is an error.
        directory: the output is a folder (created empty before yielding).

    On any exception (including KeyboardInterrupt) the temporary output is removed and
    the previous ``path``, if any, is left untouched.
    """
    path = check_writable(path, overwrite)
    temporary = _temporary_sibling(path)
    if directory:
        temporary.mkdir()
    try:
        yield temporary
        _replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def _replace(source: Path, target: Path) -> None:
    if source.is_dir() and target.exists():
        # os.replace cannot put a folder over a non-empty one: move the old one aside first
        # so the target never disappears if the rename fails.
        old = _temporary_sibling(target)
        os.replace(target, old)
        os.replace(source, target)
        _remove(old)
    else:
        os.replace(source, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
