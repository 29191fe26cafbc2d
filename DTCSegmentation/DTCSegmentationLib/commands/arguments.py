"""Argument types shared by the ``dtc`` sub-commands."""

import argparse
from typing import Tuple


def frame_size(text: str) -> Tuple[int, int]:
    """``HEIGHTxWIDTH`` (e.g. ``256x448``) as ``(height, width)``."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 256x448, got {text!r}") from None
    if height < 16 or width < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return height, width
