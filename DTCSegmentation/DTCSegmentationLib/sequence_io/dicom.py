"""DICOM multi-frame ultrasound cine loops through pydicom, one frame at a time.

Spacing comes from the ultrasound region calibration (``SequenceOfUltrasoundRegions``,
``PhysicalDeltaX/Y`` in cm, converted to mm) or ``PixelSpacing``; frame times from
``FrameTimeVector`` or ``FrameTime`` (ms).  Frames are ``(H, W)`` for MONOCHROME data
(8- or 16-bit as stored, never rescaled) and ``(H, W, 3)`` RGB for colour: YBR_FULL and
YBR_FULL_422 are converted to RGB; colour frames whose channels are equal (gray B-mode
stored as RGB) stay RGB - the caller decides.  Compressed transfer syntaxes need the
matching pydicom pixel plug-in.  Decoding one frame at a time needs pydicom 3
(``pydicom.pixels``); with an older pydicom the reader says so instead of loading the
whole loop.
"""

from pathlib import Path
from typing import Iterator

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

try:
    from pydicom import pixels
except ImportError:  # pydicom < 3 (Python 3.9, e.g. Slicer 5.8)
    pixels = None

from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io.frame_sequence import (
    FrameGeometry,
    SequenceReader,
    checked_frame_times,
    default_frame_times,
)

_FIX = "Check it is a complete DICOM ultrasound file (export the cine loop again from the scanner or PACS)."


def _spacing_mm(dataset) -> tuple:
    regions = getattr(dataset, "SequenceOfUltrasoundRegions", None)
    if regions:
        region = regions[0]
        dx, dy = getattr(region, "PhysicalDeltaX", None), getattr(region, "PhysicalDeltaY", None)
        # Units 3 = cm, the only physical unit B-mode regions use for distance.
        if dx and dy and getattr(region, "PhysicalUnitsXDirection", 3) == 3:
            return (abs(float(dx)) * 10.0, abs(float(dy)) * 10.0, 1.0)
    spacing = getattr(dataset, "PixelSpacing", None)
    if spacing and len(spacing) == 2:
        return (float(spacing[1]), float(spacing[0]), 1.0)  # DICOM order is (row, column) spacing
    return (1.0, 1.0, 1.0)


class DicomReader(SequenceReader):
    """Frames of a (multi-frame) DICOM file."""

    def __init__(self, path):
        self.path = Path(path)
        if pixels is None:
            raise SequenceReadError(f"cannot be decoded frame by frame with pydicom {pydicom.__version__}.", self.path,
                                    "Install pydicom 3 or newer (pip install -U 'pydicom>=3', Python 3.10 or newer).")
        try:
            dataset = pydicom.dcmread(str(self.path), stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError) as error:
            raise SequenceReadError(f"is not a readable DICOM file ({error}).", self.path, _FIX) from None
        if "Rows" not in dataset or "Columns" not in dataset:
            raise SequenceReadError("holds no image (no Rows/Columns).", self.path, "Pick the image file of the cine loop.")
        self.num_frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
        samples = int(getattr(dataset, "SamplesPerPixel", 1))
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        self.frame_shape = (rows, columns) if samples == 1 else (rows, columns, samples)
        bits = int(getattr(dataset, "BitsAllocated", 8))
        signed = int(getattr(dataset, "PixelRepresentation", 0)) == 1
        self.dtype = np.dtype(f"{'i' if signed else 'u'}{max(bits, 8) // 8}")
        self.geometry = FrameGeometry(spacing=_spacing_mm(dataset))
        vector = getattr(dataset, "FrameTimeVector", None)
        if vector is not None:
            # FrameTimeVector holds increments (ms) from the previous frame, the first one 0.
            increments = np.atleast_1d(np.asarray(vector, dtype=float))
            self.frame_times = checked_frame_times(np.cumsum(increments) / 1000.0, self.num_frames, self.path)
        else:
            frame_time_ms = float(getattr(dataset, "FrameTime", 0) or 0)
            self.frame_times = default_frame_times(self.num_frames, 1000.0 / frame_time_ms if frame_time_ms > 0 else 0.0)
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        self._compressed = bool(syntax is not None and syntax.is_compressed)
        self._one_by_one = str(getattr(dataset, "PhotometricInterpretation", "")) == "YBR_FULL_422" and not self._compressed
        intervals = np.diff(self.frame_times)
        rate = 1.0 / float(np.median(intervals)) if len(intervals) and np.median(intervals) > 0 else None
        self.metadata = {"source": str(self.path), "format": "dicom", "frame_rate": rate,
                         "modality": str(getattr(dataset, "Modality", "")),
                         "photometric_interpretation": str(getattr(dataset, "PhotometricInterpretation", ""))}

    def _frames(self) -> Iterator[np.ndarray]:
        if self._one_by_one:
            # pydicom 3.0's iter_pixels mis-sizes the third and later frames of uncompressed
            # YBR_FULL_422 data; reading frame by frame by index is correct and still bounded.
            for index in range(self.num_frames):
                yield pixels.pixel_array(str(self.path), index=index)
        else:
            yield from pixels.iter_pixels(str(self.path), raw=False)

    def _iter_frames(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._frames():
                if frame.shape != self.frame_shape:
                    frame = frame.reshape(self.frame_shape)
                yield frame
        except (InvalidDicomError, OSError, ValueError, EOFError, RuntimeError, NotImplementedError,
                AttributeError, KeyError) as error:
            fix = ("Install the pixel-data plug-in for its compression (pip install pylibjpeg pylibjpeg-libjpeg) "
                   "or export it uncompressed." if self._compressed else _FIX)
            raise SequenceReadError(f"pixel data cannot be decoded ({error}).", self.path, fix) from None
