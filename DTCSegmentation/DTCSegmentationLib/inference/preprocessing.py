"""Frames to network input and network output back to the frame, identically in training and inference.

Steps for a frame ``(H, W)`` / ``(H, W, C)`` of any integer dtype:
1. to 8 bits: 16-bit (and other integer) frames are scaled by their dtype's range -
   never by their own maximum, which changes from frame to frame and would flicker;
2. to the network's channels (RGB -> gray by luminance, gray -> repeated RGB);
3. to the network's size ``(h, w)``: ``resize`` stretches, ``letterbox`` keeps the aspect
   ratio and pads with zeros around the centred content;
4. intensity normalisation from the model metadata: ``(pixel * scale - mean) / std``.
Probabilities are mapped back by undoing step 3 exactly, so the mask lies on the frame.
"""

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class Placement:
    """Where a frame's content sits inside the network input.

    Attributes:
        frame_size: ``(H, W)`` of the original frame.
        box: ``(top, left, height, width)`` of the content in the network input (pixels).
    """

    frame_size: Tuple[int, int]
    box: Tuple[int, int, int, int]


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """Any integer or float frame to uint8 (integers by dtype range, floats assumed in [0, 255])."""
    frame = np.asarray(frame)
    if frame.dtype == np.uint8:
        return frame
    if np.issubdtype(frame.dtype, np.integer):
        info = np.iinfo(frame.dtype)
        frame = (frame.astype(np.float32) - info.min) * (255.0 / (info.max - info.min))
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def probability_to_uint8(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (probabilities, flicker maps) as uint8 ``round(255 * v)``, clipped; same shape."""
    return to_uint8(np.asarray(values, np.float32) * 255.0)


def to_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    """uint8 ``(H, W)`` / ``(H, W, 3|4)`` to ``(H, W)`` (channels 1) or ``(H, W, 3)`` RGB (channels 3)."""
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[..., :3]
    if channels == 1:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
    return np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame


def placement(frame_size: Tuple[int, int], size: Tuple[int, int], mode: str) -> Placement:
    """Where a ``frame_size`` frame goes in a ``size`` input under ``mode`` (``resize`` or ``letterbox``)."""
    height, width = frame_size
    target_h, target_w = size
    if mode == "resize":
        return Placement((height, width), (0, 0, target_h, target_w))
    if mode != "letterbox":
        raise ValueError(f"resize mode must be 'resize' or 'letterbox', got {mode!r}")
    scale = min(target_h / height, target_w / width)
    content_h, content_w = max(1, round(height * scale)), max(1, round(width * scale))
    return Placement((height, width), ((target_h - content_h) // 2, (target_w - content_w) // 2, content_h, content_w))


def fit_frame(frame: np.ndarray, size: Tuple[int, int], channels: int = 1, mode: str = "resize") -> Tuple[np.ndarray, Placement]:
    """Steps 1-3: a raw frame to uint8 ``(h, w)`` / ``(h, w, 3)`` at the network size, and its placement."""
    image = to_channels(to_uint8(frame), channels)
    where = placement(image.shape[:2], size, mode)
    top, left, content_h, content_w = where.box
    if image.shape[:2] != (content_h, content_w):
        shrinking = content_h < image.shape[0] or content_w < image.shape[1]
        image = cv2.resize(image, (content_w, content_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if (content_h, content_w) == tuple(size):
        return image, where
    canvas = np.zeros(tuple(size) + image.shape[2:], np.uint8)
    canvas[top:top + content_h, left:left + content_w] = image
    return canvas, where


def fit_mask(mask: np.ndarray, size: Tuple[int, int], mode: str = "resize") -> np.ndarray:
    """A label mask ``(H, W)`` moved to the network size exactly as :func:`fit_frame` moves its frame."""
    where = placement(mask.shape[:2], size, mode)
    top, left, content_h, content_w = where.box
    resized = cv2.resize(mask, (content_w, content_h), interpolation=cv2.INTER_NEAREST)
    canvas = np.zeros(tuple(size), mask.dtype)
    canvas[top:top + content_h, left:left + content_w] = resized
    return canvas


def normalize(images: np.ndarray, normalization: Dict[str, float]) -> np.ndarray:
    """Step 4: uint8 ``(B, h, w)`` / ``(B, h, w, 3)`` to float32 network input ``(B, C, h, w)``."""
    x = images.astype(np.float32) * np.float32(normalization.get("scale", 1 / 255.0))
    x = (x - np.float32(normalization.get("mean", 0.0))) / np.float32(normalization.get("std", 1.0))
    return x[:, None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def prepare_batch(frames: Sequence[np.ndarray], size: Tuple[int, int], channels: int, mode: str,
                  normalization: Dict[str, float]):
    """Steps 1-4 for several frames: ``(B, C, h, w)`` float32 and one :class:`Placement` per frame."""
    fitted = [fit_frame(frame, size, channels, mode) for frame in frames]
    return normalize(np.stack([image for image, _ in fitted]), normalization), [where for _, where in fitted]


def restore(probabilities: np.ndarray, where: Placement) -> np.ndarray:
    """Undo step 3: network-size probabilities ``(h, w)`` to the frame's ``(H, W)`` (float32)."""
    top, left, content_h, content_w = where.box
    content = probabilities[top:top + content_h, left:left + content_w]
    height, width = where.frame_size
    return cv2.resize(content.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
