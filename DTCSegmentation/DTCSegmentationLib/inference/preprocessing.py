"""Frames to network input and network output back to the frame, identically in training and inference.

Steps for a frame ``(H, W)`` / ``(H, W, C)`` of any integer or float dtype:
1. to 8 bits: 16-bit (and other integer) frames are scaled by their dtype's range -
   never by their own maximum, which changes from frame to frame and would flicker;
   float frames by the range of their whole recording (:func:`float_value_range`): [0, 1]
   when every value lies within it (a common export), else [0, 255];
2. to the network's channels (RGB -> gray by luminance, gray -> repeated RGB);
3. to the network's size ``(h, w)``: ``resize`` stretches, ``letterbox`` keeps the aspect
   ratio and pads with zeros around the centred content;
4. intensity normalisation from the model metadata: ``(pixel * scale - mean) / std``.
Probabilities are mapped back by undoing step 3 exactly, so the mask lies on the frame.
"""

import logging
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Sequence, Tuple

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where a frame's content sits inside the network input.

    Attributes:
        frame_size: ``(H, W)`` of the original frame.
        box: ``(top, left, height, width)`` of the content in the network input (pixels).
    """

    frame_size: Tuple[int, int]
    box: Tuple[int, int, int, int]


BYTE_RANGE = (0.0, 255.0)
UNIT_RANGE = (0.0, 1.0)


def float_value_range(frames: Iterable[np.ndarray], source: str = "") -> Tuple[float, float]:
    """The range of float ``frames`` (a whole recording, or what is known of it) that maps onto 0-255.

    [0, 1] when every finite value lies within it: frames exported as fractions, which read as
    [0, 255] would be black and give empty masks.  A note (one per call, so once per recording)
    says so, naming ``source``.  Anything else is taken as [0, 255], the scale of 8-bit images.
    """
    low, high, seen = np.inf, -np.inf, False
    for frame in frames:
        values = np.asarray(frame)
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high, seen = min(low, float(finite.min())), max(high, float(finite.max())), True
    if seen and low >= 0.0 and high <= 1.0 and high > 0.0:
        log.warning("note: %sfloat frames with values in [0, 1] are read as [0, 1] (multiplied by 255), not as "
                    "[0, 255].", f"{source}: " if source else "")
        return UNIT_RANGE
    return BYTE_RANGE


def to_uint8(frame: np.ndarray, value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Any integer or float frame to uint8: integers by their dtype's range, floats by ``value_range``
    (default [0, 255]; NaN becomes 0)."""
    frame = np.asarray(frame)
    if frame.dtype == np.uint8:
        return frame
    if np.issubdtype(frame.dtype, np.integer):
        info = np.iinfo(frame.dtype)
        frame = (frame.astype(np.float32) - info.min) * (255.0 / (info.max - info.min))
    elif np.issubdtype(frame.dtype, np.floating) or frame.dtype == np.bool_:
        low, high = value_range or BYTE_RANGE
        frame = np.nan_to_num(frame.astype(np.float32), nan=low, posinf=high, neginf=low)
        if (low, high) != BYTE_RANGE:
            frame = (frame - np.float32(low)) * np.float32(255.0 / (high - low))
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


def fit_frame(frame: np.ndarray, size: Tuple[int, int], channels: int = 1, mode: str = "resize",
              value_range: Optional[Tuple[float, float]] = None) -> Tuple[np.ndarray, Placement]:
    """Steps 1-3: a raw frame to uint8 ``(h, w)`` / ``(h, w, 3)`` at the network size, and its placement
    (``value_range``: of float frames, see :func:`float_value_range`)."""
    image = to_channels(to_uint8(frame, value_range), channels)
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
                  normalization: Dict[str, float], value_range: Optional[Tuple[float, float]] = None):
    """Steps 1-4 for several frames: ``(B, C, h, w)`` float32 and one :class:`Placement` per frame."""
    fitted = [fit_frame(frame, size, channels, mode, value_range) for frame in frames]
    return normalize(np.stack([image for image, _ in fitted]), normalization), [where for _, where in fitted]


def restore(probabilities: np.ndarray, where: Placement) -> np.ndarray:
    """Undo step 3: network-size probabilities ``(h, w)`` to the frame's ``(H, W)`` (float32)."""
    top, left, content_h, content_w = where.box
    content = probabilities[top:top + content_h, left:left + content_w]
    height, width = where.frame_size
    return cv2.resize(content.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
