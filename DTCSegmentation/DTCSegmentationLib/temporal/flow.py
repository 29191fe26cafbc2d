"""Dense optical flow between neighbouring frames, and warping with it.

Flow convention (used everywhere in the project): ``flow_to_previous(frame_t, frame_prev)``
returns the *backward* flow ``F`` of shape ``(H, W, 2)`` in pixels, ``(dx, dy)`` per pixel,
such that ``frame_t(x) ~ frame_prev(x + F(x))``.  Warping anything defined on the previous
frame (a probability map, a feature map) onto frame ``t`` is then a plain backward sampling
at ``x + F(x)`` - no forward splatting, no holes.

Flow is computed from the raw frames (8-bit or 16-bit, as recorded), not from
network-normalised tensors, so the full intensity range informs the motion estimate.

OpenCV (and torch, for the tensor helpers) is imported inside the functions that compute: the
Slicer panel reads consistency reports (whose module imports this one) before it is installed.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Tuple

import numpy as np

from DTCSegmentationLib.choices import FLOW_METHODS

_DIS_PRESETS = {"dis_ultrafast": "DISOPTICAL_FLOW_PRESET_ULTRAFAST", "dis_fast": "DISOPTICAL_FLOW_PRESET_FAST",
                "dis_medium": "DISOPTICAL_FLOW_PRESET_MEDIUM"}


@dataclass(frozen=True)
class FlowSettings:
    """How flow is computed; part of the flow-cache key.

    Attributes:
        method: one of :data:`FLOW_METHODS` (Farneback as in the paper, or an OpenCV DIS preset).
        pyr_scale, levels, winsize, iterations, poly_n, poly_sigma: Farneback parameters.
        presmooth: odd median-filter size applied to both frames first to suppress speckle
            (0 or 1 = off).
    """

    method: str = "farneback"
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2
    presmooth: int = 5

    def __post_init__(self):
        if self.method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {self.method!r}; choose one of {', '.join(FLOW_METHODS)}")

    def key(self) -> str:
        """A stable string for cache keys."""
        return json.dumps(asdict(self), sort_keys=True)


def to_flow_gray(frame: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 image for the flow estimator from a raw ``(H, W)`` or ``(H, W, 3)`` frame.

    8-bit frames are used as they are; 16-bit and float frames are scaled by their own
    dtype range (integers) or their min/max (floats), never clipped to a normalised range.
    """
    frame = np.asarray(frame)
    if frame.ndim == 3:
        frame = frame[..., :3].astype(np.float32).mean(axis=2)
    if frame.dtype == np.uint8:
        return frame
    if np.issubdtype(frame.dtype, np.integer):
        info = np.iinfo(frame.dtype)
        scaled = (frame.astype(np.float64) - info.min) / float(info.max - info.min) * 255.0
    else:
        lo, hi = float(np.min(frame)), float(np.max(frame))
        scaled = (frame.astype(np.float64) - lo) / (hi - lo if hi > lo else 1.0) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def flow_to_previous(frame_t: np.ndarray, frame_prev: np.ndarray, settings: FlowSettings = FlowSettings()) -> np.ndarray:
    """Backward flow ``(H, W, 2)`` float32 in pixels: ``frame_t(x) ~ frame_prev(x + flow(x))``.

    Args:
        frame_t: the current raw frame ``(H, W)`` or ``(H, W, 3)``.
        frame_prev: the previous raw frame, same shape.
        settings: estimator and its parameters.
    """
    import cv2

    if np.shape(frame_t)[:2] != np.shape(frame_prev)[:2]:
        raise ValueError(f"frames differ in size: {np.shape(frame_t)} vs {np.shape(frame_prev)}")
    current, previous = to_flow_gray(frame_t), to_flow_gray(frame_prev)
    if settings.presmooth > 1:
        current = cv2.medianBlur(current, settings.presmooth)
        previous = cv2.medianBlur(previous, settings.presmooth)
    if settings.method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(
            current, previous, None, settings.pyr_scale, settings.levels, settings.winsize,
            settings.iterations, settings.poly_n, settings.poly_sigma, 0,
        )
    else:
        flow = cv2.DISOpticalFlow_create(getattr(cv2, _DIS_PRESETS[settings.method])).calc(current, previous, None)
    return flow.astype(np.float32, copy=False)


def sampling_maps(flow: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(map_x, map_y)``, each ``(H, W)`` float32: where each pixel samples the previous frame."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def warp_previous(image_prev: np.ndarray, flow: np.ndarray, nearest: bool = False) -> np.ndarray:
    """Warp an array defined on the previous frame onto the current frame.

    Args:
        image_prev: ``(H, W)`` or ``(H, W, C)`` (C <= 4) array on the previous frame.
        flow: backward flow ``(H, W, 2)`` from :func:`flow_to_previous`.
        nearest: nearest-neighbour sampling (for label masks) instead of bilinear.

    Returns:
        The warped array, same shape and dtype; samples falling outside the previous
        frame take the nearest border value.
    """
    import cv2

    map_x, map_y = sampling_maps(flow)
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.remap(image_prev, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def valid_mask(flow: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: pixels whose flow target lies inside the previous frame."""
    map_x, map_y = sampling_maps(flow)
    height, width = flow.shape[:2]
    return (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)


def photometric_confidence(frame_t: np.ndarray, warped_prev: np.ndarray) -> np.ndarray:
    """Confidence ``M(x) = exp(-|I_t(x) - warp(I_prev)(x)|)`` of the paper, ``(H, W)`` float32 in (0, 1].

    Intensities are scaled to [0, 1] (by 255 for 8-bit, by the dtype range for other
    integers) and the absolute residual is summed over channels, so a pixel whose
    appearance the flow cannot explain (occlusion, a shadow that came or went, gain
    change) gets a low confidence.
    """

    def unit(image):
        image = np.asarray(image)
        if np.issubdtype(image.dtype, np.integer):
            return image.astype(np.float32) / float(np.iinfo(image.dtype).max)
        return image.astype(np.float32)

    residual = np.abs(unit(frame_t) - unit(warped_prev))
    if residual.ndim == 3:
        residual = residual.sum(axis=2)
    return np.exp(-residual).astype(np.float32)


def flow_cache_key(frame_t: np.ndarray, frame_prev: np.ndarray, settings: FlowSettings) -> str:
    """Hex digest identifying a flow by the content of both frames and the settings."""
    digest = hashlib.sha1()
    for frame in (frame_t, frame_prev):
        frame = np.ascontiguousarray(frame)
        digest.update(f"{frame.shape}{frame.dtype}".encode())
        digest.update(frame.tobytes())
    digest.update(settings.key().encode())
    return digest.hexdigest()



def warp_tensor(previous, flow):
    """Warp a tensor defined on the previous frame onto the current frame (differentiable).

    Args:
        previous: ``(B, C, H, W)`` float tensor on the previous frame (probabilities, features).
        flow: ``(B, 2, H, W)`` backward flow in pixels of *this* resolution, ``(dx, dy)``
            (see :func:`resize_flow` to bring a full-resolution flow to a feature map).

    Returns:
        ``(B, C, H, W)``: ``previous`` sampled bilinearly at ``x + flow(x)``, border values
        replicated outside the frame (as :func:`warp_previous` does).
    """
    import torch
    import torch.nn.functional as F

    batch, _, height, width = previous.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device, dtype=flow.dtype),
        torch.arange(width, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )
    # grid_sample wants sampling positions normalised to [-1, 1] (align_corners=True: pixel centres).
    x = (xs + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    y = (ys + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack((x, y), dim=-1)
    return F.grid_sample(previous, grid.to(previous.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def resize_flow(flow, size):
    """Resample a ``(B, 2, H, W)`` pixel flow to ``size = (h, w)``, scaling the vectors to match."""
    import torch.nn.functional as F

    height, width = flow.shape[-2:]
    resized = F.interpolate(flow, size=tuple(size), mode="bilinear", align_corners=True)
    scale = flow.new_tensor([(size[1] - 1) / max(width - 1, 1), (size[0] - 1) / max(height - 1, 1)])
    return resized * scale.view(1, 2, 1, 1)
