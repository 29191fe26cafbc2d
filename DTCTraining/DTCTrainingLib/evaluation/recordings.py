"""Recordings to evaluate, at their native size: a dataset split, or files named on the command line.

Models are then run and scored by :func:`evaluate_models`, which ``dtc evaluate``,
``dtc compare`` and ``dtc ablation`` share.
"""

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

import numpy as np
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.inference.preprocessing import probability_to_uint8
from DTCSegmentationLib.sequence_io import open_writer, read_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry
from DTCSegmentationLib.sequence_io.image_folder import read_image
from DTCSegmentationLib.sequence_io.naming import distinct_names, recording_stem, safe_name

from DTCTrainingLib.data.case_loading import read_case_masks
from DTCTrainingLib.data.layouts import load_dataset
from DTCTrainingLib.evaluation.scoring import (
    RecordingEvaluation,
    evaluate_recording,
    recording_value_range,
    segment_frames,
)

log = logging.getLogger(__name__)


@dataclass
class Recording:
    """One recording as read: frames ``(T, H, W[, 3])``, geometry, frame times (s), truth by frame index."""

    name: str
    frames: np.ndarray
    geometry: FrameGeometry = FrameGeometry()
    frame_times: Optional[np.ndarray] = None
    truth: Dict[int, np.ndarray] = field(default_factory=dict)


def ground_truth(masks: Mapping[int, np.ndarray], frames: np.ndarray, source: PathLike,
                 label: Optional[int] = None) -> Dict[int, np.ndarray]:
    """Binary ground truth by frame index from label images: pixels of ``label``, or any non-zero label.

    Without ``label``, masks with several non-zero labels are merged into one region and a note
    (logged once per source) says so.

    Raises:
        DTCError: a mask of another size than its frame, or a ``label`` that no mask holds.
    """
    truth: Dict[int, np.ndarray] = {}
    labels = set()
    for index, mask in masks.items():
        mask = np.asarray(mask)
        if mask.ndim == 3:
            mask = mask.max(axis=2)
        if mask.shape != frames.shape[1:3]:
            raise DTCError(f"has a {mask.shape[0]} x {mask.shape[1]} mask for frame {index}, whose image is "
                           f"{frames.shape[1]} x {frames.shape[2]}.", source,
                           "Give ground truth on the frames' own pixel grid (the same size as the recording).")
        labels.update(np.unique(mask[mask != 0]).tolist())
        truth[index] = (mask == label) if label is not None else (mask != 0)
    if label is not None and truth and label not in labels:
        raise DTCError(f"holds no pixel with label {label} (labels present: {sorted(labels) or 'none'}).", source,
                       "Pass the --label of the prostate in these masks.")
    if label is None and len(labels) > 1:
        log.warning("note: %s holds the labels %s; every non-zero label counts as prostate "
                    "(pass --label N to score one label only).", source, ", ".join(f"{v:g}" for v in sorted(labels)))
    return truth


def dataset_recordings(path: PathLike, split: str = "test", val: Iterable[str] = (), test: Iterable[str] = (),
                       label: Optional[int] = None) -> List[Recording]:
    """The cases of one split of a training-data folder (manifest, TRUS-V or SUN-SEG layout)."""
    manifest = load_dataset(path, val, test)
    cases = manifest.split(split)
    if not cases:
        counts = {name: len(manifest.split(name)) for name in ("train", "val", "test")}
        raise DTCError(f"has no {split!r} cases (cases per split: {counts}).", path,
                       "Choose another --split, or mark cases as test in dataset.json (TRUS-V/SUN-SEG: --test).")
    recordings = []
    for case in cases:
        if isinstance(case.frames, tuple):
            images = [read_image(p) for p in case.frames]
            odd = next((p for p, image in zip(case.frames, images) if image.shape != images[0].shape), None)
            if odd is not None:
                raise DTCError(f"is {images[case.frames.index(odd)].shape}, but {case.frames[0].name} is "
                               f"{images[0].shape}.", odd, "Give all frames of a case one size and type.")
            frames, geometry, times = np.stack(images), FrameGeometry(), None
        else:
            sequence = read_sequence(case.frames)
            frames, geometry, times = sequence.frames, sequence.geometry, sequence.frame_times
        source = case.masks if not isinstance(case.masks, tuple) else next((m for m in case.masks if m), None)
        truth = ground_truth(read_case_masks(case, len(frames)), frames, source, label) if case.masks else {}
        recordings.append(Recording(case.id, frames, geometry, times, truth))
    return recordings


def file_recording(frames: PathLike, truth: Optional[PathLike] = None, name: Optional[str] = None,
                   label: Optional[int] = None) -> Recording:
    """A recording from any readable sequence, with an optional ground-truth mask sequence of the same length.

    Frames without a pixel size (videos, image folders) take the geometry of the masks.  ``name``
    defaults to the recording's stem (see :func:`~DTCSegmentationLib.sequence_io.naming.distinct_names`
    for several recordings); ``label`` picks one label of multi-label masks (see :func:`ground_truth`).
    """
    sequence = read_sequence(frames)
    geometry = sequence.geometry
    masks: Dict[int, np.ndarray] = {}
    if truth is not None:
        reference = read_sequence(truth)
        if len(reference) != len(sequence):
            raise DTCError(f"has {len(reference)} frames but {frames} has {len(sequence)}.", truth,
                           "Give one ground-truth mask per frame.")
        masks = ground_truth(dict(enumerate(reference.frames)), sequence.frames, truth, label)
        if geometry == FrameGeometry():  # e.g. a video, which has no pixel size: take the masks' one
            geometry = reference.geometry
    return Recording(name or recording_stem(Path(frames)), sequence.frames, geometry, sequence.frame_times, masks)


def file_recordings(frames: Sequence[PathLike], truths: Sequence[Optional[PathLike]] = (),
                    label: Optional[int] = None) -> List[Recording]:
    """Recordings named on the command line, each named after its path and every name distinct."""
    try:
        names = distinct_names([Path(p) for p in frames])
    except ValueError as error:
        raise DTCError(f"the same recording is given twice ({error}).", fix="Name each recording once.") from None
    truths = list(truths) or [None] * len(frames)
    return [file_recording(path, truth, name, label) for path, truth, name in zip(frames, truths, names)]


@contextlib.contextmanager
def flicker_map_recorder(path: PathLike, geometry: FrameGeometry, frame_times: Optional[Sequence[float]] = None,
                         overwrite: bool = False) -> Iterator[Callable]:
    """An ``on_frame`` callback for :func:`~DTCTrainingLib.evaluation.scoring.evaluate_recording` that streams
    each frame's flicker map into the ``.seq.nrrd`` at ``path`` (uint8, 255 = the probability changed by 1
    after motion compensation); the file appears only when the recording is complete."""
    with open_writer(path, geometry, "image", overwrite=overwrite) as writer:
        def record(index, result):
            time = None if frame_times is None else float(frame_times[index])
            writer.write(probability_to_uint8(result.flicker_map), time)

        yield record


def evaluate_models(models: Mapping[str, object], recordings: Sequence[Recording],
                    smoothing: Sequence[float] = (), progress: Optional[Callable] = None,
                    flicker_dice: float = 0.9, flicker_maps: Optional[Path] = None,
                    overwrite: bool = False, flow_windows: Sequence[int] = ()) -> Dict[str, List[RecordingEvaluation]]:
    """Run every segmenter on every recording and score it.

    Args:
        models: method name -> :class:`~DTCSegmentationLib.inference.segmenter.Segmenter`.
        recordings: what to segment.
        smoothing: EMA weights; for each, the *first* model's probabilities smoothed over
            time are scored as an extra method ``"<first> + EMA w"`` (with its lag).
        progress: wraps per-recording iterables (e.g. tqdm).
        flicker_dice: flicker threshold (flow-compensated Dice).
        flicker_maps: a folder to write each model's per-pixel flicker maps into, one
            ``flicker_<model>_<case>.seq.nrrd`` per recording (see :func:`flicker_map_recorder`),
            with the recording's geometry: load it in Slicer over the frames as a coloured overlay.
    """
    from DTCSegmentationLib.inference.postprocessing import postprocess

    from DTCTrainingLib.evaluation.smoothing import (
        ema_mean_delay,
        ema_probabilities,
        flow_warped_average,
        measured_lag,
    )

    results: Dict[str, List[RecordingEvaluation]] = {}
    names = list(models)
    seen = set()
    for recording in recordings:  # reports key everything by the recording's name: two would merge into one
        if recording.name in seen:
            raise DTCError(f"two recordings are both named {recording.name!r}.", fix="Give every recording its own name.")
        seen.add(recording.name)
    for recording in recordings:
        value_range = recording_value_range(recording.frames, recording.name)  # one decision (and note) per recording
        for index, name in enumerate(names):
            segmenter = models[name]
            wrap = (lambda it: progress(it, desc=f"{name}: {recording.name}", total=len(recording.frames))) if progress else None
            masks, probabilities = segment_frames(segmenter, recording.frames, wrap, value_range)
            score = lambda m, p, on_frame=None: evaluate_recording(
                recording.name, recording.frames, m, p, recording.truth, recording.geometry, recording.frame_times,
                flicker_dice, on_frame)
            if flicker_maps is None:
                results.setdefault(name, []).append(score(masks, probabilities))
            else:
                path = Path(flicker_maps) / f"flicker_{safe_name(name)}_{safe_name(recording.name)}.seq.nrrd"
                with flicker_map_recorder(path, recording.geometry, recording.frame_times, overwrite) as record:
                    results.setdefault(name, []).append(score(masks, probabilities, record))
            if index != 0:
                continue
            smoothers = [(f"{name} + EMA {weight:g}", ema_probabilities(probabilities, weight), ema_mean_delay(weight))
                         for weight in smoothing]
            smoothers += [(f"{name} + flow-warped mean {window}",
                           flow_warped_average(recording.frames, probabilities, window), None)
                          for window in flow_windows]
            for method, maps, expected_lag in smoothers:
                smoothed = np.stack(list(maps))
                smoothed_masks = np.stack([postprocess(p, segmenter.threshold, segmenter.largest_component,
                                                       segmenter.fill_holes) for p in smoothed])
                evaluation = score(smoothed_masks, smoothed)
                evaluation.extra = {"lag_frames": measured_lag(probabilities, smoothed)}
                if expected_lag is not None:
                    evaluation.extra["expected_lag_frames"] = expected_lag
                results.setdefault(method, []).append(evaluation)
    return results
