"""``dtc dataset check``: read every case of a training-data folder and report what is wrong."""

from typing import Dict, Iterable, List

import numpy as np
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.sequence_io import open_sequence
from DTCSegmentationLib.sequence_io.image_folder import read_image

from DTCTrainingLib.data.layouts import describe, load_dataset
from DTCTrainingLib.data.manifest import Case, recording_files


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
        values = set()
        try:
            with open_sequence(case.masks) as reader:
                for mask in reader:
                    values.update(np.unique(mask).tolist())
        except DTCError as error:
            return problems + [f"{case.id}: masks: {error}"]
        if max(values) == 0:
            problems.append(f"{case.id}: every mask is empty")
    return problems


def label_note(case: Case) -> str:
    """A note when a case's masks hold several non-zero labels, which training merges into one prostate."""
    if case.masks is None:
        return ""
    values = set()
    try:
        if isinstance(case.masks, tuple):
            for path in case.masks:
                if path is not None:
                    values.update(np.unique(read_image(path)).tolist())
        else:
            with open_sequence(case.masks) as reader:
                for mask in reader:
                    values.update(np.unique(mask).tolist())
    except DTCError:
        return ""  # check_case reports unreadable masks
    labels = sorted(v for v in values if v != 0)
    if len(labels) < 2:
        return ""
    return (f"{case.id}: masks hold the labels {', '.join(f'{v:g}' for v in labels)}; training and evaluation count "
            "every non-zero label as prostate (dtc evaluate --label N scores one label)")


def duplicate_problems(cases: List[Case]) -> List[str]:
    """Cases of one split that use the same frames (across splits the manifest itself refuses them)."""
    owner: Dict[object, str] = {}
    problems = []
    for case in cases:
        for path in recording_files(case):
            first = owner.setdefault(path, case.id)
            if first != case.id:
                problems.append(f"{case.id}: uses the same frames {path.name} as {first} (the recording counts twice)")
                break
    return problems


def check_dataset(folder: PathLike, val: Iterable[str] = (), test: Iterable[str] = ()) -> Dict:
    """``{"cases": n, ..., "problems": [...], "notes": [...]}`` for a training-data folder; structural errors raise
    DTCError.  Problems make the folder unfit for training; notes say how it will be read."""
    manifest = load_dataset(folder, val, test)
    problems: List[str] = duplicate_problems(manifest.cases)
    for case in manifest.cases:
        problems.extend(check_case(case))
    notes = [note for note in map(label_note, manifest.cases) if note]
    report = {"dataset": str(folder), "name": manifest.name, "cases": len(manifest.cases), **describe(manifest),
              "problems": problems, "notes": notes}
    if not manifest.split("val"):
        report["problems"].append("no validation split: training needs labelled val cases for early stopping")
    return report
