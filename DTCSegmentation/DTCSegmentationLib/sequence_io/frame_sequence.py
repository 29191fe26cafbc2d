"""The in-memory and streaming form of a 2D+t ultrasound recording.

Conventions used across the project:

* A frame is a numpy array ``(H, W)`` (grayscale) or ``(H, W, C)`` (C = 3, RGB order).
  A sequence stacks frames on a leading time axis: ``(T, H, W)`` or ``(T, H, W, C)``.
  Masks are ``uint8`` label arrays of the same ``(T, H, W)`` shape.
* Geometry follows ITK and the files on disk: physical space is LPS, in millimetres.
  Index ``i`` runs along a row (the column index, ``W``), ``j`` down the columns
  (the row index, ``H``), ``k`` across frames of a volume (always 0 for a frame).
  :meth:`FrameGeometry.ijk_to_ras` gives the matrix Slicer's volume nodes use.
* Frame times are seconds from the start of the recording.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from DTCSegmentationLib.errors import SequenceReadError

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class FrameGeometry:
    """Where the pixels of a frame are in physical space.

    Attributes:
        spacing: ``(sx, sy, sz)`` in mm: between columns, between rows, slice thickness.
        origin: ``(x, y, z)`` in mm (LPS) of the centre of pixel ``(row 0, column 0)``.
        direction: 3 x 3 row-major matrix whose columns are the unit directions (LPS)
            of the ``i`` (column), ``j`` (row) and ``k`` axes.
    """

    spacing: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: Tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self):
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) == 2:
            spacing = spacing + (1.0,)
        origin = tuple(float(o) for o in self.origin)
        if len(origin) == 2:
            origin = origin + (0.0,)
        direction = tuple(float(d) for d in np.asarray(self.direction, dtype=float).ravel())
        if len(spacing) != 3 or len(origin) != 3 or len(direction) != 9:
            raise ValueError("FrameGeometry needs 3 spacings, 3 origin values and 9 direction values")
        if not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise ValueError(f"FrameGeometry spacing must be positive and finite, got {spacing}")
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)

    @property
    def direction_matrix(self) -> np.ndarray:
        """``(3, 3)`` direction cosines (LPS), columns = i, j, k axes."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def ijk_to_lps(self) -> np.ndarray:
        """``(4, 4)`` homogeneous matrix from ``(i, j, k)`` pixel index to LPS mm."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.direction_matrix * np.asarray(self.spacing)[None, :]
        matrix[:3, 3] = self.origin
        return matrix

    def ijk_to_ras(self) -> np.ndarray:
        """``(4, 4)`` homogeneous matrix from ``(i, j, k)`` pixel index to RAS mm (Slicer)."""
        matrix = self.ijk_to_lps()
        matrix[:3, :] = _LPS_TO_RAS @ matrix[:3, :]
        return matrix

    @classmethod
    def from_ijk_to_lps(cls, matrix: np.ndarray) -> "FrameGeometry":
        """Inverse of :meth:`ijk_to_lps` for a ``(4, 4)`` or ``(3, 4)`` matrix."""
        matrix = np.asarray(matrix, dtype=float)
        axes = matrix[:3, :3]
        spacing = np.linalg.norm(axes, axis=0)
        if np.any(spacing <= 0):
            raise ValueError("IJK-to-LPS matrix has a zero-length axis")
        return cls(tuple(spacing), tuple(matrix[:3, 3]), tuple((axes / spacing[None, :]).ravel()))

    @classmethod
    def from_ijk_to_ras(cls, matrix: np.ndarray) -> "FrameGeometry":
        """Inverse of :meth:`ijk_to_ras` for a ``(4, 4)`` or ``(3, 4)`` matrix."""
        matrix = np.array(matrix, dtype=float)[:3, :4]
        return cls.from_ijk_to_lps(_LPS_TO_RAS @ matrix)

    def isclose(self, other: "FrameGeometry", atol: float = 1e-6) -> bool:
        """True if both geometries map every pixel to the same place (within ``atol`` mm)."""
        return bool(np.allclose(self.ijk_to_lps(), other.ijk_to_lps(), atol=atol))


def check_frame(frame: np.ndarray, what: str = "frame") -> np.ndarray:
    """Return ``frame`` if it is ``(H, W)`` or ``(H, W, C)`` with C in {1, 3, 4}; else raise ValueError."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise ValueError(f"{what} must be (H, W) or (H, W, 3), got shape {frame.shape}")
    return frame


def default_frame_times(num_frames: int, frame_rate: float = 0.0) -> np.ndarray:
    """``(T,)`` seconds: ``t / frame_rate``, or the frame index where the rate is unknown."""
    index = np.arange(num_frames, dtype=float)
    return index / frame_rate if frame_rate and frame_rate > 0 else index


TIMES_FIX = "Give every frame one time in seconds, in recording order (or none: frames are then numbered 0, 1, 2 ...)."


def checked_frame_times(times, count: int, path: Optional[Path] = None) -> np.ndarray:
    """``times`` as ``(count,)`` seconds if there is one finite time per frame and they never go backwards.

    Raises:
        SequenceReadError: naming ``path`` and the first frame whose time is wrong.
    """
    times = np.asarray(times, dtype=float).reshape(-1)
    if len(times) != count:
        raise SequenceReadError(f"has {len(times)} frame times for {count} frames.", path, TIMES_FIX)
    bad = np.flatnonzero(~np.isfinite(times))
    if len(bad):
        raise SequenceReadError(f"gives frame {bad[0]} the time {times[bad[0]]}, which is not a number of seconds.",
                                path, TIMES_FIX)
    back = np.flatnonzero(np.diff(times) < 0)
    if len(back):
        index = back[0] + 1
        raise SequenceReadError(f"has frame times that go backwards: frame {index} at {times[index]:g} s comes after "
                                f"{times[index - 1]:g} s.", path, TIMES_FIX)
    return times


def read_up_to(stream, size: int, chunk: int = 1 << 20) -> bytes:
    """Up to ``size`` bytes of a (decompressing) stream, read a chunk at a time: a stream that ends early never
    costs ``size`` bytes of memory, however large the header said a frame is."""
    if size <= chunk:
        return stream.read(size)
    parts, remaining = [], size
    while remaining:
        part = stream.read(min(chunk, remaining))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


@dataclass
class FrameSequence:
    """A whole recording in memory.

    Attributes:
        frames: ``(T, H, W)`` or ``(T, H, W, C)`` array, any integer or float dtype.
        geometry: placement of every frame (the same for all frames).
        frame_times: ``(T,)`` seconds; defaults to the frame index.
        metadata: free-form facts from the source (e.g. ``{"source": path}``).
        frame_poses: ``(T, 4, 4)`` pixel-index-to-LPS matrix of each frame where every frame has its
            own placement (a tracked recording), NaN for an untracked frame; None: ``geometry`` for all.
    """

    frames: np.ndarray
    geometry: FrameGeometry = field(default_factory=FrameGeometry)
    frame_times: Optional[np.ndarray] = None
    metadata: Dict[str, object] = field(default_factory=dict)
    frame_poses: Optional[np.ndarray] = None

    def __post_init__(self):
        frames = np.asarray(self.frames)
        if frames.ndim == 4 and frames.shape[3] == 1:
            frames = frames[..., 0]
        if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] not in (3, 4)):
            raise ValueError(f"frames must be (T, H, W) or (T, H, W, 3), got shape {frames.shape}")
        self.frames = frames
        if self.frame_times is None:
            self.frame_times = default_frame_times(len(frames))
        self.frame_times = np.asarray(self.frame_times, dtype=float).reshape(-1)
        if len(self.frame_times) != len(frames):
            raise ValueError(f"{len(self.frame_times)} frame times for {len(frames)} frames")
        if self.frame_poses is not None:
            self.frame_poses = np.asarray(self.frame_poses, dtype=float)
            if self.frame_poses.shape != (len(frames), 4, 4):
                raise ValueError(f"frame_poses must be ({len(frames)}, 4, 4), got {self.frame_poses.shape}")

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    @property
    def frame_shape(self) -> Tuple[int, ...]:
        """``(H, W)`` or ``(H, W, C)``."""
        return tuple(self.frames.shape[1:])


class SequenceReader:
    """Streams the frames of one recording without loading it whole.

    Subclasses set ``path``, ``geometry``, ``frame_shape``, ``dtype``, ``frame_times``
    (``(T,)`` seconds, or None where only iteration can tell) and implement
    :meth:`_iter_frames`.  Use as a context manager, or call :meth:`close`.
    """

    path: Path
    geometry: FrameGeometry
    frame_shape: Tuple[int, ...]
    dtype: np.dtype
    frame_times: Optional[np.ndarray] = None
    metadata: Dict[str, object]

    def __len__(self) -> int:
        if self.frame_times is None:
            raise TypeError(f"{self.path}: the number of frames is only known after reading")
        return len(self.frame_times)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._iter_frames()

    def _iter_frames(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def read(self) -> FrameSequence:
        """Load every frame into one :class:`FrameSequence`."""
        frames = list(self)
        if not frames:
            raise SequenceReadError("holds no frames.", self.path, "Check that the recording is not empty.")
        times = self.frame_times
        if times is None or len(times) != len(frames):
            times = default_frame_times(len(frames))
        poses = getattr(self, "frame_poses", None)
        if poses is not None and len(poses) != len(frames):
            poses = None  # a reader that could not tell which frames its poses belong to
        return FrameSequence(np.stack(frames), self.geometry, times, dict(self.metadata), poses)

    def close(self) -> None:
        """Release file handles (no-op where nothing is held open)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

