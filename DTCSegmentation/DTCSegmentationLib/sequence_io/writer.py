"""The streaming writer every output format builds on.

A writer receives frames one at a time (so a 20,000-frame result never has to sit in
memory), writes them under a temporary name, and renames the output into place only
when :meth:`SequenceWriter.close` succeeds.  Leaving the ``with`` block through an
exception (Ctrl-C included) removes everything written so far.
"""

from pathlib import Path
from typing import List, Optional

import numpy as np

from DTCSegmentationLib.atomic import AtomicOutput
from DTCSegmentationLib.errors import SequenceWriteError
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, check_frame

KINDS = ("image", "labelmap")


class SequenceWriter:
    """Base class: subclasses implement :meth:`_open`, :meth:`_write` and :meth:`_finish`.

    Args:
        path: final output path.
        geometry: placement shared by every frame.
        kind: ``"image"`` or ``"labelmap"``: labelmap frames are ``(H, W)`` bool or integer label
            values 0-255 and are stored as uint8.
        frame_rate: frames per second, used where no per-frame time is given.
        overwrite: replace an existing output; otherwise an existing one is an error.
        directory: the output is a folder rather than a file.
    """

    def __init__(self, path, geometry: FrameGeometry, kind: str = "image", frame_rate: Optional[float] = None,
                 overwrite: bool = False, directory: bool = False):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.path = Path(path)
        self.geometry = geometry
        self.kind = kind
        self.frame_rate = frame_rate
        self.frame_shape = None
        self.dtype = None
        self.times: List[float] = []
        self._output = AtomicOutput(self.path, overwrite, directory)
        self._target = self._output.temporary
        self._closed = False

    def write(self, frame: np.ndarray, time: Optional[float] = None) -> None:
        """Append one frame ``(H, W)`` or ``(H, W, 3)``; ``time`` in seconds (default from the frame rate)."""
        frame = check_frame(frame)
        if self.kind == "labelmap":
            frame = self._label_values(frame)
        if self.frame_shape is None:
            self.frame_shape, self.dtype = frame.shape, frame.dtype
            self._open(frame)
        elif frame.shape != self.frame_shape or frame.dtype != self.dtype:
            raise SequenceWriteError(
                f"frame {len(self.times)} is {frame.dtype} {frame.shape}, earlier frames were {self.dtype} {self.frame_shape}.",
                self.path, "Write frames of one size and type into one sequence.")
        if time is None:
            index = len(self.times)
            time = index / self.frame_rate if self.frame_rate else float(index)
        self._write(frame)
        self.times.append(float(time))

    def _label_values(self, frame: np.ndarray) -> np.ndarray:
        """Labelmaps are stored as uint8 in every format (PNG masks, Slicer labelmaps alike)."""
        if frame.ndim != 2 or not (frame.dtype == np.bool_ or np.issubdtype(frame.dtype, np.integer)):
            raise SequenceWriteError(f"a labelmap frame must be an integer (H, W) array, got {frame.dtype} {frame.shape}.",
                                     self.path, "Pass label values (e.g. uint8 masks).")
        if frame.dtype not in (np.uint8, np.bool_) and frame.size and (frame.min() < 0 or frame.max() > 255):
            raise SequenceWriteError(f"frame {len(self.times)} has label values {frame.min()}..{frame.max()}; "
                                     "labelmaps hold 0-255.", self.path, "Renumber the labels to 0-255.")
        return frame.astype(np.uint8, copy=False)

    def close(self) -> Path:
        """Finish the file and move it into place; returns the final path."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            if not self.times:
                raise SequenceWriteError("no frames were written.", self.path, "Write at least one frame.")
            self._finish()
            return self._output.commit()
        except BaseException:
            self._release()
            self._output.discard()
            raise

    def abort(self) -> None:
        """Drop everything written; the previous output (if any) stays as it was."""
        if not self._closed:
            self._closed = True
            self._release()
            self._output.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # Subclass hooks --------------------------------------------------------
    def _open(self, first_frame: np.ndarray) -> None:
        """Prepare the temporary output at ``self._target`` once the frame shape is known."""

    def _write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Complete the temporary output (headers, trailers) before it is renamed."""

    def _release(self) -> None:
        """Close open handles without finishing (on abort)."""
