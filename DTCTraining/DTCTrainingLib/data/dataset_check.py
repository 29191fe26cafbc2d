"""``dtc dataset check``: read every case of a training-data folder and report what is wrong."""

from typing import Dict, Iterable, List

import numpy as np
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.sequence_io import open_sequence
from DTCSegmentationLib.sequence_io.image_folder import read_image

from DTCTrainingLib.data.layouts import describe, load_dataset
from DTCTrainingLib.data.manifest import Case


def _frames_info(source):
    """(count, frame shape, geometry or None) of a sequence path or a tuple of image files."""
    if isinstance(source, tuple):
        shapes = {read_image(path).shape[:2] for path in source if path is not None}
        if len(shapes) > 1:
            raise DTCError(f"images differ in size: {sorted(shapes)}.", source[0], "Give all frames of a case one size.")
        return len(source), shapes.pop() if shapes else None, None
    with open_sequence(source) as reader:
        count = sum(1 for _ in reader) if reader.frame_times is None else len(reader)
        return count, reader.frame_shape[:2], reader.geometry


def check_case(case: Case) -> List[str]:
    """Problems of one case (empty when it is usable)."""
    problems = []
    try:
        count, shape, geometry = _frames_info(case.frames)
    except DTCError as error:
        return [f"{case.id}: frames: {error}"]
    if case.masks is None:
        return problems
    try:
        mask_count, mask_shape, mask_geometry = _frames_info(case.masks)
    except DTCError as error:
        return [f"{case.id}: masks: {error}"]
    if mask_count != count:
        problems.append(f"{case.id}: {mask_count} masks for {count} frames")
    if mask_shape is not None and shape is not None and mask_shape != shape:
        problems.append(f"{case.id}: masks are {mask_shape}, frames {shape}")
    if geometry is not None and mask_geometry is not None and not geometry.isclose(mask_geometry, atol=1e-3):
        problems.append(f"{case.id}: masks and frames have different spacing/origin")
    if case.labelled_frames and max(case.labelled_frames) >= count:
        problems.append(f"{case.id}: labelled frame {max(case.labelled_frames)} beyond the {count} frames")
    if not isinstance(case.masks, tuple):
        with open_sequence(case.masks) as reader:
            values = set()
            for mask in reader:
                values.update(np.unique(mask).tolist())
        if max(values) == 0:
            problems.append(f"{case.id}: every mask is empty")
    return problems


def check_dataset(folder: PathLike, val: Iterable[str] = (), test: Iterable[str] = ()) -> Dict:
    """``{"cases": n, ..., "problems": [...]}`` for a training-data folder; structural errors raise DTCError."""
    manifest = load_dataset(folder, val, test)
    problems: List[str] = []
    for case in manifest.cases:
        problems.extend(check_case(case))
    report = {"dataset": str(folder), "name": manifest.name, "cases": len(manifest.cases), **describe(manifest),
              "problems": problems}
    if not manifest.split("val"):
        report["problems"].append("no validation split: training needs labelled val cases for early stopping")
    return report
