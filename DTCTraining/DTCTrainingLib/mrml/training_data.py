"""A training-data folder (``dataset.json`` + sequences) written from annotated recordings of a scene, for ``dtc train``."""

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.sequence_io import open_writer
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry
from DTCSegmentationLib.sequence_io.naming import safe_name

from DTCTrainingLib.data.manifest import Case, Manifest, load_manifest, write_manifest
from DTCTrainingLib.data.merge import copied_case
from DTCTrainingLib.mrml.annotations import SceneRecording, frame_annotations

VALIDATION_PREFIX = "validation"


def write_training_data(scene, recordings: Iterable[Union[SceneRecording, Tuple[object, object]]], out: PathLike,
                        name: str = "slicer-scene", segment: Optional[str] = None, overwrite: bool = False,
                        validation: Optional[PathLike] = None) -> Path:
    """Write each recording as ``out/<case>/images.seq.nrrd`` and ``masks.seq.nrrd`` plus ``out/dataset.json``.

    Masks are binary (the chosen segment, or labelmap > 0) on each frame's own pixel grid;
    frames whose index value has no mask item (or that a recording's ``frames`` leaves out) are
    left out of ``labelled_frames``: unlabelled video.  Unless a recording names its split, the
    last of two or more recordings is the validation case - or, with ``validation``, every
    recording trains and the validation cases are that folder's.
    The folder appears only when complete.

    Args:
        recordings: :class:`SceneRecording` objects or ``(images, masks)`` pairs.
        segment: name of the segment that is the prostate; default the only segment, or one
            named ``prostate``.
    Returns:
        The manifest path.
    """
    recordings = [r if isinstance(r, SceneRecording) else SceneRecording(*r) for r in recordings]
    if not recordings:
        raise DTCError("no annotated recordings were given.", fix="Add a segmentation sequence to a recording's browser.")
    held_out = _validation_cases(validation) if validation is not None else None
    splits = _splits(recordings) if held_out is None else [r.split or "train" for r in recordings]
    out = Path(out)
    cases, used = [], {VALIDATION_PREFIX} if held_out is not None else set()
    with atomic_output(out, overwrite=overwrite, directory=True) as folder:
        for recording, split in zip(recordings, splits):
            source = frame_source(scene, recording.images)
            case_id = _unique(safe_name(recording.case_id or source.name), used)
            masks = frame_annotations(scene, recording.masks, source, segment, recording.frames)
            (folder / case_id).mkdir()
            _write_frames(folder / case_id, source, masks)
            cases.append(Case(id=case_id, patient=recording.patient or case_id, view=recording.view, split=split,
                              frames=folder / case_id / "images.seq.nrrd", masks=folder / case_id / "masks.seq.nrrd",
                              labelled_frames=tuple(sorted(masks))))
        if held_out is not None:
            source_manifest, val_cases = held_out
            cases += [copied_case(case, source_manifest.root, folder / VALIDATION_PREFIX, VALIDATION_PREFIX,
                                  folder / VALIDATION_PREFIX) for case in val_cases]
        write_manifest(Manifest(root=folder, name=name, cases=cases))
    return out / "dataset.json"


def _validation_cases(validation: PathLike):
    manifest = load_manifest(validation)
    cases = [case for case in manifest.split("val") if case.is_labelled]
    if not cases:
        raise DTCError("has no labelled case in its val split.", manifest.root / "dataset.json",
                       "Choose a training-data folder with validation cases (split \"val\" with masks).")
    return manifest, cases


def _splits(recordings: Sequence[SceneRecording]) -> List[str]:
    splits = [recording.split or "train" for recording in recordings]
    if len(recordings) > 1 and "val" not in splits and not recordings[-1].split:
        splits[-1] = "val"
    return splits


def _unique(name: str, used: set) -> str:
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}_{number}", number + 1
    used.add(candidate)
    return candidate


def _write_frames(folder: Path, source: FrameSource, masks: Dict[int, np.ndarray]) -> None:
    geometry = FrameGeometry.from_ijk_to_ras(source.frame_ijk_to_ras(0))
    times = source.times()
    with open_writer(folder / "images.seq.nrrd", geometry, "image") as images, \
            open_writer(folder / "masks.seq.nrrd", geometry, "labelmap") as labels:
        for index, frame in enumerate(source):
            images.write(frame, float(times[index]))
            mask = masks.get(index)
            labels.write(mask if mask is not None else np.zeros(frame.shape[:2], np.uint8), float(times[index]))


