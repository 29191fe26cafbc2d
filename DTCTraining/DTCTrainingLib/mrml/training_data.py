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
TRAINING_PREFIX = "training"


def write_training_data(scene, recordings: Iterable[Union[SceneRecording, Tuple[object, object]]], out: PathLike,
                        name: str = "slicer-scene", segment: Optional[str] = None, overwrite: bool = False,
                        validation: Optional[PathLike] = None, training: Optional[PathLike] = None) -> Path:
    """Write each recording as ``out/<case>/images.seq.nrrd`` and ``masks.seq.nrrd`` plus ``out/dataset.json``.

    Masks are binary (the chosen segment, or labelmap > 0) on each frame's own pixel grid;
    frames whose index value has no mask item (or that a recording's ``frames`` leaves out) are
    left out of ``labelled_frames``: unlabelled video.  Unless a recording names its split, the
    last of two or more recordings is the validation case - or, with ``validation``, every
    recording trains and the validation cases are that folder's.  With ``training``, that folder's
    training cases train as well (e.g. the model's own training data, so fine-tuning on a few
    corrected frames does not make it forget the rest).
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
    held_out = _cases_of(validation, "val") if validation is not None else None
    replay = _cases_of(training, "train") if training is not None else None
    splits = _splits(recordings) if held_out is None else [r.split or "train" for r in recordings]
    out = Path(out)
    cases, used = [], {VALIDATION_PREFIX, TRAINING_PREFIX}
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
        for prefix, copied in ((TRAINING_PREFIX, replay), (VALIDATION_PREFIX, held_out)):
            if copied is not None:
                source_manifest, source_cases = copied
                cases += [copied_case(case, source_manifest.root, folder / prefix, prefix, folder / prefix)
                          for case in source_cases]
        write_manifest(Manifest(root=folder, name=name, cases=cases))
    return out / "dataset.json"


def _cases_of(folder: PathLike, split: str):
    """The manifest of ``folder`` and its labelled cases of ``split`` (a DTCError if there are none)."""
    manifest = load_manifest(folder)
    cases = [case for case in manifest.split(split) if case.is_labelled]
    if not cases:
        raise DTCError(f"has no labelled case in its {split} split.", manifest.root / "dataset.json",
                       f"Choose a training-data folder with {split} cases that have masks.")
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


