"""Video files (mp4, avi, mov, mpeg, mkv, gif) through OpenCV, one frame at a time.

Ultrasound screen captures are usually gray stored as colour: a video whose first frame
has equal colour channels is delivered as ``(H, W)`` gray for every frame, otherwise as
``(H, W, 3)`` RGB.  The frame count a container declares is only a hint: ``frame_times``
(from the declared frame rate) are None where the container gives no count, and are
replaced by the frames really decoded once the video has been read to the end.
"""

from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from DTCSegmentationLib.errors import SequenceReadError, SequenceWriteError
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, SequenceReader, default_frame_times
from DTCSegmentationLib.sequence_io.writer import SequenceWriter


def _is_gray(frame_bgr: np.ndarray) -> bool:
    # Lossy codecs leave a little colour noise on gray content.
    spread = frame_bgr.max(axis=2).astype(np.int16) - frame_bgr.min(axis=2)
    return float(np.percentile(spread, 99)) <= 3


class VideoReader(SequenceReader):
    """Frames of a video file; gray or RGB decided on the first frame."""

    def __init__(self, path):
        self.path = Path(path)
        capture = self._open()
        ok, first = capture.read()
        self.frame_rate = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        capture.release()
        if not ok or first is None:
            raise SequenceReadError("has no decodable frames (empty or corrupt video).", self.path,
                                    "Check the file plays in a video player, or re-export it (e.g. H.264 mp4).")
        self.gray = _is_gray(first)
        self.frame_shape = first.shape[:2] if self.gray else first.shape
        self.dtype = np.dtype(np.uint8)
        self.geometry = FrameGeometry()
        # Containers without an index (some avi, gif) report 0 or a guess: only trust a positive count.
        self.frame_times = default_frame_times(declared, self.frame_rate) if declared > 0 else None
        self.metadata = {"source": str(self.path), "format": "video", "frame_rate": self.frame_rate,
                         "declared_frames": declared, "gray": self.gray}

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise SequenceReadError("cannot be opened as a video.", self.path,
                                    "Check the file is a complete video (mp4, avi, mov, mpeg, gif).")
        return capture

    def _iter_frames(self) -> Iterator[np.ndarray]:
        capture = self._open()
        count = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                if frame.shape[:2] != self.frame_shape[:2]:
                    raise SequenceReadError("changes frame size mid-stream.", self.path, "Re-export the video at one size.")
                yield frame[..., 1].copy() if self.gray else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                count += 1
        finally:
            capture.release()
        self.frame_times = default_frame_times(count, self.frame_rate)
        self.metadata["decoded_frames"] = count


class VideoWriter(SequenceWriter):
    """8-bit gray or RGB frames into an mp4 (MPEG-4 part 2) or avi (MJPEG) file, for viewing.

    Lossy compression changes pixel values, so labelmaps are refused: write them as
    ``.seq.nrrd``, NIfTI or PNG.
    """

    def __init__(self, path, geometry: FrameGeometry, kind: str = "image", frame_rate: Optional[float] = None,
                 overwrite: bool = False):
        if kind == "labelmap":
            raise SequenceWriteError("videos are lossy and cannot hold label values.", path,
                                     "Write labelmaps as .seq.nrrd, .nii.gz or a PNG folder.")
        super().__init__(path, geometry, kind, frame_rate, overwrite)

    def _open(self, first_frame: np.ndarray) -> None:
        if first_frame.dtype != np.uint8:
            raise SequenceWriteError(f"videos store 8-bit frames, not {first_frame.dtype}.", self.path,
                                     "Convert to uint8, or write .seq.nrrd to keep the full range.")
        height, width = first_frame.shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        # OpenCV picks the container from the file name, so the temporary name keeps the suffix.
        self._video_path = self._target.with_name(self._target.name + self.path.suffix)
        self._video = cv2.VideoWriter(str(self._video_path), fourcc, float(self.frame_rate or 20.0), (width, height), True)
        if not self._video.isOpened():
            raise SequenceWriteError("cannot be written: OpenCV has no encoder for it here.", self.path,
                                     "Write .avi instead, or .seq.nrrd.")

    def _write(self, frame: np.ndarray) -> None:
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        else:
            frame = cv2.cvtColor(frame[..., :3], cv2.COLOR_RGB2BGR)
        self._video.write(frame)

    def _finish(self) -> None:
        self._video.release()
        self._video_path.replace(self._target)

    def _release(self) -> None:
        video: Optional[cv2.VideoWriter] = getattr(self, "_video", None)
        if video is not None:
            video.release()
            if self._video_path.exists():
                self._video_path.unlink()
