"""Responsiveness at the ends of a sweep: how late a prediction follows the gland appearing and disappearing.

A temporal prior (a consistency-trained student, an EMA of probabilities) can buy steadiness
by resisting real change.  In a sweep through the prostate the gland's cross-section grows
from nothing at one end and shrinks to nothing at the other; the frames where the true and
the predicted area curves cross a fraction of their own peak mark when the gland appears
(onset) and disappears (offset).  Each curve is scaled by its own peak so that a prediction
that is merely too large or too small everywhere does not count as late.

Signs: a positive onset lag is a prediction that appears late; a positive offset lag one
that lingers after the gland has gone.  A causal delay of ``d`` frames gives ``+d`` at both
ends, so their mean, the *response lag*, is ``d``; a mask that is wider in time than the
truth (over-segmenting at the ends) gives ``-e`` and ``+e``, mean 0 - the *widening*
``(offset - onset) / 2`` reports that part.
"""

from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

FRACTION = 0.2  # of each curve's own peak: low enough to mark the ends, above a few stray pixels


def crossing_frames(area: Sequence[float], fraction: float = FRACTION) -> Tuple[float, float]:
    """``(onset, offset)``: fractional frame indices where ``area`` ``(T,)`` first rises to and last falls from
    ``fraction`` of its peak, linearly interpolated between frames.

    NaN for an end the curve never crosses: already above the level at the first frame (onset)
    or still above it at the last (offset), or an all-zero curve.
    """
    a = np.asarray(area, float)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    peak = np.nanmax(a) if len(a) else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return float("nan"), float("nan")
    level = fraction * peak
    above = np.flatnonzero(a >= level)
    first, last = int(above[0]), int(above[-1])
    onset = offset = float("nan")
    if first > 0:
        onset = first - 1 + (level - a[first - 1]) / (a[first] - a[first - 1])
    if last < len(a) - 1:
        offset = last + (a[last] - level) / (a[last] - a[last + 1])
    return float(onset), float(offset)


def response_lags(true_area: Sequence[float], predicted_area: Sequence[float],
                  fraction: float = FRACTION) -> Dict[str, float]:
    """Lags in frames of ``predicted_area`` behind ``true_area`` (both ``(T,)``, any units) at the sweep's ends.

    Returns ``onset_lag_frames``, ``offset_lag_frames`` (NaN where either curve does not cross
    there), ``response_lag_frames`` (their mean, or the one that is defined) and
    ``widening_frames`` (``(offset - onset) / 2``, NaN unless both are defined).
    """
    if len(true_area) != len(predicted_area):
        raise ValueError(f"area curves of {len(true_area)} and {len(predicted_area)} frames")
    true_onset, true_offset = crossing_frames(true_area, fraction)
    onset, offset = crossing_frames(predicted_area, fraction)
    onset_lag, offset_lag = onset - true_onset, offset - true_offset
    defined = [v for v in (onset_lag, offset_lag) if np.isfinite(v)]
    return {"onset_lag_frames": float(onset_lag), "offset_lag_frames": float(offset_lag),
            "response_lag_frames": float(np.mean(defined)) if defined else float("nan"),
            "widening_frames": float((offset_lag - onset_lag) / 2)}


def add_response_lags(results: Mapping[str, Sequence], recordings: Sequence, fraction: float = FRACTION) -> None:
    """Add :func:`response_lags` to the ``extra`` of every evaluation whose recording has truth on every frame.

    ``results``: method -> :class:`~.scoring.RecordingEvaluation` list (from
    :func:`~.recordings.evaluate_models`); ``recordings``: the
    :class:`~.recordings.Recording` objects they were scored on (matched by name).  Truth areas
    are pixel counts, predicted areas the scored masks' (mm^2): each curve is scaled by its own peak.
    """
    truth_areas = {}
    for recording in recordings:
        if recording.truth and set(recording.truth) == set(range(len(recording.frames))):
            truth_areas[recording.name] = [float(np.count_nonzero(recording.truth[i])) for i in range(len(recording.frames))]
    for evaluations in results.values():
        for evaluation in evaluations:
            if evaluation.name in truth_areas:
                evaluation.extra.update(response_lags(truth_areas[evaluation.name], evaluation.consistency.area, fraction))
