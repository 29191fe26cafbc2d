"""Temporal consistency of a segmentation over a recording (no ground truth needed).

Per frame ``t`` (the first frame has no predecessor: its pairwise scores are NaN):

* ``raw``: the authors' score ``1 - mean|p_t - p_(t-1)|``;
* ``flow``: the same after warping ``p_(t-1)`` onto frame ``t`` with optical flow computed
  from the frames, so real motion of the gland is not counted as inconsistency;
* ``flow_dice``: Dice between the mask of frame ``t`` and the warped mask of ``t-1``;
* ``flicker``: ``flow_dice`` below a threshold (default 0.9) - a *flicker event*;
* ``area``: mask area (mm^2 when the pixel size is known, else pixels), and its centred
  second difference ``area_t+1 - 2 area_t + area_t-1``: smooth growth or shrinkage of
  the gland (probe motion) is near zero, a mask that jumps back and forth is not;
* a *flicker map* ``|p_t - warp(p_(t-1))|`` ``(H, W)`` in [0, 1]: where the mask jitters.

:class:`ConsistencyTracker` works frame by frame (recorded or live), holding one previous
frame; :func:`analyze_consistency` runs it over a whole recording.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from DTCSegmentationLib.temporal.flow import FlowSettings, flow_to_previous, warp_previous

FLICKER_DICE = 0.9

TEMPORAL_SUMMARY = {
    "raw_consistency": "consistency", "flow_consistency": "flow consistency", "flow_dice": "flow Dice",
    "flicker_events": "flicker events", "flicker_rate": "flicker rate", "area_jitter": "area jitter",
}
"""The keys of :meth:`ConsistencyReport.summary`, in report order, with their column labels."""


def raw_consistency(probabilities: np.ndarray) -> np.ndarray:
    """``(T-1,)`` scores ``1 - mean|p_t - p_(t-1)|`` for probabilities ``(T, H, W)`` in [0, 1]."""
    p = np.asarray(probabilities, np.float32)
    return 1.0 - np.abs(p[1:] - p[:-1]).reshape(len(p) - 1, -1).mean(axis=1)


def mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two binary masks; 1 when both are empty."""
    a, b = a.astype(bool), b.astype(bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * (a & b).sum() / total)


@dataclass
class FrameConsistency:
    """Consistency of one frame with its predecessor.

    Attributes:
        raw, flow, flow_dice: scores in [0, 1] (NaN for the first frame).
        flicker: ``flow_dice`` fell below the flicker threshold.
        area: mask area, mm^2 (or pixels when the pixel size is unknown).
        flicker_map: ``(H, W)`` float32 ``|p_t - warp(p_(t-1))|`` in [0, 1] (zeros for the first frame).
    """

    raw: float
    flow: float
    flow_dice: float
    flicker: bool
    area: float
    flicker_map: np.ndarray


class ConsistencyTracker:
    """Scores each new frame against the previous one (recorded playback or a live stream).

    Args:
        flow_settings: optical-flow estimator settings.
        threshold: probability threshold for masks when none is given to :meth:`update`.
        flicker_dice: flow-compensated mask Dice below which a frame is a flicker event.
        pixel_area: area of one pixel in mm^2 (1.0: areas in pixels).
    """

    def __init__(self, flow_settings: FlowSettings = FlowSettings(), threshold: float = 0.5,
                 flicker_dice: float = FLICKER_DICE, pixel_area: float = 1.0):
        self.flow_settings = flow_settings
        self.threshold = float(threshold)
        self.flicker_dice = float(flicker_dice)
        self.pixel_area = float(pixel_area)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (e.g. after a cut in a live stream)."""
        self._previous = None

    def update(self, frame: np.ndarray, probability: np.ndarray, mask: Optional[np.ndarray] = None) -> FrameConsistency:
        """Score ``frame`` ``(H, W[, 3])`` with its probability ``(H, W)`` in [0, 1] and optional mask ``(H, W)``.

        The mask defaults to ``probability > threshold``; give the post-processed mask the
        user sees so its flicker, not the raw network output's, is measured.
        """
        probability = np.asarray(probability, np.float32)
        mask = (probability > self.threshold) if mask is None else np.asarray(mask).astype(bool)
        area = float(mask.sum()) * self.pixel_area
        previous, self._previous = self._previous, (frame, probability, mask)
        if previous is None or np.shape(previous[0])[:2] != np.shape(frame)[:2]:
            nan = float("nan")
            return FrameConsistency(nan, nan, nan, False, area, np.zeros_like(probability))
        previous_frame, previous_probability, previous_mask = previous
        flow = flow_to_previous(frame, previous_frame, self.flow_settings)
        flicker_map = np.abs(probability - warp_previous(previous_probability, flow))
        warped_mask = warp_previous(previous_mask.astype(np.float32), flow) > 0.5
        flow_dice = mask_dice(mask, warped_mask)
        return FrameConsistency(
            raw=1.0 - float(np.abs(probability - previous_probability).mean()),
            flow=1.0 - float(flicker_map.mean()),
            flow_dice=flow_dice,
            flicker=flow_dice < self.flicker_dice,
            area=area,
            flicker_map=flicker_map,
        )


@dataclass
class ConsistencyReport:
    """Per-frame consistency curves of one recording, each ``(T,)`` (NaN where undefined)."""

    raw: np.ndarray
    flow: np.ndarray
    flow_dice: np.ndarray
    flicker: np.ndarray
    area: np.ndarray
    area_second_difference: np.ndarray

    def curves(self) -> Dict[str, np.ndarray]:
        """The per-frame columns by name (for tables, CSV files and plots)."""
        return {"raw_consistency": self.raw, "flow_consistency": self.flow, "flow_dice": self.flow_dice,
                "flicker": self.flicker.astype(np.uint8), "area": self.area,
                "area_second_difference": self.area_second_difference}

    def summary(self) -> Dict[str, float]:
        """Recording-level scores.

        ``raw_consistency`` / ``flow_consistency`` / ``flow_dice``: means over frame pairs;
        ``flicker_events``: frames flagged; ``flicker_rate``: events per frame pair;
        ``area_jitter``: RMS of the area's second difference divided by the mean area
        (dimensionless; 0 for a mask whose area changes linearly or not at all).
        """
        pairs = max(len(self.raw) - 1, 0)
        second = self.area_second_difference[np.isfinite(self.area_second_difference)]
        mean_area = float(np.mean(self.area)) if len(self.area) else 0.0
        jitter = float(np.sqrt(np.mean(second ** 2))) / mean_area if len(second) and mean_area > 0 else 0.0
        return {
            "raw_consistency": float(np.nanmean(self.raw)) if pairs else 1.0,
            "flow_consistency": float(np.nanmean(self.flow)) if pairs else 1.0,
            "flow_dice": float(np.nanmean(self.flow_dice)) if pairs else 1.0,
            "flicker_events": int(self.flicker.sum()),
            "flicker_rate": float(self.flicker.sum()) / pairs if pairs else 0.0,
            "area_jitter": jitter,
        }


def area_second_difference(area: np.ndarray) -> np.ndarray:
    """``(T,)`` centred second difference ``a[t+1] - 2 a[t] + a[t-1]``; NaN at both ends."""
    area = np.asarray(area, float)
    result = np.full(len(area), np.nan)
    if len(area) >= 3:
        result[1:-1] = area[2:] - 2.0 * area[1:-1] + area[:-2]
    return result


def analyze_consistency(frames: Sequence[np.ndarray], probabilities: Sequence[np.ndarray],
                        masks: Optional[Sequence[np.ndarray]] = None, tracker: Optional[ConsistencyTracker] = None,
                        on_frame: Optional[Callable[[int, FrameConsistency], None]] = None) -> ConsistencyReport:
    """Consistency curves of a recording.

    Args:
        frames: T raw frames ``(H, W)`` / ``(H, W, 3)`` (flow is computed from them).
        probabilities: T maps ``(H, W)`` in [0, 1].
        masks: T masks ``(H, W)`` (default: probabilities above the tracker's threshold).
        tracker: settings (flow, threshold, flicker Dice, pixel area); a default one if None.
        on_frame: called with ``(index, FrameConsistency)`` for every frame, e.g. to stream the
            flicker maps to a file without keeping them all in memory.
    """
    tracker = tracker or ConsistencyTracker()
    tracker.reset()
    rows = []
    for index, (frame, probability) in enumerate(zip(frames, probabilities)):
        result = tracker.update(frame, probability, None if masks is None else masks[index])
        if on_frame is not None:
            on_frame(index, result)
        rows.append((result.raw, result.flow, result.flow_dice, result.flicker, result.area))
    columns = [np.asarray(c) for c in zip(*rows)] if rows else [np.zeros(0)] * 5
    raw, flow, flow_dice, flicker, area = columns
    return ConsistencyReport(raw.astype(float), flow.astype(float), flow_dice.astype(float), flicker.astype(bool),
                             area.astype(float), area_second_difference(area))
