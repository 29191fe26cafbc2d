"""Post-hoc temporal smoothing of probabilities (the alternative a user might try instead of DTC), and its lag.

An exponential moving average ``s_t = w * s_(t-1) + (1 - w) * p_t`` removes flicker, but
every change of the gland reaches the mask late: the filter's mean delay is
``w / (1 - w)`` frames.  DTC's claim is consistency *without* that lag, so comparisons
report both the theoretical and the measured delay.
"""

from typing import Iterable, Iterator

import numpy as np


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
