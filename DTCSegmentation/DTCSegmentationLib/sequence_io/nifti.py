"""NIfTI 2D+t (``.nii`` / ``.nii.gz``), read and written frame by frame.

Layout: ``(x, y, 1, t)`` (NIfTI's own convention: dimensions 1-3 space, 4 time, with the
frame interval as ``pixdim[4]`` and the first frame time as ``toffset``) or the common
``(x, y, t)`` stack, whose third spacing is taken as the frame interval.  A 2D image is one
frame.  Time is the slowest axis on disk, so every frame is one contiguous block and is
streamed (gzip decompressed incrementally).  RGB is NIfTI's ``RGB24`` type; files that keep
colour or vector components on a fifth axis interleave frames and are read whole.

nibabel parses and builds the header (it is the reference NIfTI implementation in Python
and can write a header for a frame count only known at the end); the pixel stream is ours.
Written files put the same affine in the qform and sform, so ITK (and Slicer) and nibabel
agree on the geometry.  NIfTI stores one frame interval, not per-frame times: irregular
times are written as their median interval.
"""

import gzip
import shutil
import zlib
from pathlib import Path
from typing import Iterator

import nibabel as nib
import numpy as np

from DTCSegmentationLib.errors import SequenceReadError, SequenceWriteError
from DTCSegmentationLib.sequence_io.frame_sequence import (
    FrameGeometry,
    SequenceReader,
    checked_frame_times,
    default_frame_times,
    read_up_to,
)
from DTCSegmentationLib.sequence_io.writer import SequenceWriter

_FIX = "Check the file is complete and really NIfTI (.nii / .nii.gz)."
_RGB24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
_RGBA32 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")])
_SECONDS_PER_UNIT = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _geometry_from_affine(affine: np.ndarray, spatial_axes: int) -> FrameGeometry:
    """LPS geometry from a NIfTI (RAS) affine; for ``(x, y, t)`` files only two axes are space."""
    matrix = np.array(affine, dtype=float)
    if spatial_axes == 2:
        i, j = matrix[:3, 0], matrix[:3, 1]
        matrix[:3, 2] = np.cross(i, j) / (np.linalg.norm(i) * np.linalg.norm(j))
    return FrameGeometry.from_ijk_to_ras(matrix)


class NiftiReader(SequenceReader):
    """Frames of a 2D+t NIfTI file, ``(H, W)`` or ``(H, W, 3)`` in the stored dtype.

    Scaled data (``scl_slope`` other than 0 or 1, or ``scl_inter`` not 0) are delivered
    as float32 ``stored * slope + inter``, as ITK and nibabel do.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            # nibabel logs the header fields it repairs; a damaged file is reported once, by us
            with nib.imageglobals.LoggingOutputSuppressor():
                image = nib.load(str(self.path))
        except Exception as error:  # nibabel meets arbitrary bytes here and raises whatever its parsing hits
            raise SequenceReadError(f"is not a readable NIfTI file ({type(error).__name__}: {error}).", self.path,
                                    _FIX) from None
        if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
            raise SequenceReadError(f"is a {type(image).__name__}, not NIfTI.", self.path, _FIX)
        try:
            self._read_header(image)
        except SequenceReadError:
            raise
        except Exception as error:  # nibabel's accessors raise whatever a damaged field makes them hit
            raise SequenceReadError(f"has a damaged header ({type(error).__name__}: {error}).", self.path, _FIX) from None

    def _read_header(self, image) -> None:
        header = image.header
        shape = tuple(int(s) for s in header.get_data_shape())
        while len(shape) > 4 and shape[-1] == 1:
            shape = shape[:-1]
        stored = header.get_data_dtype()
        components = 1
        if stored.names is not None:  # RGB24 / RGBA32: one structured element per pixel
            components = len(stored.names)
        elif len(shape) == 5:
            components = shape[4]  # ITK's vector images: components on the fifth axis
        if len(shape) < 2 or len(shape) > 5 or (len(shape) >= 4 and shape[2] != 1) or components not in (1, 3, 4) \
                or min(shape) < 1:
            raise SequenceReadError(f"has size {shape}; expected 2D frames over time (x, y, t) or (x, y, 1, t).",
                                    self.path, "Save the recording as 2D+t.")
        width, height = shape[0], shape[1]
        self.num_frames = shape[3] if len(shape) >= 4 else (shape[2] if len(shape) == 3 else 1)
        self.frame_shape = (height, width) if components == 1 else (height, width, components)
        # nibabel moves the scaling from the loaded header to the data proxy.
        slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
        if not (np.isfinite(slope) and np.isfinite(inter)):
            raise SequenceReadError(f"has the intensity scaling slope {slope}, intercept {inter}.", self.path,
                                    "Save the file with finite scl_slope and scl_inter (or 0 and 0 for none).")
        self._scale = (slope, inter) if (slope, inter) != (1.0, 0.0) else None
        self._stored = stored
        self._element = np.dtype(np.uint8) if stored.names is not None else stored
        self.dtype = np.dtype(np.float32) if self._scale else self._element.newbyteorder("=")
        self._interleaved = len(shape) == 5
        self._image = image
        self._offset = int(image.dataobj.offset)  # the loaded header copy forgets vox_offset
        self._check_data_size(int(np.prod(shape, dtype=object)) * stored.itemsize)
        try:
            with np.errstate(invalid="ignore", divide="ignore"):  # a degenerate affine is refused just below
                self.geometry = _geometry_from_affine(image.affine, 3 if len(shape) >= 4 else 2)
        except ValueError as error:
            raise SequenceReadError(f"has an unusable affine (pixel spacing or directions: {error}).", self.path,
                                    "Save the file with non-zero pixel sizes (pixdim) and a valid qform or sform.") from None
        zooms = header.get_zooms()
        time_unit = header.get_xyzt_units()[1]
        interval = 0.0
        if len(shape) >= 4:
            interval = float(zooms[3]) * _SECONDS_PER_UNIT.get(time_unit, 1.0)
        elif len(shape) == 3:
            interval = float(zooms[2])
        start = float(header["toffset"]) * _SECONDS_PER_UNIT.get(time_unit, 1.0) if len(shape) >= 4 else 0.0
        rate = 1.0 / interval if interval > 0 and np.isfinite(interval) else 0.0
        self.frame_times = checked_frame_times(start + default_frame_times(self.num_frames, rate), self.num_frames,
                                               self.path)
        self.metadata = {"source": str(self.path), "format": "nifti", "frame_rate": rate or None}

    def _check_data_size(self, declared: int) -> None:
        """Refuse a header that promises more pixels than the file can hold, before anything is allocated for them."""
        available = max(self.path.stat().st_size - self._offset, 0)
        # deflate never expands data more than 1032-fold, so gzip data cannot hold more than that
        limit = 1032 * self.path.stat().st_size + 1024 if _is_gzip(self.path) else available
        if declared > limit:
            raise SequenceReadError(f"holds {available} bytes after its header, but the header declares "
                                    f"{self.num_frames} frames of {self.frame_shape} ({declared} bytes; truncated file?).",
                                    self.path, _FIX)

    def _iter_frames(self) -> Iterator[np.ndarray]:
        if self._interleaved:
            yield from self._whole_frames()
            return
        frame_bytes = int(np.prod(self.frame_shape[:2])) * self._stored.itemsize
        with open(self.path, "rb") as handle:
            stream = gzip.GzipFile(fileobj=handle, mode="rb") if _is_gzip(self.path) else handle
            try:
                stream.seek(self._offset)
                for index in range(self.num_frames):
                    block = read_up_to(stream, frame_bytes)
                    if len(block) != frame_bytes:
                        raise SequenceReadError(f"ends after {index} of {self.num_frames} frames (truncated file).",
                                                self.path, _FIX)
                    yield self._decode(block)
            except (OSError, EOFError, zlib.error) as error:
                raise SequenceReadError(f"cannot be decompressed ({error}).", self.path, _FIX) from None

    def _decode(self, block: bytes) -> np.ndarray:
        frame = np.frombuffer(block, dtype=self._element).reshape(self.frame_shape)
        frame = frame.astype(self._element.newbyteorder("="))
        if self._scale:
            return frame.astype(np.float32) * np.float32(self._scale[0]) + np.float32(self._scale[1])
        return frame

    def _whole_frames(self) -> Iterator[np.ndarray]:
        try:
            data = np.asanyarray(self._image.dataobj)
        except (OSError, EOFError, ValueError, zlib.error) as error:
            raise SequenceReadError(f"cannot be read ({error}).", self.path, _FIX) from None
        # (x, y, 1, t, c) -> (t, y, x, c)
        frames = np.transpose(data.reshape(data.shape[:2] + data.shape[3:]), (2, 1, 0, 3))
        for frame in frames:
            yield np.ascontiguousarray(frame).astype(self.dtype)


class NiftiWriter(SequenceWriter):
    """Streams frames into a ``(x, y, 1, t)`` NIfTI-1 file; the header is written last, when T is known."""

    def _open(self, first_frame: np.ndarray) -> None:
        if first_frame.ndim == 3 and first_frame.dtype != np.uint8:
            raise SequenceWriteError(f"NIfTI stores colour as 8-bit RGB, not {first_frame.dtype}.", self.path,
                                     "Convert colour frames to uint8, or write .seq.nrrd.")
        try:
            nib.Nifti1Header().set_data_dtype(first_frame.dtype)
        except nib.spatialimages.HeaderDataError:
            raise SequenceWriteError(f"NIfTI cannot store {first_frame.dtype} frames.", self.path,
                                     "Convert the frames to an integer or float32 type.") from None
        self._compressed = self.path.name.lower().endswith(".gz")
        self._data_path = self._target.with_name(self._target.name + ".data")
        self._data_file = open(self._data_path, "wb")
        self._stream = gzip.GzipFile(fileobj=self._data_file, mode="wb", compresslevel=1) if self._compressed \
            else self._data_file

    def _write(self, frame: np.ndarray) -> None:
        # NIfTI is x-fastest, exactly the C order of an (H, W[, C]) array.
        self._stream.write(np.ascontiguousarray(frame).astype(frame.dtype.newbyteorder("<"), copy=False).tobytes())

    def _header(self) -> nib.Nifti1Header:
        height, width = self.frame_shape[:2]
        header = nib.Nifti1Header(endianness="<")
        header.set_data_shape((width, height, 1, len(self.times)))
        if len(self.frame_shape) == 3:
            header.set_data_dtype(_RGB24 if self.frame_shape[2] == 3 else _RGBA32)
        else:
            header.set_data_dtype(self.dtype)
        affine = self.geometry.ijk_to_ras()
        header.set_qform(affine, code=1)
        header.set_sform(affine, code=1)
        times = np.asarray(self.times)
        interval = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        zooms = list(self.geometry.spacing) + [interval if interval > 0 else 1.0]
        header.set_zooms(zooms)
        header.set_xyzt_units("mm", "sec")
        header["toffset"] = float(times[0])
        header.set_slope_inter(1.0, 0.0)
        return header

    def _finish(self) -> None:
        if self._compressed:
            self._stream.close()
        self._data_file.close()
        header = self._header()
        with open(self._target, "wb") as out:
            # A gzip file may hold several members back to back; readers (zlib, ITK, nibabel)
            # decompress them as one stream, so the header member is simply put in front.
            head = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) if self._compressed else out
            header.write_to(head)  # 348 bytes and an empty extension flag: data start at vox_offset 352
            if self._compressed:
                head.close()
            with open(self._data_path, "rb") as data:
                shutil.copyfileobj(data, out, 1 << 20)
        self._data_path.unlink()

    def _release(self) -> None:
        if getattr(self, "_data_file", None) is None:
            return  # no frame was written: nothing was opened
        self._stream.close()
        self._data_file.close()
        if self._data_path.exists():
            self._data_path.unlink()
