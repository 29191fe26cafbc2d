"""Folders of single-frame images (PNG, JPEG, BMP, TIFF), in natural order.

Images are read unchanged (16-bit PNG/TIFF stay 16-bit); colour images are RGB (OpenCV's
BGR is converted); a folder whose images differ in size or type is refused, naming the
first image that differs.  Folders carry no geometry: spacing 1 mm, origin 0.
"""

import re
import struct
import zlib
from pathlib import Path
from typing import Iterator, List, Tuple

import cv2
import numpy as np

from DTCSegmentationLib.errors import SequenceReadError, SequenceWriteError
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, SequenceReader, default_frame_times
from DTCSegmentationLib.sequence_io.writer import SequenceWriter

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def natural_key(name: str) -> Tuple:
    """Sort key that orders ``frame2`` before ``frame10`` (case-insensitive)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def list_images(folder: Path) -> List[Path]:
    """Image files directly in ``folder``, naturally sorted; hidden files are skipped."""
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def _check_png(path: Path) -> None:
    """Refuse a PNG whose chunks are damaged or whose header declares more pixels than its data can hold.

    OpenCV allocates the whole image as soon as it has read the header, so a damaged or hostile
    header (a few bytes claiming 30000 x 30000) would cost gigabytes before decoding fails; and
    libpng prints its own complaints about damaged chunks on stderr, which we say once, here.
    """
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        return  # not PNG inside: OpenCV refuses it (or reads whatever it really is)
    position, chunks = len(_PNG_SIGNATURE), []
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 12 + length
        if end > len(data) or zlib.crc32(data[position + 4:end - 4]) != struct.unpack(">I", data[end - 4:end])[0]:
            raise SequenceReadError(f"is a damaged PNG (chunk {kind!r} at byte {position} is cut short or fails its "
                                    "checksum).", path, "Replace or remove the damaged file.")
        chunks.append((kind, data[position + 8:end - 4]))
        position = end
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13 or chunks[-1][0] != b"IEND":
        raise SequenceReadError("is a damaged PNG (no header chunk first, or no end chunk).", path,
                                "Replace or remove the damaged file.")
    width, height = struct.unpack(">II", chunks[0][1][:8])
    depth, samples = chunks[0][1][8], _PNG_SAMPLES.get(chunks[0][1][9], 4)
    declared = width * height * samples * max(depth, 8) // 8
    # deflate never expands data more than 1032-fold
    if declared > 1032 * len(data) + 1024:
        raise SequenceReadError(f"declares {width} x {height} pixels, more than its {len(data)} bytes can hold "
                                "(damaged file).", path, "Replace or remove the damaged file.")


def read_image(path: Path) -> np.ndarray:
    """One image as ``(H, W)`` or ``(H, W, 3)`` RGB, in its stored dtype."""
    if path.suffix.lower() == ".png":
        _check_png(path)
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # a damaged file is reported once, by us
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if image is None:
        raise SequenceReadError("cannot be read as an image.", path, "Replace or remove the damaged file.")
    if image.ndim == 3 and image.shape[2] == 2:
        return image[:, :, 0]  # gray and alpha: the gray is the image
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    return image


class ImageFolderReader(SequenceReader):
    """Frames from the images of one folder."""

    def __init__(self, path):
        self.path = Path(path)
        self.files = list_images(self.path)
        if not self.files:
            raise SequenceReadError("holds no images.", self.path,
                                    f"Put frames named in order (e.g. frame_0001.png) with suffix {', '.join(IMAGE_SUFFIXES)}.")
        first = read_image(self.files[0])
        self.frame_shape, self.dtype = first.shape, first.dtype
        self.geometry = FrameGeometry()
        self.frame_times = default_frame_times(len(self.files))
        self.metadata = {"source": str(self.path), "format": "image-folder"}

    def _iter_frames(self) -> Iterator[np.ndarray]:
        for path in self.files:
            image = read_image(path)
            if image.shape != self.frame_shape or image.dtype != self.dtype:
                raise SequenceReadError(
                    f"is {image.dtype} {image.shape}, but {self.files[0].name} is {self.dtype} {self.frame_shape}.",
                    path, "All frames of a folder must have one size and type: resize or remove this image.")
            yield image


class ImageFolderWriter(SequenceWriter):
    """Writes ``frame_00000.png``, ``frame_00001.png``... into a new folder (8- or 16-bit PNG)."""

    def _write(self, frame: np.ndarray) -> None:
        if frame.dtype not in (np.uint8, np.uint16):
            raise SequenceWriteError(f"PNG stores 8- or 16-bit frames, not {frame.dtype}.", self.path,
                                     "Convert the frames to uint8 or uint16, or write .seq.nrrd.")
        if frame.ndim == 3:
            image = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        else:
            image = frame
        target = self._target / f"frame_{len(self.times):05d}.png"
        if not cv2.imwrite(str(target), image):
            raise SequenceWriteError("cannot be written (disk full or no permission?).", target,
                                     "Free space or choose another folder.")
