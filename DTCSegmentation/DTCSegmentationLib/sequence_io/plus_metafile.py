"""PLUS sequence metafiles (``.igs.mha`` / ``.igs.mhd``): tracked ultrasound recordings.

A MetaImage header (``key = value`` lines) describes a ``DimSize = W H N`` stack of N
frames, followed by the pixel data (``ElementDataFile = LOCAL``) or pointing at a data
file (``.mhd``), optionally zlib-compressed as one stream.  Per-frame fields
``Seq_FrameNNNN_Timestamp`` give the frame times; frames whose ``ImageStatus`` is not
``OK`` carry no image and are skipped.  Data are streamed a frame at a time.

Per-frame geometry: PLUS stores each tracked transform of a frame as
``Seq_FrameNNNN_<From>To<To>Transform = m00 m01 ... m33`` (16 numbers, row-major 4 x 4) with
``Seq_FrameNNNN_<From>To<To>TransformStatus = OK`` (or ``INVALID`` where the tracker lost the
tool); the file's own ``TransformMatrix`` / ``Offset`` are not used by PLUS.  A transform from the
``Image`` coordinate system (pixel units: pixel ``(i, j)`` is the point ``(i, j, 0)``) to the
reference places every frame on its own: :attr:`PlusMetafileReader.frame_poses` holds, for each kept
frame, the ``(4, 4)`` pixel-to-LPS matrix (NaN where the transform is missing or not ``OK``).  The
reference coordinates are taken as RAS, as Slicer's transform nodes are (a PLUS recording loaded in
Slicer puts the image under its ``ImageToReference`` transform), hence LPS = diag(-1, -1, 1) x RAS.
By default the ``ImageToReference`` transform is used where the file has it; another one can be
named (e.g. ``ProbeToTracker`` with the probe calibration ``ImageToProbe`` as ``calibration``).
"""

import re
import zlib
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io.frame_sequence import TIMES_FIX, FrameGeometry, SequenceReader, checked_frame_times

_MET_TYPES = {
    "MET_UCHAR": np.uint8, "MET_CHAR": np.int8, "MET_USHORT": np.uint16, "MET_SHORT": np.int16,
    "MET_UINT": np.uint32, "MET_INT": np.int32, "MET_FLOAT": np.float32, "MET_DOUBLE": np.float64,
}
_FRAME_FIELD = re.compile(r"^Seq_Frame(\d+)_(\w+)$")
_CHUNK = 1 << 20
_TRANSFORM_FIELD = re.compile(r"^(\w+)Transform$")
_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
DEFAULT_TRANSFORM = "ImageToReference"


_FIX = "Check it is a complete PLUS sequence file (re-export it from fCal / PLUS Server if needed)."


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def read_metaimage_header(path: Path) -> Tuple[Dict[str, str], int]:
    """The header fields and the byte offset where the pixel data start."""
    fields: Dict[str, str] = {}
    with open(path, "rb") as handle:
        while True:
            line = handle.readline()
            if not line:
                raise SequenceReadError("has no ElementDataFile line (not a MetaImage header).", path, _FIX)
            try:
                text = line.decode("latin-1").strip()
            except UnicodeDecodeError:
                raise SequenceReadError("has a damaged header.", path, _FIX) from None
            if not text:
                continue
            key, separator, value = text.partition("=")
            if not separator:
                raise SequenceReadError(f"has a header line without '=': {text[:60]!r}.", path, _FIX)
            fields[key.strip()] = value.strip()
            if key.strip() == "ElementDataFile":
                return fields, handle.tell()


class PlusMetafileReader(SequenceReader):
    """Frames of a PLUS ``.igs.mha`` / ``.igs.mhd`` recording.

    Args:
        path: the sequence file.
        transform: the per-frame transform that places the image, e.g. ``"ImageToReference"``
            (a trailing ``Transform`` is optional); None: ``ImageToReference`` if the file has it.
        calibration: ``(4, 4)`` matrix applied before ``transform`` (pixel -> its "from" system),
            e.g. the probe calibration ``ImageToProbe`` with ``transform="ProbeToTracker"``.

    Attributes:
        transform_names: the per-frame transforms the file holds (``"ImageToReference"``, ...).
        frame_poses: ``(T, 4, 4)`` pixel-to-LPS matrix of every kept frame (NaN where untracked),
            or None where no transform places the images.
    """

    def __init__(self, path, transform: Optional[str] = None, calibration=None):
        self.path = Path(path)
        fields, offset = read_metaimage_header(self.path)
        self.fields = fields
        try:
            size = [int(v) for v in fields["DimSize"].split()]
            dtype = np.dtype(_MET_TYPES[fields.get("ElementType", "MET_UCHAR")])
            channels = int(fields.get("ElementNumberOfChannels", "1"))
        except (KeyError, ValueError):
            raise SequenceReadError("has a missing or unsupported DimSize / ElementType / ElementNumberOfChannels.",
                                    self.path, _FIX) from None
        if fields.get("BinaryDataByteOrderMSB", "False").lower() == "true" and dtype.itemsize > 1:
            self._file_dtype = dtype.newbyteorder(">")
        else:
            self._file_dtype = dtype
        self.dtype = dtype
        if len(size) == 2:
            size.append(1)
        if len(size) != 3 or min(size) < 1 or channels not in (1, 3, 4):
            raise SequenceReadError(f"has DimSize {size} with {channels} channels; expected W H frames.", self.path, _FIX)
        width, height, total = size
        self.frame_shape = (height, width) if channels == 1 else (height, width, channels)
        try:
            spacing = [float(v) for v in fields.get("ElementSpacing", "1 1 1").split()] + [1.0] * 3
            origin = [float(v) for v in fields.get("Offset", "0 0 0").split()] + [0.0] * 3
            direction = np.asarray([float(v) for v in fields.get("TransformMatrix", "1 0 0 0 1 0 0 0 1").split()], float)
            # MetaImage stores the direction cosines by columns (ITK's transposed order).
            matrix = np.eye(4)
            with np.errstate(invalid="ignore", over="ignore"):  # inf x 0 becomes NaN, which is refused just below
                matrix[:3, :3] = direction.reshape(3, 3).T * np.asarray(spacing[:3])[None, :]
            matrix[:3, 3] = origin[:3]
            self.geometry = FrameGeometry.from_ijk_to_lps(matrix)
        except ValueError:
            raise SequenceReadError("has an invalid TransformMatrix, ElementSpacing or Offset.", self.path, _FIX) from None
        self._total = total
        self._compressed = fields.get("CompressedData", "False").lower() == "true"
        data_file = fields["ElementDataFile"]
        if data_file.upper() == "LOCAL":
            self._data_path, self._offset = self.path, offset
        else:
            self._data_path, self._offset = self.path.parent / data_file, 0
            if not self._data_path.is_file():
                raise SequenceReadError(f"points at the data file {data_file!r}, which is missing.", self.path,
                                        "Keep the .mhd and its data file in the same folder.")
        self._check_data_size()
        per_frame: Dict[int, Dict[str, str]] = {}
        for key, value in fields.items():
            match = _FRAME_FIELD.match(key)
            if match:
                per_frame.setdefault(int(match.group(1)), {})[match.group(2)] = value
        self._keep: List[int] = [i for i in range(total) if per_frame.get(i, {}).get("ImageStatus", "OK").upper() == "OK"]
        if not self._keep:
            raise SequenceReadError(f"holds no valid frame: all {total} are marked with an ImageStatus other than OK.",
                                    self.path, "Record again, or export the recording with its valid frames.")
        stamps = [per_frame.get(i, {}).get("Timestamp") for i in self._keep]
        if all(stamp is None for stamp in stamps):
            times = np.asarray(self._keep, float)  # no timestamps at all: frames are numbered
        else:
            try:
                times = [float(stamp) for stamp in stamps]
            except (TypeError, ValueError):
                index = next(i for i, stamp in zip(self._keep, stamps) if not _is_number(stamp))
                raise SequenceReadError(f"gives frame {index} the timestamp {stamps[self._keep.index(index)]!r}, "
                                        "which is not a number of seconds.", self.path, TIMES_FIX) from None
        self.frame_times = checked_frame_times(times, len(self._keep), self.path)
        self.metadata = {"source": str(self.path), "format": "plus",
                         "ultrasound_image_orientation": fields.get("UltrasoundImageOrientation", ""),
                         "skipped_invalid_frames": total - len(self._keep),
                         "frame_fields": {i: per_frame.get(i, {}) for i in self._keep}}
        self.transform_names = sorted({match.group(1) for fields_of in per_frame.values() for key in fields_of
                                       for match in [_TRANSFORM_FIELD.match(key)] if match})
        self.frame_poses = self._frame_poses([per_frame.get(i, {}) for i in self._keep], transform, calibration)

    def _frame_poses(self, frames: List[Dict[str, str]], transform: Optional[str], calibration) -> Optional[np.ndarray]:
        """``(T, 4, 4)`` pixel-to-LPS per kept frame from ``transform`` (see the module docstring)."""
        if transform is None:
            if calibration is not None:
                raise SequenceReadError("was given a calibration but no transform to combine it with.", self.path,
                                        "Name the tracked transform too, e.g. transform='ProbeToTracker'.")
            if DEFAULT_TRANSFORM not in self.transform_names:
                return None
            transform = DEFAULT_TRANSFORM
        name = transform[: -len("Transform")] if transform.endswith("Transform") else transform
        if name not in self.transform_names:
            available = ", ".join(self.transform_names) or "none"
            raise SequenceReadError(f"has no per-frame {name}Transform (transforms in the file: {available}).",
                                    self.path, "Name one of the file's transforms.")
        before = np.eye(4)
        if calibration is not None:
            before = np.asarray(calibration, dtype=float)
            if before.shape != (4, 4) or not np.isfinite(before).all():
                raise SequenceReadError(f"was given a calibration of shape {before.shape} (or not finite); it must "
                                        "be a 4 x 4 matrix.", self.path, "Pass the ImageToProbe calibration matrix.")
        poses = np.full((len(frames), 4, 4), np.nan)
        for position, fields_of in enumerate(frames):
            text = fields_of.get(f"{name}Transform")
            status = fields_of.get(f"{name}TransformStatus", "OK").strip().upper()
            if text is None or status != "OK":
                continue
            try:
                matrix = np.asarray([float(v) for v in text.split()], float).reshape(4, 4)
            except ValueError:
                raise SequenceReadError(f"gives frame {self._keep[position]} the {name}Transform {text[:80]!r}, "
                                        "which is not 16 numbers.", self.path, _FIX) from None
            if not np.isfinite(matrix).all():
                raise SequenceReadError(f"gives frame {self._keep[position]} a {name}Transform that is not finite.",
                                        self.path, _FIX)
            poses[position] = _LPS_FROM_RAS @ matrix @ before
        return poses

    def _check_data_size(self) -> None:
        """Refuse a header that promises more frames than the data can hold, before anything is allocated for them."""
        frame_bytes = int(np.prod(self.frame_shape)) * self.dtype.itemsize
        available = max(self._data_path.stat().st_size - self._offset, 0)
        # zlib never expands data more than 1032-fold, so compressed data cannot hold more than that
        limit = 1032 * available + 1024 if self._compressed else available
        if frame_bytes * self._total > limit:
            raise SequenceReadError(f"holds {available} bytes of pixel data, but its DimSize declares {self._total} "
                                    f"frames of {frame_bytes} bytes (truncated file?).", self.path, _FIX)

    def _chunks(self, handle) -> Iterator[bytes]:
        if not self._compressed:
            while True:
                chunk = handle.read(_CHUNK)
                if not chunk:
                    return
                yield chunk
        decompressor = zlib.decompressobj()
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                tail = decompressor.flush()
                if tail:
                    yield tail
                return
            try:
                yield decompressor.decompress(chunk)
            except zlib.error as error:
                raise SequenceReadError(f"has corrupt compressed data ({error}).", self.path, _FIX) from None

    def _iter_frames(self) -> Iterator[np.ndarray]:
        frame_bytes = int(np.prod(self.frame_shape)) * self.dtype.itemsize
        keep = set(self._keep)
        buffer = bytearray()
        index = 0
        with open(self._data_path, "rb") as handle:
            handle.seek(self._offset)
            for chunk in self._chunks(handle):
                buffer += chunk
                while len(buffer) >= frame_bytes and index < self._total:
                    block = bytes(buffer[:frame_bytes])
                    del buffer[:frame_bytes]
                    if index in keep:
                        yield np.frombuffer(block, self._file_dtype).reshape(self.frame_shape).astype(self.dtype)
                    index += 1
                if index >= self._total:
                    return
        if index < self._total:
            raise SequenceReadError(f"ends after {index} of {self._total} frames (truncated file).", self.path, _FIX)
