"""From probabilities to a clean prostate mask: threshold, largest component, filled holes."""

import cv2
import numpy as np


def threshold(probabilities: np.ndarray, level: float = 0.5) -> np.ndarray:
    """``(H, W)`` probabilities to a uint8 mask in {0, 1}."""
    return (probabilities > level).astype(np.uint8)


def keep_largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep only the largest 8-connected foreground region (the gland is one organ)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask.astype(np.uint8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == largest).astype(np.uint8)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions not connected to the frame border (e.g. a dark urethra inside the gland)."""
    mask = mask.astype(np.uint8)
    padded = np.pad(mask, 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = (flood == 0)[1:-1, 1:-1]
    return (mask | holes).astype(np.uint8)


def postprocess(probabilities: np.ndarray, level: float = 0.5, largest: bool = True, holes: bool = True) -> np.ndarray:
    """Threshold, then optionally keep the largest component and fill holes; uint8 ``(H, W)``."""
    mask = threshold(probabilities, level)
    if largest:
        mask = keep_largest_component(mask)
    if holes:
        mask = fill_holes(mask)
    return mask
