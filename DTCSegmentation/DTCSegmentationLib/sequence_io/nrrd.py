"""NRRD and Slicer's ``.seq.nrrd`` volume sequences, read and written frame by frame.

Slicer >= 5.10 writes sequences with the list (time) axis last, so each frame is one
contiguous block and is streamed (raw, or gzip decompressed incrementally); older Slicer
wrote it first (frames interleaved), which is read whole.  Detached headers (``.nhdr``
naming one data file) are read too.  Written files carry exactly the header Slicer's
``vtkMRMLVolumeSequenceStorageNode`` writes: list axis last, ``axis 3 index values``
(frame times, s), ``labels``/``units`` ``time``/``s`` for the list axis, and
``DataNodeClassName`` so labelmaps load as labelmap nodes; colour frames are a leading
``RGB-color`` axis (a vector volume shown in colour).  The header is parsed by pynrrd;
header writing is ours because the frame count is only known after streaming.
"""

import gzip
import shutil
import warnings
import zlib
from pathlib import Path
from typing import Iterator, Optional

import nrrd
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

_NRRD_TYPES = {
    np.dtype(np.uint8): "unsigned char", np.dtype(np.int8): "signed char",
    np.dtype(np.uint16): "unsigned short", np.dtype(np.int16): "short",
    np.dtype(np.uint32): "unsigned int", np.dtype(np.int32): "int",
    np.dtype(np.uint64): "unsigned long long int", np.dtype(np.int64): "long long int",
    np.dtype(np.float32): "float", np.dtype(np.float64): "double",
}
# Every spelling the NRRD format allows for each type.
_TYPE_ALIASES = {
    np.uint8: ("uchar", "unsigned char", "uint8", "uint8_t"),
    np.int8: ("signed char", "int8", "int8_t"),
    np.uint16: ("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
    np.int16: ("short", "short int", "signed short", "signed short int", "int16", "int16_t"),
    np.uint32: ("uint", "unsigned int", "uint32", "uint32_t"),
    np.int32: ("int", "signed int", "int32", "int32_t"),
    np.uint64: ("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"),
    np.int64: ("longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t"),
    np.float32: ("float",),
    np.float64: ("double",),
}
_DTYPE_BY_NAME = {alias: np.dtype(dtype) for dtype, aliases in _TYPE_ALIASES.items() for alias in aliases}
_VECTOR_KINDS = {"vector", "rgb-color", "rgba-color", "3-color", "4-color", "3-vector", "4-vector", "covariant-vector"}
_LIST_KINDS = {"list", "time"}
_DATA_NODE_CLASS = {"image": "vtkMRMLScalarVolumeNode", "labelmap": "vtkMRMLLabelMapVolumeNode"}
# Slicer writes colour frames as RGB(A)-color, which makes its volume nodes display them as colour.
_COLOR_KIND = {3: "RGB-color", 4: "RGBA-color"}


def _bad(path, message):
    return SequenceReadError(message, path, "Check that it is an NRRD file written by Slicer or another NRRD writer.")


class NrrdReader(SequenceReader):
    """Frames of a ``.nrrd`` / ``.seq.nrrd`` file.

    A 2D image is one frame; a 3D image with several slices and no list axis is read as
    one frame per slice; a 4D (or 5D with a vector axis) sequence has one frame per list item.
    RGB(A) component axes become the last frame axis.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            # pynrrd casts header numbers with numpy, which warns on NaN; a bad header is reported once, by us
            with open(self.path, "rb") as handle, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header = nrrd.read_header(handle)
                self._data_offset = handle.tell()
        except OSError as error:
            raise SequenceReadError(f"cannot be opened ({error.strerror or error}).", self.path,
                                    "Check the file exists and is readable.") from None
        except Exception as error:  # pynrrd meets arbitrary bytes here and raises whatever its parsing hits
            raise _bad(self.path, f"is not a readable NRRD file ({type(error).__name__}: {error}).") from None
        self.header = header
        self._data_path = self._data_file(header)
        if self._data_path != self.path:
            self._data_offset = 0
        self.encoding = header.get("encoding", "raw").lower()
        if self.encoding not in ("raw", "gzip", "gz"):
            raise SequenceReadError(f"uses '{self.encoding}' encoding; only raw and gzip are supported.", self.path,
                                    "Re-save it from Slicer (gzip or uncompressed).")
        # Skips are rare enough that pynrrd's whole-file reading handles them.
        self._skips = int(header.get("line skip", 0) or 0) or int(header.get("byte skip", 0) or 0)
        dtype = _DTYPE_BY_NAME.get(str(header.get("type", "")).lower())
        if dtype is None:
            raise _bad(self.path, f"has pixel type {header.get('type')!r}, which is not supported.")
        big_endian = str(header.get("endian", "little")).lower() == "big"
        self._file_dtype = dtype.newbyteorder(">" if big_endian else "<") if dtype.itemsize > 1 else dtype
        self.dtype = dtype
        sizes = [int(s) for s in np.atleast_1d(header.get("sizes", []))]
        kinds = [str(k).lower() for k in header.get("kinds", ["domain"] * len(sizes))]
        if not sizes or min(sizes) < 1 or len(kinds) != len(sizes):
            raise _bad(self.path, f"has sizes {sizes} and {len(kinds)} kinds; expected one positive size and one kind per axis.")
        self._sizes = sizes
        list_axis = next((i for i, k in enumerate(kinds) if k in _LIST_KINDS), None)
        vector_axis = next((i for i, k in enumerate(kinds) if k in _VECTOR_KINDS), None)
        if list_axis is None and vector_axis is not None and kinds[vector_axis] == "vector" \
                and self.path.name.lower().endswith(".seq.nrrd") and len(sizes) == 4:
            # Some sequences were saved as "vector domain domain domain"; Slicer reads the
            # vector axis as the list axis, and so do we.
            list_axis, vector_axis = vector_axis, None
        space_axes = [i for i in range(len(sizes)) if i not in (list_axis, vector_axis)]
        if len(space_axes) == 3 and list_axis is None and sizes[space_axes[2]] > 1:
            list_axis = space_axes.pop()  # a 3D stack of frames: slices are frames
        if len(space_axes) not in (2, 3) or (len(space_axes) == 3 and sizes[space_axes[2]] != 1):
            raise _bad(self.path, f"has sizes {sizes} and kinds {kinds}; expected 2D frames (optionally over a list axis).")
        self._list_axis = list_axis
        self._vector_axis = vector_axis
        self._space_axes = space_axes
        width, height = sizes[space_axes[0]], sizes[space_axes[1]]
        channels = sizes[vector_axis] if vector_axis is not None else 1
        if channels not in (1, 3, 4):
            raise _bad(self.path, f"has {channels} components per pixel; expected 1 (grayscale) or 3 (RGB).")
        self.frame_shape = (height, width) if channels == 1 else (height, width, channels)
        self.num_frames = sizes[list_axis] if list_axis is not None else 1
        self._check_data_size()
        try:
            self.geometry = self._geometry(header, space_axes)
        except (ValueError, IndexError, TypeError) as error:
            raise _bad(self.path, f"has unusable space directions or origin ({error}).") from None
        self.frame_times = self._times(header)
        self.metadata = {"source": str(self.path), "format": "nrrd",
                         "data_node_class": header.get("DataNodeClassName", ""),
                         "list_axis": "none" if list_axis is None else
                         ("last" if list_axis == len(sizes) - 1 else "first")}

    def _check_data_size(self) -> None:
        """Refuse a header that promises more pixels than the file can hold, before anything is allocated for them."""
        declared = int(np.prod(self._sizes, dtype=object)) * self.dtype.itemsize
        available = max(self._data_path.stat().st_size - self._data_offset, 0)
        # deflate never expands data more than 1032-fold, so gzip data cannot hold more than that
        limit = available if self.encoding == "raw" else 1032 * available + 1024
        if declared > limit:
            frame = max(self._frame_elements * self.dtype.itemsize, 1)
            raise _bad(self.path, f"holds {available} bytes of pixel data, but its header declares {self.num_frames} "
                                  f"frames of {frame} bytes (truncated file?).")

    def _data_file(self, header) -> Path:
        """Where the pixel data are: this file, or the file a detached header (.nhdr) names."""
        name = header.get("data file") or header.get("datafile")
        if not name:
            return self.path
        if str(name).upper().startswith("LIST") or len(str(name).split()) > 1:
            raise SequenceReadError("spreads its data over several files, which is not supported.", self.path,
                                    "Save the sequence as a single .seq.nrrd file (Slicer does by default).")
        data_path = (self.path.parent / str(name)).resolve()
        if not data_path.is_file():
            raise SequenceReadError(f"names the data file {name!r}, which is missing.", self.path,
                                    "Keep the .nhdr and its data file in the same folder.")
        return data_path

    def _geometry(self, header, space_axes) -> FrameGeometry:
        directions = header.get("space directions")
        origin = header.get("space origin")
        if directions is None:
            return FrameGeometry()
        vectors = [np.asarray(directions[i], dtype=float) for i in space_axes]
        if any(not np.all(np.isfinite(v)) for v in vectors):
            return FrameGeometry()
        vectors = [np.pad(v, (0, 3 - len(v))) for v in vectors]
        if any(np.linalg.norm(v) == 0 for v in vectors):
            raise ValueError("a space direction has zero length, so its pixels have no size")
        if len(vectors) == 2:
            vectors.append(np.cross(vectors[0], vectors[1]) / (np.linalg.norm(vectors[0]) * np.linalg.norm(vectors[1])))
        matrix = np.eye(4)
        matrix[:3, :3] = np.stack(vectors, axis=1)
        if origin is not None and np.all(np.isfinite(origin)):
            matrix[:len(origin), 3] = origin
        space = str(header.get("space", "left-posterior-superior")).lower()
        if space in ("right-anterior-superior", "ras"):
            matrix[:2, :] *= -1
        return FrameGeometry.from_ijk_to_lps(matrix)

    def _times(self, header) -> np.ndarray:
        if self._list_axis is not None:
            # Slicer numbers the axes in these keys without the pixel-component axis.
            before = self._vector_axis is not None and self._vector_axis < self._list_axis
            values = header.get(f"axis {self._list_axis - before} index values")
            if values:
                try:
                    times = [float(v) for v in str(values).split()]
                except ValueError:
                    times = None  # non-numeric index values (e.g. names): frames are numbered instead
                if times is not None:
                    return checked_frame_times(times, self.num_frames, self.path)
        return default_frame_times(self.num_frames)

    @property
    def _frame_elements(self) -> int:
        return int(np.prod(self.frame_shape))

    def _iter_frames(self) -> Iterator[np.ndarray]:
        last = self._list_axis is None or self._list_axis == len(self._sizes) - 1
        ordered_vector = self._vector_axis is None or self._vector_axis == 0
        if last and ordered_vector and not self._skips:
            yield from self._stream_blocks()
        else:
            yield from self._whole_array_frames()

    def _open_data(self):
        handle = open(self._data_path, "rb")
        handle.seek(self._data_offset)
        if self.encoding in ("gzip", "gz"):
            return handle, gzip.GzipFile(fileobj=handle, mode="rb")
        return handle, handle

    def _stream_blocks(self) -> Iterator[np.ndarray]:
        frame_bytes = self._frame_elements * self.dtype.itemsize
        handle, stream = self._open_data()
        try:
            for index in range(self.num_frames):
                try:
                    block = read_up_to(stream, frame_bytes)
                except (OSError, EOFError, zlib.error) as error:
                    raise _bad(self.path, f"frame {index} cannot be decompressed ({error}).") from None
                if len(block) != frame_bytes:
                    raise _bad(self.path, f"ends after {index} of {self.num_frames} frames (truncated file).")
                yield np.frombuffer(block, dtype=self._file_dtype).reshape(self.frame_shape).astype(self.dtype)
        finally:
            handle.close()

    def _whole_array_frames(self) -> Iterator[np.ndarray]:
        try:
            data, _ = nrrd.read(str(self.path), index_order="C")
        except (nrrd.NRRDError, OSError, ValueError, EOFError, zlib.error) as error:
            raise _bad(self.path, f"cannot be read ({error}).") from None
        # C order reverses the file's axis order; bring to (list, y, x, vector).
        ndim = len(self._sizes)
        c_axis = {axis: ndim - 1 - axis for axis in range(ndim)}
        order = []
        if self._list_axis is not None:
            order.append(c_axis[self._list_axis])
        if len(self._space_axes) == 3:
            order.append(c_axis[self._space_axes[2]])
        order += [c_axis[self._space_axes[1]], c_axis[self._space_axes[0]]]
        if self._vector_axis is not None:
            order.append(c_axis[self._vector_axis])
        frames = np.transpose(data, order).reshape((self.num_frames,) + self.frame_shape)
        yield from frames


def _format_vector(vector) -> str:
    return "(" + ",".join(repr(float(v)) for v in vector) + ")"


class NrrdSequenceWriter(SequenceWriter):
    """Streams frames into a gzip ``.seq.nrrd`` (list axis last) that Slicer loads as a volume sequence."""

    def _open(self, first_frame: np.ndarray) -> None:
        if first_frame.dtype not in _NRRD_TYPES:
            raise SequenceWriteError(f"NRRD cannot store {first_frame.dtype} frames.", self.path,
                                     "Convert the frames to an integer or float32/float64 type.")
        self._data_path = self._target.with_name(self._target.name + ".data")
        self._data_file = open(self._data_path, "wb")
        self._gzip = gzip.GzipFile(fileobj=self._data_file, mode="wb", compresslevel=1)

    def _write(self, frame: np.ndarray) -> None:
        self._gzip.write(np.ascontiguousarray(frame).astype(frame.dtype.newbyteorder("<"), copy=False).tobytes())

    def _header(self) -> str:
        """The header Slicer's own sequence writer produces for the same sequence."""
        height, width = self.frame_shape[:2]
        matrix = self.geometry.ijk_to_lps()
        directions = " ".join(_format_vector(matrix[:3, axis]) for axis in range(3))
        sizes = f"{width} {height} 1 {len(self.times)}"
        kinds, labels, units = "domain domain domain list", '"" "" "" "time"', '"" "" "" "s"'
        node_class = _DATA_NODE_CLASS[self.kind]
        if len(self.frame_shape) == 3:
            channels = self.frame_shape[2]
            sizes, directions = f"{channels} {sizes}", f"none {directions}"
            kinds, labels, units = f"{_COLOR_KIND[channels]} {kinds}", f'"" {labels}', f'"" {units}'
            node_class = "vtkMRMLVectorVolumeNode"
        lines = [
            "NRRD0004",
            "# Written by DTC (DTCSegmentationLib.sequence_io)",
            f"type: {_NRRD_TYPES[self.dtype]}",
            f"dimension: {len(sizes.split())}",
            "space: left-posterior-superior",
            f"sizes: {sizes}",
            f"space directions: {directions} none",
            f"kinds: {kinds}",
            f"labels: {labels}",
            f"units: {units}",
            "endian: little",
            "encoding: gzip",
            f"space origin: {_format_vector(matrix[:3, 3])}",
            f"DataNodeClassName:={node_class}",
            # Slicer numbers the list axis without the pixel-component axis: always 3 here.
            "axis 3 index type:=numeric",
            "axis 3 index values:=" + " ".join(repr(float(t)) for t in self.times),
        ]
        return "\n".join(lines) + "\n\n"

    def _finish(self) -> None:
        self._gzip.close()
        self._data_file.close()
        with open(self._target, "wb") as out, open(self._data_path, "rb") as data:
            out.write(self._header().encode("ascii"))
            shutil.copyfileobj(data, out, 1 << 20)
        self._data_path.unlink()

    def _release(self) -> None:
        for closable in (getattr(self, "_gzip", None), getattr(self, "_data_file", None)):
            if closable is not None:
                closable.close()
        data_path: Optional[Path] = getattr(self, "_data_path", None)
        if data_path is not None and data_path.exists():
            data_path.unlink()

