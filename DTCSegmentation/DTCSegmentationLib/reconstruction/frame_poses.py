"""Per-frame geometry of a sweep: one ``(4, 4)`` pixel-index-to-LPS matrix per frame.

Pixel ``(i, j)`` (column, row) of frame ``t`` lies at ``poses[t] @ (i, j, 0, 1)`` in LPS mm, the
convention of :class:`~DTCSegmentationLib.sequence_io.frame_sequence.FrameGeometry` and of the
importer's ``sweep.json`` (``frame_to_volume_lps``).  Columns 0 and 1 of a matrix are the column and
row steps (mm); column 2 is not used (the plane normal is their cross product).  A frame without a
valid pose (a tracker that lost the probe) is all NaN.
"""

import json
from pathlib import Path
from typing import Optional

import numpy as np

from DTCSegmentationLib.errors import DTCError, PathLike

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""RAS <-> LPS (the same matrix both ways)."""


class FramePoseError(DTCError):
    """Per-frame geometry that cannot place the frames of a sweep."""


def checked_poses(poses, count: Optional[int] = None, path: Optional[PathLike] = None) -> np.ndarray:
    """``poses`` as a ``(T, 4, 4)`` float array; frames whose pose is not finite become all NaN (untracked).

    Raises:
        FramePoseError: wrong shape, a count other than ``count``, or a finite pose whose column and row
            steps are zero or parallel (a degenerate plane).
    """
    poses = np.array(poses, dtype=float)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise FramePoseError(f"per-frame poses must be (T, 4, 4) matrices, got shape {poses.shape}.", path,
                             "Give one 4 x 4 pixel-to-world matrix per frame.")
    if count is not None and len(poses) != count:
        raise FramePoseError(f"has {len(poses)} frame poses for {count} frames.", path,
                             "Give one pose per frame, in frame order.")
    untracked = ~np.isfinite(poses).all(axis=(1, 2))
    poses[untracked] = np.nan
    steps = poses[~untracked, :3, :2]
    area = np.linalg.norm(np.cross(steps[:, :, 0], steps[:, :, 1]), axis=1)
    if np.any(area < 1e-9):
        first = np.flatnonzero(~untracked)[np.argmax(area < 1e-9)]
        raise FramePoseError(f"the pose of frame {first} has zero or parallel column and row steps.", path,
                             "Check the transforms: each must map the image plane to millimetres.")
    return poses


def tracked(poses: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: frames with a valid pose."""
    return np.isfinite(poses).all(axis=(1, 2))


def poses_from_sweep_json(path: PathLike) -> np.ndarray:
    """``(T, 4, 4)`` LPS poses stored by the importer (``DTCTrainingLib.data.volume_sweeps.write_sweep``)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
        poses = document["frame_to_volume_lps"]
    except FileNotFoundError:
        raise FramePoseError("does not exist.", path, "Give the sweep.json next to the sweep's images.") from None
    except (ValueError, KeyError, TypeError):
        raise FramePoseError("holds no frame_to_volume_lps poses.", path,
                             "Give a sweep.json written by `dtc dataset from-volumes`.") from None
    return checked_poses(poses, path=path)


def poses_from_ijk_to_ras(matrices) -> np.ndarray:
    """``(T, 4, 4)`` LPS poses from Slicer's per-frame IJK-to-RAS matrices ``(T, 4, 4)``."""
    return checked_poses(LPS_FROM_RAS[None] @ np.asarray(matrices, dtype=float))


def ijk_to_ras(poses: np.ndarray) -> np.ndarray:
    """``(T, 4, 4)`` Slicer IJK-to-RAS matrices of LPS ``poses``, the k column set to the unit plane normal."""
    poses = np.array(poses, dtype=float)
    normal = np.cross(poses[:, :3, 0], poses[:, :3, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        poses[:, :3, 2] = normal / np.linalg.norm(normal, axis=1, keepdims=True)
    return LPS_FROM_RAS[None] @ poses
