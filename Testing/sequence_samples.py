"""Small random frame stacks and one frame geometry shared by the sequence I/O tests."""

import numpy as np

from DTCSegmentationLib.sequence import FrameGeometry

GEOMETRY = FrameGeometry(spacing=(0.2, 0.3, 1.0), origin=(10.0, -5.0, 2.0))


def frames(dtype=np.uint8, channels=1, count=4, height=12, width=20, seed=0):
    """``(count, height, width[, channels])`` random frames over the dtype's usual range."""
    rng = np.random.default_rng(seed)
    shape = (count, height, width) + ((channels,) if channels > 1 else ())
    return rng.integers(0, 255 if dtype == np.uint8 else 60000, shape).astype(dtype)
