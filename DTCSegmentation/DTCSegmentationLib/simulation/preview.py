"""A PNG montage of a simulated (or any) recording, to judge realism at a glance."""

from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import PathLike


def montage(images: np.ndarray, masks: Optional[np.ndarray] = None, columns: int = 4, rows: int = 2,
            label: str = "") -> np.ndarray:
    """``(rows * H, columns * W, 3)`` uint8 RGB grid of frames sampled evenly over time.

    Args:
        images: ``(T, H, W)`` uint8 frames.
        masks: optional ``(T, H, W)`` masks; their outline is drawn on the bottom row only,
            so the top row shows the raw B-mode.
        label: text written on the first tile.
    """
    count = len(images)
    picks = np.linspace(0, count - 1, columns * rows).round().astype(int)
    tiles = []
    for slot, index in enumerate(picks):
        tile = cv2.cvtColor(images[index], cv2.COLOR_GRAY2RGB)
        if masks is not None and slot >= columns * (rows - 1):
            contours, _ = cv2.findContours(masks[index].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(tile, contours, -1, (255, 200, 0), 1, cv2.LINE_AA)
        cv2.putText(tile, f"t={index}", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        if slot == 0 and label:
            cv2.putText(tile, label, (6, tile.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    grid = [np.hstack(tiles[r * columns:(r + 1) * columns]) for r in range(rows)]
    return np.vstack(grid)


def gallery(configs: Sequence, columns: int, frame: int = -1) -> np.ndarray:
    """``(rows * H, columns * W, 3)`` uint8 RGB grid: one frame of each recording, mask outline drawn.

    Args:
        configs: :class:`~.config.SimulationConfig` per tile, row by row (all the same frame size).
        columns: tiles per row.
        frame: which frame of each recording (default its last).
    """
    from DTCSegmentationLib.simulation.simulator import iter_simulation  # the preview module must not need the simulator to load

    tiles = []
    for config in configs:
        frames = list(iter_simulation(config))
        chosen = frames[frame]
        tile = cv2.cvtColor(chosen.image, cv2.COLOR_GRAY2RGB)
        contours, _ = cv2.findContours(chosen.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1, (255, 200, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % columns)
    return np.vstack([np.hstack(tiles[r:r + columns]) for r in range(0, len(tiles), columns)])


def write_preview(path: PathLike, images: np.ndarray, masks: Optional[np.ndarray] = None, label: str = "",
                  overwrite: bool = False) -> Path:
    """Write :func:`montage` as a PNG (atomically); returns the path."""
    with atomic_output(path, overwrite=overwrite) as temporary:
        picture = cv2.cvtColor(montage(images, masks, label=label), cv2.COLOR_RGB2BGR)
        encoded, data = cv2.imencode(".png", picture)
        if not encoded:
            raise RuntimeError("OpenCV could not encode the preview montage as PNG")
        Path(temporary).write_bytes(data.tobytes())
    return Path(path)
