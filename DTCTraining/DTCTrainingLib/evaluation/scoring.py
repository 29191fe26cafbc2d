"""Evaluation of segmented recordings: temporal consistency always, accuracy where truth exists.

:func:`evaluate_recording` scores one recording (frames, predicted masks and optionally
probabilities, and ground truth on all, some or none of its frames);
:func:`summarize` aggregates several (see :mod:`.metrics` for the SUN-SEG convention);
:func:`segment_frames` runs a model over a recording to get what is scored.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from DTCSegmentationLib.inference.preprocessing import float_value_range
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry
from DTCSegmentationLib.temporal.consistency import (
    TEMPORAL_SUMMARY,
    ConsistencyReport,
    ConsistencyTracker,
    FrameConsistency,
    analyze_consistency,
)

from DTCTrainingLib.evaluation.metrics import END_MARGIN_FRAMES, METRICS, aggregate, frame_metrics, mean_metrics


@dataclass
class RecordingEvaluation:
    """The scores of one recording.

    Attributes:
        name: case name.
        frame_times: ``(T,)`` seconds.
        consistency: per-frame temporal curves.
        accuracy: per annotated frame index, its metrics (:data:`~.metrics.METRICS`).
        extra: other per-recording values to report (e.g. a smoothing filter's lag).
    """

    name: str
    frame_times: np.ndarray
    consistency: ConsistencyReport
    accuracy: Dict[int, Dict[str, float]] = field(default_factory=dict)
    extra: Dict[str, float] = field(default_factory=dict)

    def rows(self) -> List[Dict[str, float]]:
        """One dict per frame: case, frame, time, the temporal curves and (NaN where unannotated) accuracy."""
        curves = self.consistency.curves()
        rows = []
        for index, time in enumerate(self.frame_times):
            row = {"case": self.name, "frame": index, "time": float(time)}
            row.update({name: float(values[index]) for name, values in curves.items()})
            scores = self.accuracy.get(index, {})
            row.update({name: scores.get(name, float("nan")) for name in METRICS})
            rows.append(row)
        return rows

    def summary(self) -> Dict[str, float]:
        """Frames, annotated frames, temporal summary, mean accuracy over annotated frames, extras."""
        result: Dict[str, float] = {"frames": len(self.frame_times), "annotated_frames": len(self.accuracy)}
        result.update(self.consistency.summary())
        if self.accuracy:
            result.update(mean_metrics(self.accuracy.values()))
        result.update(self.extra)
        return result


def evaluate_recording(name: str, frames: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                       probabilities: Optional[Sequence[np.ndarray]] = None,
                       truth: Optional[Mapping[int, np.ndarray]] = None, geometry: FrameGeometry = FrameGeometry(),
                       frame_times: Optional[Sequence[float]] = None, flicker_dice: float = 0.9,
                       on_frame: Optional[Callable[[int, FrameConsistency], None]] = None) -> RecordingEvaluation:
    """Score one recording.

    Args:
        name: case name for the reports.
        frames: T raw frames ``(H, W)`` / ``(H, W, 3)`` (optical flow is computed from them).
        masks: T predicted binary masks ``(H, W)``.
        probabilities: T maps in [0, 1] (default: the masks): consistency and the SUN-SEG
            map metrics use them.
        truth: ground-truth masks by frame index (any subset of frames; none: consistency only).
        geometry: pixel spacing for areas (mm^2) and boundary distances (mm).
        frame_times: ``(T,)`` seconds (default: frame indices).
        flicker_dice: flow-compensated mask Dice below which a frame is a flicker event.
        on_frame: receives each frame's :class:`~.consistency.FrameConsistency` (flicker maps).
    """
    if len(masks) != len(frames) or (probabilities is not None and len(probabilities) != len(frames)):
        raise ValueError(f"{name}: {len(frames)} frames but {len(masks)} masks"
                         + ("" if probabilities is None else f" and {len(probabilities)} probability maps"))
    column, row = geometry.spacing[0], geometry.spacing[1]
    maps = [np.asarray(m, np.float32) for m in masks] if probabilities is None else probabilities
    tracker = ConsistencyTracker(flicker_dice=flicker_dice, pixel_area=column * row)
    consistency = analyze_consistency(frames, maps, masks, tracker, on_frame)
    accuracy = {}
    for index, reference in sorted((truth or {}).items()):
        if not 0 <= index < len(frames):
            raise ValueError(f"{name}: ground truth for frame {index}, but the recording has {len(frames)} frames")
        reference = np.asarray(reference)
        if reference.ndim == 3:
            reference = reference.max(axis=2)
        accuracy[index] = frame_metrics(masks[index], reference > 0, None if probabilities is None else probabilities[index],
                                        spacing=(row, column))
    mark_far_empty_frames(accuracy)
    times = np.arange(len(frames), dtype=float) if frame_times is None else np.asarray(frame_times, float)
    return RecordingEvaluation(name, times, consistency, accuracy)


def mark_far_empty_frames(accuracy: Dict[int, Dict[str, float]], margin: int = END_MARGIN_FRAMES) -> None:
    """Set ``far_empty_specificity`` in every frame's metrics (by frame index), in place.

    It is the frame's ``empty_specificity`` when the nearest annotated frame with gland is at
    least ``margin`` frames away (or no annotated frame has gland), NaN otherwise.
    """
    gland = np.array(sorted(index for index, scores in accuracy.items() if np.isnan(scores["empty_specificity"])))
    for index, scores in accuracy.items():
        far = not len(gland) or int(np.abs(gland - index).min()) >= margin
        scores["far_empty_specificity"] = scores["empty_specificity"] if far else float("nan")


def summarize(evaluations: Sequence[RecordingEvaluation]) -> Dict[str, Dict]:
    """Aggregate recordings: ``{"cases": {name: summary}, "dataset": {...}, "frames": {...}}``.

    Accuracy follows :func:`~.metrics.aggregate` (dataset = mean of case means; ``frames``
    = all annotated frames pooled).  Temporal scores: the dataset value is the mean of the
    case values, except ``flicker_events`` (the total) and ``flicker_rate`` (events per
    frame pair over all recordings).
    """
    cases = {evaluation.name: evaluation.summary() for evaluation in evaluations}
    annotated = {e.name: list(e.accuracy.values()) for e in evaluations if e.accuracy}
    accuracy = aggregate(annotated) if annotated else {"dataset": {}, "frames": {}}
    temporal = {name: float(np.mean([case[name] for case in cases.values()])) for name in TEMPORAL_SUMMARY} if cases else {}
    if cases:
        pairs = sum(max(case["frames"] - 1, 0) for case in cases.values())
        temporal["flicker_events"] = int(sum(case["flicker_events"] for case in cases.values()))
        temporal["flicker_rate"] = temporal["flicker_events"] / pairs if pairs else 0.0
    extras = sorted({key for e in evaluations for key in e.extra})
    for key in extras:
        values = np.array([e.extra.get(key, np.nan) for e in evaluations], float)
        temporal[key] = float(values[np.isfinite(values)].mean()) if np.isfinite(values).any() else float("nan")
    dataset = {"cases": len(cases), "frames": int(sum(c["frames"] for c in cases.values())),
               "annotated_frames": int(sum(c["annotated_frames"] for c in cases.values())),
               **accuracy["dataset"], **temporal}
    return {"cases": cases, "dataset": dataset, "frames": accuracy["frames"]}


def recording_value_range(frames: np.ndarray, source: str = ""):
    """The value range of a float recording (see ``preprocessing.float_value_range``), None for integer frames."""
    return float_value_range(frames, source) if np.issubdtype(np.asarray(frames).dtype, np.floating) else None


def segment_frames(segmenter, frames: Sequence[np.ndarray], progress: Optional[Callable] = None,
                   value_range: Optional[Tuple[float, float]] = None):
    """Run a :class:`~.segmenter.Segmenter` over frames; returns ``(masks (T, H, W) uint8, probabilities (T, H, W) float32)``.

    ``progress`` optionally wraps the result iterator (e.g. tqdm); ``value_range`` is that of float
    frames (:func:`recording_value_range`; default: the whole of ``frames``).
    """
    if value_range is None:
        value_range = recording_value_range(frames)
    results = segmenter.segment_stream(frames, value_range)
    if progress is not None:
        results = progress(results)
    masks, probabilities = [], []
    for result in results:
        masks.append(result.mask)
        probabilities.append(result.probability)
    return np.stack(masks), np.stack(probabilities)
