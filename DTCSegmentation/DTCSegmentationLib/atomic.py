"""Write outputs so that an interrupted job never leaves a half-written file.

Everything is first written under a hidden temporary name next to the target (ending in the
target's own name, so its suffix still says the format) and renamed into place only when
complete.  Existing outputs are never replaced unless the caller asks for it.
"""

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator, List

from DTCSegmentationLib.errors import PathLike, SequenceWriteError


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
    # The name ends as the target's does, so writers that pick the format by suffix (SimpleITK,
    # NumPy's .npy) write the target's format.
    return path.with_name(f".{uuid.uuid4().hex[:8]}.partial.{path.name}")


class AtomicOutput:
    """A temporary output next to ``path`` that becomes ``path`` on :meth:`commit`.

    Args:
        path: final file (or folder, with ``directory=True``).
        overwrite: replace an existing ``path``; otherwise an existing one is an error.
        directory: the output is a folder (created empty).

    Until :meth:`commit`, the previous ``path`` (if any) is untouched; :meth:`discard`
    removes the temporary output.
    """

    def __init__(self, path: PathLike, overwrite: bool = False, directory: bool = False):
        self.path = check_writable(path, overwrite)
        self.temporary = _temporary_sibling(self.path)
        if directory:
            self.temporary.mkdir()

    def commit(self) -> Path:
        _replace(self.temporary, self.path)
        return self.path

    def discard(self) -> None:
        _remove(self.temporary)


@contextlib.contextmanager
def atomic_output(path: PathLike, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` only if the block succeeds.

    On any exception (including KeyboardInterrupt) the temporary output is removed and
    the previous ``path``, if any, is left untouched.  See :class:`AtomicOutput`.
    """
    output = AtomicOutput(path, overwrite, directory)
    try:
        yield output.temporary
        output.commit()
    except BaseException:
        output.discard()
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


@contextlib.contextmanager
def output_folder(path: PathLike) -> Iterator[Path]:
    """Yield the folder ``path``, created (with its parents) if missing, for outputs written into it.

    If the block fails, the folders it created are removed again as long as they are empty,
    so a refused or interrupted run leaves no trace; an existing folder is never removed.

    Raises:
        SequenceWriteError: ``path`` is a file, or the folder cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SequenceWriteError("must be a folder to write into, but this is a file.", path,
                                 "Name a folder (a new or an existing one).")
    created: List[Path] = []
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            try:
                folder.mkdir()
            except FileExistsError:
                if folder.is_dir():  # made by another process since the check (the other rank of a DDP run)
                    continue
                _remove_empty(created)
                raise SequenceWriteError("must be a folder to write into, but this is a file.", folder,
                                         "Name a folder whose parents are folders.") from None
            except OSError as error:
                _remove_empty(created)
                raise SequenceWriteError(f"cannot be created ({error.strerror or error}).", folder,
                                         "Choose a folder you can write to.") from None
            created.append(folder)
        elif not folder.is_dir():
            _remove_empty(created)
            raise SequenceWriteError("must be a folder to write into, but this is a file.", folder,
                                     "Name a folder whose parents are folders.")
    try:
        yield path
    except BaseException:
        _remove_empty(created)
        raise


def _remove_empty(folders: List[Path]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds while empty
