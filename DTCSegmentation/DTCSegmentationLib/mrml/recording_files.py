"""Files from a segmentation run: mask / flicker / probability sequences and the per-frame table as CSV."""

import csv
from pathlib import Path
from typing import Dict

from DTCSegmentationLib.atomic import atomic_output, check_writable
from DTCSegmentationLib.choices import MASK_FORMATS
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.mrml.frame_source import FrameSource
from DTCSegmentationLib.mrml.recording_segmentation import RecordingSegmentation
from DTCSegmentationLib.mrml.scene import slicer_module
from DTCSegmentationLib.sequence_io import open_writer
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry

"""Format name -> file suffix ("" = a folder of PNG frames)."""

_KINDS = (("masks", "labelmap"), ("flicker", "image"), ("probabilities", "image"))


def export_recording(run: RecordingSegmentation, folder: PathLike, format: str = "nii.gz",
                     overwrite: bool = False) -> Dict[str, Path]:
    """Write ``<name>_masks``, ``<name>_flicker`` (and ``<name>_probabilities``) plus ``<name>_consistency.csv``.

    Every output has the recording's geometry (of its first frame) and frame times; nothing is
    written if any output exists and ``overwrite`` is False.  Returns output name -> path.
    """
    if format not in MASK_FORMATS:
        raise DTCError(f"unknown export format {format!r}.", fix=f"Use one of {', '.join(MASK_FORMATS)}.")
    folder = Path(folder)
    stem = run.name.replace(" ", "_")
    paths = {role: folder / f"{stem}_{role}{MASK_FORMATS[format]}" for role, _ in _KINDS
             if getattr(run, role) is not None}
    paths["table"] = folder / f"{stem}_consistency.csv"
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths.values():
        check_writable(path, overwrite)
    geometry = FrameGeometry.from_ijk_to_ras(run.source.frame_ijk_to_ras(0))
    times = run.source.times()
    for role, kind in _KINDS:
        node = getattr(run, role)
        if node is None:
            continue
        frames = FrameSource(sequence=node) if node.IsA("vtkMRMLSequenceNode") else FrameSource(volume=node)
        with open_writer(paths[role], geometry, kind, overwrite=overwrite) as writer:
            for frame, time in zip(frames, times):
                writer.write(frame, float(time))
    write_table_csv(run.table, paths["table"], overwrite)
    return paths


def write_table_csv(table, path: PathLike, overwrite: bool = False) -> Path:
    """A table node's columns as a CSV file with a header row (atomically)."""
    util = slicer_module().util
    names = [table.GetColumnName(index) for index in range(table.GetNumberOfColumns())]
    columns = [util.arrayFromTableColumn(table, name) for name in names]
    with atomic_output(path, overwrite) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows(zip(*(column.tolist() for column in columns)))
    return Path(path)
