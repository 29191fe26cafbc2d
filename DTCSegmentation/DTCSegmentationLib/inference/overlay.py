"""Drawing masks on frames for overlay videos and previews."""

from typing import Optional, Tuple

import cv2
import numpy as np

from DTCSegmentationLib.inference.preprocessing import to_uint8


def draw_contour(frame: np.ndarray, mask: np.ndarray, color: Tuple[int, int, int] = (255, 200, 0),
                 thickness: int = 1, value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` copy of ``frame`` (gray, RGB, 16-bit or float in ``value_range``) with the outline
    of ``mask`` drawn."""
    image = to_uint8(frame, value_range)
    image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else np.ascontiguousarray(image[..., :3])
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(image, contours, -1, color, thickness, cv2.LINE_AA)
    return image
