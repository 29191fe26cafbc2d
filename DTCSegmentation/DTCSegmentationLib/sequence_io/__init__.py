"""Read and write 2D+t recordings in every format a TRUS workflow meets.

* :func:`open_sequence` streams frames (bounded memory); :func:`read_sequence` loads all.
* :func:`open_writer` streams frames out; :func:`write_sequence` writes a whole sequence.

The format is chosen by the path: see :data:`SUPPORTED_READ_SUFFIXES` and
:data:`SUPPORTED_WRITE_SUFFIXES`; a folder is a folder of images (PNG when writing); a
file without a known suffix is tried as DICOM.  Frames come out as stored: ``(H, W)``
gray or ``(H, W, 3)`` RGB, 8- or 16-bit (or float) as on disk, never rescaled; videos
whose first frame is gray give gray frames (see :mod:`.video`).
Every reader and writer raises :class:`~DTCSegmentationLib.errors.SequenceReadError` /
:class:`~DTCSegmentationLib.errors.SequenceWriteError` naming the file and the fix.
"""

from pathlib import Path
from typing import Optional

from DTCSegmentationLib.errors import PathLike, SequenceReadError, SequenceWriteError
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence, SequenceReader
from DTCSegmentationLib.sequence_io.writer import SequenceWriter

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mpeg", ".mpg", ".m4v", ".mkv", ".gif")
NRRD_SUFFIXES = (".seq.nrrd", ".nrrd", ".nhdr")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
PLUS_SUFFIXES = (".igs.mha", ".igs.mhd", ".mha", ".mhd")
DICOM_SUFFIXES = (".dcm", ".dicom")

SUPPORTED_READ_SUFFIXES = VIDEO_SUFFIXES + NRRD_SUFFIXES + NIFTI_SUFFIXES + PLUS_SUFFIXES + DICOM_SUFFIXES
SUPPORTED_WRITE_SUFFIXES = (".seq.nrrd",) + NIFTI_SUFFIXES + (".mp4", ".avi")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_READ_SUFFIXES + SUPPORTED_WRITE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _is_dicom(path: Path) -> bool:
    """DICOM files often have no extension: recognise the 'DICM' preamble."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def open_sequence(path: PathLike) -> SequenceReader:
    """A streaming reader for the recording at ``path`` (file or image folder).

    Raises:
        SequenceReadError: missing path, unknown format, or a file that cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise SequenceReadError("does not exist.", path, "Check the path.")
    if path.is_dir():
        from DTCSegmentationLib.sequence_io.image_folder import ImageFolderReader

        return ImageFolderReader(path)
    if path.stat().st_size == 0:
        raise SequenceReadError("is empty (0 bytes).", path, "Copy or export the recording again.")
    suffix = _suffix(path)
    if suffix in NRRD_SUFFIXES:
        from DTCSegmentationLib.sequence_io.nrrd import NrrdReader

        return NrrdReader(path)
    if suffix in PLUS_SUFFIXES:
        from DTCSegmentationLib.sequence_io.plus_metafile import PlusMetafileReader

        return PlusMetafileReader(path)
    if suffix in NIFTI_SUFFIXES:
        from DTCSegmentationLib.sequence_io.nifti import NiftiReader

        return NiftiReader(path)
    if suffix in VIDEO_SUFFIXES:
        from DTCSegmentationLib.sequence_io.video import VideoReader

        return VideoReader(path)
    if suffix in DICOM_SUFFIXES or _is_dicom(path):
        from DTCSegmentationLib.sequence_io.dicom import DicomReader

        return DicomReader(path)
    raise SequenceReadError(
        f"has an unknown format ('{suffix or 'no extension'}').", path,
        f"Use one of {', '.join(SUPPORTED_READ_SUFFIXES)} or a folder of images.",
    )


def read_sequence(path: PathLike) -> FrameSequence:
    """The whole recording at ``path`` in memory."""
    with open_sequence(path) as reader:
        return reader.read()


def open_writer(path: PathLike, geometry: FrameGeometry = FrameGeometry(), kind: str = "image",
                frame_rate: Optional[float] = None, overwrite: bool = False) -> SequenceWriter:
    """A streaming writer for ``path``; the format follows the suffix, no suffix means a PNG folder.

    Args:
        path: ``*.seq.nrrd``, ``*.nii`` / ``*.nii.gz``, ``*.mp4`` / ``*.avi`` (8-bit images only),
            or a folder path (``frame_00000.png`` ...).
        geometry: placement of every frame (kept by NRRD and NIfTI).
        kind: ``"image"`` or ``"labelmap"``: bool or integer label values 0-255, stored as uint8
            (Slicer opens a labelmap ``.seq.nrrd`` as labelmap nodes; videos refuse labelmaps).
        frame_rate: frames per second where frame times are not given per frame.
        overwrite: replace an existing output instead of refusing.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix == ".seq.nrrd" or suffix == ".nrrd":
        from DTCSegmentationLib.sequence_io.nrrd import NrrdSequenceWriter

        return NrrdSequenceWriter(path, geometry, kind, frame_rate, overwrite)
    if suffix in NIFTI_SUFFIXES:
        from DTCSegmentationLib.sequence_io.nifti import NiftiWriter

        return NiftiWriter(path, geometry, kind, frame_rate, overwrite)
    if suffix in (".mp4", ".avi"):
        from DTCSegmentationLib.sequence_io.video import VideoWriter

        return VideoWriter(path, geometry, kind, frame_rate, overwrite)
    if suffix == "" or str(path).endswith("/"):
        from DTCSegmentationLib.sequence_io.image_folder import ImageFolderWriter

        return ImageFolderWriter(path, geometry, kind, frame_rate, overwrite, directory=True)
    raise SequenceWriteError(f"cannot be written: unknown output format '{suffix}'.", path,
                             f"Use one of {', '.join(SUPPORTED_WRITE_SUFFIXES)} or a folder path for PNG frames.")


def write_sequence(path: PathLike, sequence: FrameSequence, kind: str = "image", overwrite: bool = False) -> Path:
    """Write every frame of ``sequence`` (with its geometry and frame times) to ``path``; returns the path."""
    with open_writer(path, sequence.geometry, kind, overwrite=overwrite) as writer:
        for frame, time in zip(sequence.frames, sequence.frame_times):
            writer.write(frame, float(time))
    return writer.path


__all__ = [
    "SUPPORTED_READ_SUFFIXES", "SUPPORTED_WRITE_SUFFIXES", "SequenceWriter",
    "open_sequence", "read_sequence", "open_writer", "write_sequence",
]
