"""Augmentations of METHOD.md, applied identically to every frame of a clip.

One set of random parameters is drawn per clip (or per labelled frame for the teacher)
and applied to all its frames, masks and optical flows, so the temporal relations the
student learns from are not broken by the augmentation itself.  Geometric changes are one
affine map ``A``; a backward flow ``f`` becomes ``f'(y) = L f(A^-1 y)`` with ``L`` the
linear part of ``A``, which keeps ``frame_t(y) ~ frame_prev(y + f'(y))`` true.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the augmentations (METHOD.md defaults)."""

    crop_scale: Tuple[float, float] = (0.9, 1.0)
    hflip: float = 0.5
    vflip: float = 0.0
    shift: float = 0.05
    scale: float = 0.1
    rotate_deg: float = 10.0
    brightness: float = 0.2
    contrast: float = 0.2
    blur_probability: float = 0.2
    cutout_probability: float = 0.3
    cutout_fraction: float = 0.15


@dataclass
class ClipTransform:
    """One draw of augmentation parameters, applicable to any number of frames."""

    matrix: np.ndarray  # (2, 3) affine from original to augmented pixel coordinates
    brightness: float
    contrast: float
    blur_sigma: float
    cutout: Optional[Tuple[int, int, int, int]]  # (y0, x0, y1, x1) in output pixels


def sample_transform(rng: np.random.Generator, size: Tuple[int, int],
                     settings: AugmentSettings = AugmentSettings()) -> ClipTransform:
    """Draw one :class:`ClipTransform` for frames of ``size = (H, W)``."""
    height, width = size
    centre = np.array([width / 2.0, height / 2.0])
    # Random resized crop and scale jitter both become one zoom about a shifted centre.
    crop = rng.uniform(*settings.crop_scale)
    zoom = (1.0 / np.sqrt(crop)) * (1.0 + rng.uniform(-settings.scale, settings.scale))
    angle = np.deg2rad(rng.uniform(-settings.rotate_deg, settings.rotate_deg))
    shift = rng.uniform(-settings.shift, settings.shift, 2) * np.array([width, height])
    flip_x = -1.0 if rng.random() < settings.hflip else 1.0
    flip_y = -1.0 if rng.random() < settings.vflip else 1.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = zoom * rotation @ np.diag([flip_x, flip_y])
    offset = centre + shift - linear @ centre
    matrix = np.hstack([linear, offset[:, None]])
    cutout = None
    if rng.random() < settings.cutout_probability:
        ch, cw = int(height * settings.cutout_fraction), int(width * settings.cutout_fraction)
        y0, x0 = int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))
        cutout = (y0, x0, y0 + ch, x0 + cw)
    return ClipTransform(
        matrix=matrix,
        brightness=float(rng.uniform(-settings.brightness, settings.brightness)),
        contrast=float(1.0 + rng.uniform(-settings.contrast, settings.contrast)),
        blur_sigma=float(rng.uniform(0.5, 1.2)) if rng.random() < settings.blur_probability else 0.0,
        cutout=cutout,
    )


def apply_to_frame(transform: ClipTransform, frame: np.ndarray) -> np.ndarray:
    """Augment a uint8 frame ``(H, W)`` or ``(H, W, 3)``; returns the same shape and dtype."""
    height, width = frame.shape[:2]
    out = cv2.warpAffine(frame, transform.matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out = out.astype(np.float32)
    out = (out - 127.5) * transform.contrast + 127.5 + 255.0 * transform.brightness
    if transform.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), transform.blur_sigma)
    if transform.cutout is not None:
        y0, x0, y1, x1 = transform.cutout
        out[y0:y1, x0:x1] = 0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def apply_to_mask(transform: ClipTransform, mask: np.ndarray) -> np.ndarray:
    """Move a label mask ``(H, W)`` with the geometric part only (nearest neighbour)."""
    height, width = mask.shape[:2]
    return cv2.warpAffine(mask, transform.matrix, (width, height), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)


def apply_to_flow(transform: ClipTransform, flow: np.ndarray) -> np.ndarray:
    """Transform a backward flow ``(H, W, 2)`` (pixels) so it stays valid between the augmented frames."""
    height, width = flow.shape[:2]
    moved = cv2.warpAffine(flow, transform.matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    linear = transform.matrix[:, :2].astype(np.float32)
    return (moved.reshape(-1, 2) @ linear.T).reshape(height, width, 2)


def apply_to_logits(transform: ClipTransform, logits: np.ndarray, outside: float = -20.0) -> np.ndarray:
    """Move a float map ``(H, W)`` (logits, or probabilities with ``outside=0``) with the geometric part;
    uncovered pixels become confident background."""
    height, width = logits.shape[:2]
    return cv2.warpAffine(logits, transform.matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=outside)
