"""Temporal consistency of a segmentation over a recording (no ground truth needed).

* ``raw``: the authors' score ``1 - mean|p_t - p_(t-1)|`` between neighbouring frames.
* ``flow-compensated``: ``p_(t-1)`` is first warped onto frame t with optical flow from the
  frames, so real motion of the gland is not counted as inconsistency; reported as the
  same score and as the Dice between consecutive (warped) masks.
"""

from typing import Dict, Optional, Sequence

import numpy as np

from .flow import FlowSettings, flow_to_previous, warp_previous


def raw_consistency(probabilities: np.ndarray) -> np.ndarray:
    """``(T-1,)`` scores ``1 - mean|p_t - p_(t-1)|`` for probabilities ``(T, H, W)`` in [0, 1]."""
    p = np.asarray(probabilities, np.float32)
    return 1.0 - np.abs(p[1:] - p[:-1]).reshape(len(p) - 1, -1).mean(axis=1)


def mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two binary masks; 1 when both are empty."""
    a, b = a.astype(bool), b.astype(bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * (a & b).sum() / total)


def flow_compensated_consistency(frames: Sequence[np.ndarray], probabilities: np.ndarray,
                                 settings: FlowSettings = FlowSettings(), threshold: float = 0.5) -> Dict[str, np.ndarray]:
    """Flow-compensated scores between neighbouring frames.

    Args:
        frames: T raw frames ``(H, W)`` / ``(H, W, 3)``.
        probabilities: ``(T, H, W)`` in [0, 1].
        settings: optical flow settings.
        threshold: probability threshold for the mask Dice.

    Returns:
        ``{"consistency": (T-1,), "dice": (T-1,)}``: ``1 - mean|p_t - warp(p_(t-1))|`` and the
        Dice between ``p_t > threshold`` and ``warp(p_(t-1)) > threshold``.
    """
    scores, dice = [], []
    for t in range(1, len(probabilities)):
        flow = flow_to_previous(frames[t], frames[t - 1], settings)
        warped = warp_previous(np.asarray(probabilities[t - 1], np.float32), flow)
        scores.append(1.0 - float(np.abs(probabilities[t] - warped).mean()))
        dice.append(mask_dice(probabilities[t] > threshold, warped > threshold))
    return {"consistency": np.asarray(scores), "dice": np.asarray(dice)}


def summary(raw: np.ndarray, compensated: Optional[Dict[str, np.ndarray]] = None, flicker_dice: float = 0.9) -> Dict[str, float]:
    """Mean scores and the number of flicker events (flow-compensated Dice below ``flicker_dice``)."""
    result = {"raw_consistency": float(np.mean(raw)) if len(raw) else 1.0}
    if compensated is not None and len(compensated["dice"]):
        result["flow_consistency"] = float(np.mean(compensated["consistency"]))
        result["flow_dice"] = float(np.mean(compensated["dice"]))
        result["flicker_events"] = int(np.sum(compensated["dice"] < flicker_dice))
    return result
