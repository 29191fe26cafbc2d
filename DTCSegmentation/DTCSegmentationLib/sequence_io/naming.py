"""File names derived from recordings: the stem of a recording's path and a safe name for any label."""

import re
from pathlib import Path

MULTI_PART_SUFFIXES = (".seq.nrrd", ".igs.mha", ".igs.mhd", ".nii.gz")


def recording_stem(path: Path) -> str:
    """``path``'s name without its (possibly two-part) suffix; a folder keeps its whole name.

    ``case1.seq.nrrd`` -> ``case1``, ``scan.nii.gz`` -> ``scan``, ``frames/`` -> ``frames``.
    """
    name = path.name
    for suffix in MULTI_PART_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem if path.is_file() else name


def safe_name(text: str) -> str:
    """``text`` as one file-name component: runs of anything but letters, digits, ``-``, ``_`` and ``.``
    become ``_``; never empty, never ``.``/``..`` or a hidden name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "unnamed"
