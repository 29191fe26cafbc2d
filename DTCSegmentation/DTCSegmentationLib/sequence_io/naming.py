"""File names derived from recordings: the stem of a recording's path, names that tell several recordings
apart, and a safe name for any label."""

import re
from pathlib import Path
from typing import List, Sequence

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


def distinct_names(paths: Sequence[Path]) -> List[str]:
    """One name per recording path, unique among them: the stem, preceded by as many parent folder names as it
    takes to tell the recordings apart (``A/frames``, ``B/frames`` -> ``A_frames``, ``B_frames``).

    Raises:
        ValueError: the same recording is named twice (no name can tell it from itself).
    """
    resolved = [Path(p).resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        twice = next(p for p in resolved if resolved.count(p) > 1)
        raise ValueError(f"{twice} is given twice")
    stems = [recording_stem(Path(p)) for p in paths]
    for depth in range(max((len(p.parts) for p in resolved), default=0)):
        names = ["_".join(list(p.parent.parts[len(p.parent.parts) - depth:] if depth else []) + [stem]).lstrip("/\\")
                 for p, stem in zip(resolved, stems)]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in resolved]
