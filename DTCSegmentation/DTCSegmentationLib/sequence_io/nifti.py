"""NIfTI 2D+t through SimpleITK.

Written as 4D ``(x, y, 1, t)`` images, NIfTI's own convention (dimensions 1-3 space,
4 time), with the frame interval as the fourth spacing.  Read: a 4D image has its frames
along the fourth axis, a 3D image with several slices is read as 2D+t (the common
``(x, y, t)`` layout), a 2D image is one frame.  NIfTI files are read whole (SimpleITK's
per-frame extraction of 4D images proved unreliable); use ``.seq.nrrd``, video or PLUS
files for recordings too long to hold in memory.
"""

from pathlib import Path
from typing import Iterator

import numpy as np
import SimpleITK as sitk

from ..errors import SequenceReadError, SequenceWriteError
from ..sequence import FrameGeometry, SequenceReader, default_frame_times
from .writer import SequenceWriter


class NiftiReader(SequenceReader):
    """Frames of a 2D+t NIfTI file."""

    def __init__(self, path):
        self.path = Path(path)
        self._reader = sitk.ImageFileReader()
        self._reader.SetFileName(str(self.path))
        try:
            self._reader.ReadImageInformation()
        except RuntimeError as error:
            raise SequenceReadError(f"is not a readable NIfTI file ({str(error).strip().splitlines()[-1]}).", self.path,
                                    "Check the file is complete and really NIfTI (.nii / .nii.gz).") from None
        size = list(self._reader.GetSize())
        dimension = len(size)
        if dimension not in (2, 3, 4) or (dimension == 4 and size[2] != 1):
            raise SequenceReadError(f"has size {size}; expected 2D frames over time (x, y, t) or (x, y, 1, t).",
                                    self.path, "Save the recording as 2D+t.")
        self._size = size
        self.num_frames = size[-1] if dimension > 2 else 1
        components = self._reader.GetNumberOfComponents()
        self.frame_shape = (size[1], size[0]) if components == 1 else (size[1], size[0], components)
        self.dtype = np.dtype(sitk.GetArrayViewFromImage(sitk.Image([1] * dimension, self._reader.GetPixelID(),
                                                                     components)).dtype)
        spacing, origin = self._reader.GetSpacing(), self._reader.GetOrigin()
        direction = np.asarray(self._reader.GetDirection()).reshape(dimension, dimension)
        matrix = np.eye(4)
        space = min(dimension, 3)
        if dimension == 3:
            space = 2  # (x, y, t): the third axis is time, not space
        matrix[:space, :space] = direction[:space, :space] * np.asarray(spacing[:space])[None, :]
        matrix[:space, 3] = origin[:space]
        self.geometry = FrameGeometry.from_ijk_to_lps(matrix)
        interval = spacing[-1] if dimension > 2 else 0.0
        start = origin[3] if dimension == 4 else 0.0
        self.frame_times = start + default_frame_times(self.num_frames, 1.0 / interval if interval > 0 else 0.0)
        self.metadata = {"source": str(self.path), "format": "nifti"}

    def _iter_frames(self) -> Iterator[np.ndarray]:
        volume = sitk.GetArrayFromImage(self._read(self._reader))
        for frame in volume.reshape((self.num_frames,) + self.frame_shape):
            yield frame

    def _read(self, reader: sitk.ImageFileReader) -> sitk.Image:
        try:
            return reader.Execute()
        except RuntimeError as error:
            raise SequenceReadError(f"cannot be read ({str(error).strip().splitlines()[-1]}).", self.path,
                                    "Check the file is complete.") from None


class NiftiWriter(SequenceWriter):
    """Collects frames and writes one 4D ``(x, y, 1, t)`` NIfTI file (NIfTI cannot be appended to)."""

    def _open(self, first_frame: np.ndarray) -> None:
        self._frames = []

    def _write(self, frame: np.ndarray) -> None:
        self._frames.append(frame)

    def _finish(self) -> None:
        stack = np.stack(self._frames)
        vector = stack.ndim == 4
        array = stack[:, None]  # (T, 1, H, W[, C]) -> image (x, y, 1, t)
        image = sitk.GetImageFromArray(array, isVector=vector)
        times = np.asarray(self.times)
        interval = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
        matrix = self.geometry.ijk_to_lps()
        direction = np.eye(4)
        direction[:3, :3] = self.geometry.direction_matrix
        image.SetSpacing(tuple(self.geometry.spacing) + (interval if interval > 0 else 1.0,))
        image.SetOrigin(tuple(matrix[:3, 3]) + (float(times[0]),))
        image.SetDirection(tuple(direction.ravel()))
        try:
            sitk.WriteImage(image, str(self._target_with_suffix()), useCompression=self.path.name.lower().endswith(".gz"))
        except RuntimeError as error:
            raise SequenceWriteError(f"cannot be written ({str(error).strip().splitlines()[-1]}).", self.path,
                                     "Check the folder is writable.") from None
        self._target_with_suffix().replace(self._target)

    def _target_with_suffix(self) -> Path:
        # ITK chooses the format by extension, so the temporary file keeps .nii / .nii.gz.
        suffix = ".nii.gz" if self.path.name.lower().endswith(".gz") else ".nii"
        return self._target.with_name(self._target.name + suffix)

    def _release(self) -> None:
        self._frames = []
        if self._target_with_suffix().exists():
            self._target_with_suffix().unlink()
