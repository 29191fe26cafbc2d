"""Post-hoc temporal smoothing of probabilities (the alternative a user might try instead of DTC), and its lag.

An exponential moving average ``s_t = w * s_(t-1) + (1 - w) * p_t`` removes flicker, but
every change of the gland reaches the mask late: the filter's mean delay is
``w / (1 - w)`` frames.  DTC's claim is consistency *without* that lag, so comparisons
report both the theoretical and the measured delay.  :func:`flow_warped_average` is the
motion-compensated alternative: a moving average of maps carried onto the current frame by
optical flow.
"""

from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
from DTCSegmentationLib.temporal.flow import FlowSettings


def ema_probabilities(probabilities: Iterable[np.ndarray], weight: float) -> Iterator[np.ndarray]:
    """Smoothed maps ``(H, W)`` float32, one per input map; ``weight`` in [0, 1) on the past (0: unchanged).

    The state restarts when the frame size changes.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"EMA weight must be in [0, 1), got {weight}")
    state = None
    for probability in probabilities:
        probability = np.asarray(probability, np.float32)
        if state is None or state.shape != probability.shape:
            state = probability.copy()
        else:
            state = weight * state + (1.0 - weight) * probability
        yield state


def ema_mean_delay(weight: float) -> float:
    """Mean delay in frames of the EMA's impulse response, ``w / (1 - w)``."""
    return weight / (1.0 - weight)


def _signals(probabilities: np.ndarray) -> np.ndarray:
    """``(T, 3)`` in pixels: centroid (x, y) and equivalent radius ``sqrt(area)`` of each map - what a user sees move."""
    probabilities = np.asarray(probabilities, np.float64)
    height, width = probabilities.shape[1:3]
    ys, xs = np.mgrid[0:height, 0:width]
    area = probabilities.sum(axis=(1, 2))
    safe = np.maximum(area, 1e-9)
    cx = (probabilities * xs).sum(axis=(1, 2)) / safe
    cy = (probabilities * ys).sum(axis=(1, 2)) / safe
    return np.stack([cx, cy, np.sqrt(area)], axis=1)


def measured_lag(original: np.ndarray, delayed: np.ndarray, max_lag: int = 15, min_motion: float = 0.5) -> float:
    """Delay in frames (fractional) that best aligns ``delayed`` maps with ``original`` maps.

    Both are ``(T, H, W)``.  The centroid and equivalent radius of each map form a signal
    in pixels; the shift ``k`` minimising the mean squared difference between
    ``delayed[t]`` and ``original[t - k]`` is refined by a parabola through its neighbours.
    Returns NaN when the gland moves less than ``min_motion`` pixels (standard deviation)
    - there is nothing to align.
    """
    a, b = _signals(original), _signals(delayed)
    if len(a) < 4 or a.std(axis=0).max() < min_motion:
        return float("nan")
    reach = min(max_lag, len(a) - 3)
    lags = np.arange(-reach, reach + 1)  # negative lags too, so a lag near 0 is refined like any other
    errors = np.array([np.mean((b[max(k, 0):len(b) + min(k, 0)] - a[max(-k, 0):len(a) - max(k, 0)]) ** 2)
                       for k in lags])
    best = int(np.argmin(errors))
    lag = float(lags[best])
    if 0 < best < len(lags) - 1:
        left, centre, right = errors[best - 1:best + 2]
        curvature = left - 2 * centre + right
        if curvature > 0:
            lag += 0.5 * (left - right) / curvature
    return lag


def flow_warped_average(frames: Sequence[np.ndarray], probabilities: Iterable[np.ndarray], window: int,
                        settings: Optional[FlowSettings] = None) -> Iterator[np.ndarray]:
    """Causal moving average of the last ``window`` maps, each carried onto the current frame by optical flow.

    ``frames``: the raw frames ``(H, W[, 3])`` the flow is computed from; ``probabilities``: one
    map ``(H, W)`` in [0, 1] per frame.  Yields ``(H, W)`` float32 maps.  At frame ``t`` the
    maps of frames ``t - window + 1 .. t`` are averaged, each warped frame by frame along the
    backward flow (:func:`~DTCSegmentationLib.temporal.flow.flow_to_previous`), so a gland
    that moves is averaged where it is now, not smeared along its path; a gland that appears
    or vanishes still reaches the mask with a delay (about ``(window - 1) / 2`` frames).
    ``window`` 1 returns the maps unchanged.
    """
    from DTCSegmentationLib.temporal.flow import flow_to_previous, warp_previous

    if window < 1:
        raise ValueError(f"window must be at least 1 frame, got {window}")
    settings = settings or FlowSettings()
    history: list = []  # the last maps, already warped onto the previous frame
    previous_frame = None
    for frame, probability in zip(frames, probabilities):
        probability = np.asarray(probability, np.float32)
        if history and np.shape(previous_frame)[:2] == np.shape(frame)[:2] and window > 1:
            flow = flow_to_previous(frame, previous_frame, settings)
            history = [warp_previous(p, flow) for p in history[-(window - 1):]]
        else:
            history = []
        history.append(probability)
        previous_frame = frame
        yield np.mean(history, axis=0).astype(np.float32)
