"""Reading and writing recordings: round trips, video, image folders, writers, bad input, bounded memory.

Slicer compatibility of ``.seq.nrrd`` is in test_sequence_io_slicer.py; NIfTI, PLUS and
DICOM specifics are in test_sequence_io_medical.py.
"""

import tracemalloc
from typing import Tuple

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.errors import SequenceReadError, SequenceWriteError
from DTCSegmentationLib.sequence_io import (
    SUPPORTED_READ_SUFFIXES,
    SUPPORTED_WRITE_SUFFIXES,
    open_sequence,
    open_writer,
    read_sequence,
    write_sequence,
)
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from samples import SEQUENCE_GEOMETRY as GEOMETRY
from samples import frames

TIMES = np.array([0.0, 0.05, 0.1, 0.15])


@pytest.mark.parametrize("name", ["x.seq.nrrd", "x.nii", "x.nii.gz"])
@pytest.mark.parametrize("dtype, channels", [(np.uint8, 1), (np.uint16, 1), (np.int16, 1), (np.float32, 1),
                                             (np.uint8, 3)])
def test_round_trip_keeps_pixels_geometry_and_times(tmp_path, name, dtype, channels):
    data = frames(dtype, channels)
    write_sequence(tmp_path / name, FrameSequence(data, GEOMETRY, TIMES))
    with open_sequence(tmp_path / name) as reader:
        assert reader.frame_shape == data.shape[1:] and reader.dtype == dtype and len(reader) == 4
        back = reader.read()
    np.testing.assert_array_equal(back.frames, data)
    assert back.frames.dtype == dtype
    assert back.geometry.isclose(GEOMETRY, atol=1e-5)
    np.testing.assert_allclose(back.frame_times, TIMES, atol=1e-6)


def test_oblique_geometry_survives_nrrd_and_nifti(tmp_path):
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    geometry = FrameGeometry((0.1, 0.15, 2.0), (1.0, 2.0, 3.0), tuple(rotation.ravel()))
    for name in ("o.seq.nrrd", "o.nii.gz"):
        write_sequence(tmp_path / name, FrameSequence(frames(), geometry, TIMES))
        assert read_sequence(tmp_path / name).geometry.isclose(geometry, atol=1e-5), name


def test_long_recording_times_keep_their_precision(tmp_path):
    times = 86000.0 + np.arange(4) * 0.033  # a wall-clock-like start: 8+ significant digits
    write_sequence(tmp_path / "t.seq.nrrd", FrameSequence(frames(), GEOMETRY, times))
    np.testing.assert_allclose(read_sequence(tmp_path / "t.seq.nrrd").frame_times, times, rtol=0, atol=1e-9)


def test_png_folder_round_trip_in_natural_order(tmp_path):
    data = frames(np.uint16, count=12)
    write_sequence(tmp_path / "pngs", FrameSequence(data, GEOMETRY))
    names = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert names[0] == "frame_00000.png" and names[-1] == "frame_00011.png" and len(names) == 12
    back = read_sequence(tmp_path / "pngs")
    assert back.frames.dtype == np.uint16  # 16-bit stays 16-bit, never rescaled
    np.testing.assert_array_equal(back.frames, data)


def test_labelmaps_are_written_as_uint8_label_values(tmp_path):
    masks = (frames(np.uint16) % 3).astype(np.int64)  # label values in a wide integer type
    write_sequence(tmp_path / "masks", FrameSequence(masks), kind="labelmap")
    image = cv2.imread(str(tmp_path / "masks" / "frame_00002.png"), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint8 and image.ndim == 2
    np.testing.assert_array_equal(image, masks[2])
    write_sequence(tmp_path / "b.seq.nrrd", FrameSequence(masks > 0), kind="labelmap")
    back = read_sequence(tmp_path / "b.seq.nrrd")
    assert back.frames.dtype == np.uint8 and back.metadata["data_node_class"] == "vtkMRMLLabelMapVolumeNode"
    np.testing.assert_array_equal(back.frames, masks > 0)


@pytest.mark.parametrize("frame, message", [
    (np.full((4, 4), 300, np.int32), "0-255"),
    (np.full((4, 4), -1, np.int16), "0-255"),
    (np.zeros((4, 4), np.float32), "integer"),
    (np.zeros((4, 4, 3), np.uint8), "integer"),
])
def test_labelmap_frames_that_are_not_label_values_are_refused(tmp_path, frame, message):
    with pytest.raises(SequenceWriteError, match=message):
        with open_writer(tmp_path / "l.seq.nrrd", kind="labelmap") as writer:
            writer.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_image_folder_sorts_naturally_and_converts_bgr(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for index in (1, 2, 10):
        image = np.zeros((4, 6, 3), np.uint8)
        image[..., 2] = index  # red in OpenCV's BGR
        cv2.imwrite(str(folder / f"f{index}.png"), image)
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".hidden.png").write_bytes(b"junk")
    sequence = read_sequence(folder)
    assert sequence.frames[:, 0, 0, 0].tolist() == [1, 2, 10]  # RGB: red first
    assert sequence.frames.shape == (3, 4, 6, 3)


def test_image_folder_mixed_suffixes_and_16_bit_tiff(tmp_path):
    folder = tmp_path / "tiffs"
    folder.mkdir()
    data = frames(np.uint16, count=3)
    for index, frame in enumerate(data):
        cv2.imwrite(str(folder / f"img{index}.{'tif' if index % 2 else 'tiff'}"), frame)
    back = read_sequence(folder)
    assert back.frames.dtype == np.uint16
    np.testing.assert_array_equal(back.frames, data)


def test_video_round_trip_gray_and_rgb(tmp_path):
    gray = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, None], 48, axis=1).repeat(6, axis=0)
    with open_writer(tmp_path / "g.avi", frame_rate=25.0) as writer:
        for frame in gray:
            writer.write(frame)
    reader = open_sequence(tmp_path / "g.avi")
    assert reader.frame_shape == (48, 64) and reader.metadata["gray"]
    back = reader.read()
    assert len(back) == 6 and np.abs(back.frames.astype(int) - gray).mean() < 4
    np.testing.assert_allclose(back.frame_times, np.arange(6) / 25.0)
    rgb = np.zeros((5, 48, 64, 3), np.uint8)
    rgb[..., 0] = 200
    write_sequence(tmp_path / "c.mp4", FrameSequence(rgb))
    back = read_sequence(tmp_path / "c.mp4")
    assert back.frames.shape == (5, 48, 64, 3) and back.frames[..., 0].mean() > 150 > back.frames[..., 2].mean()


def test_video_frame_times_follow_the_frames_really_decoded(tmp_path):
    write_sequence(tmp_path / "v.avi", FrameSequence(frames(count=7, height=32, width=32)))
    reader = open_sequence(tmp_path / "v.avi")
    reader.frame_times = np.arange(50) / 20.0  # a container that over-declares its length
    assert len(reader.read()) == 7
    assert len(reader) == 7 and reader.metadata["decoded_frames"] == 7


def test_gif_reads(tmp_path):
    animation = cv2.Animation()
    animation.frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(4)]
    animation.durations = [50] * 4
    assert cv2.imwriteanimation(str(tmp_path / "a.gif"), animation)
    sequence = read_sequence(tmp_path / "a.gif")
    assert len(sequence) == 4 and sequence.frames[3].mean() > sequence.frames[1].mean()
    assert sequence.frames.ndim == 3  # equal colour channels: delivered as gray


def test_videos_refuse_labelmaps_and_16_bit(tmp_path):
    with pytest.raises(SequenceWriteError, match="lossy"):
        open_writer(tmp_path / "m.mp4", kind="labelmap")
    with pytest.raises(SequenceWriteError, match="8-bit"):
        write_sequence(tmp_path / "x.avi", FrameSequence(frames(np.uint16)))
    assert list(tmp_path.iterdir()) == []


def test_supported_suffixes_are_listed_and_dispatch(tmp_path):
    assert {".seq.nrrd", ".nii.gz", ".mp4", ".igs.mha", ".dcm", ".gif"} <= set(SUPPORTED_READ_SUFFIXES)
    assert {".seq.nrrd", ".nii", ".nii.gz", ".mp4", ".avi"} == set(SUPPORTED_WRITE_SUFFIXES)
    for suffix in SUPPORTED_WRITE_SUFFIXES:
        data = frames(count=2, height=16, width=16)
        path = write_sequence(tmp_path / f"s{suffix}", FrameSequence(data))
        assert len(read_sequence(path)) == 2, suffix


# --- bad input --------------------------------------------------------------------------

def test_missing_and_unknown_inputs(tmp_path):
    with pytest.raises(SequenceReadError, match="does not exist"):
        open_sequence(tmp_path / "nope.mp4")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SequenceReadError, match=r"notes\.txt.*unknown format"):
        open_sequence(tmp_path / "notes.txt")


@pytest.mark.parametrize("name, content", [
    ("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100),
    ("empty.avi", b""),
    ("noise.mov", bytes(range(256)) * 8),
    ("bad.seq.nrrd", b"NRRD0004\ntype: banana\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n\n" + b"\0" * 8),
    ("bzip.seq.nrrd", b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nencoding: bzip2\n\n" + b"\0" * 8),
    ("notnrrd.nrrd", b"hello world\n"),
    ("bad.nii.gz", b"not nifti"),
    ("bad.dcm", b"\0" * 200),
    ("bad.igs.mha", b"ObjectType = Image\nDimSize = 4 4 2\nElementType = MET_UCHAR\n"),
])
def test_corrupt_files_give_one_clear_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SequenceReadError) as error:
        read_sequence(tmp_path / name)
    assert name in str(error.value) and "Fix:" in str(error.value)


@pytest.mark.parametrize("name", ["t.seq.nrrd", "t.nii.gz", "t.nii"])
def test_truncated_file_is_an_error_not_a_partial_result(tmp_path, name):
    write_sequence(tmp_path / name, FrameSequence(frames(count=20)))
    content = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(content[: len(content) // 2])
    with pytest.raises(SequenceReadError, match=name.replace(".", r"\.")):
        read_sequence(tmp_path / name)


def test_folder_with_frames_of_different_sizes_names_the_odd_one(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    cv2.imwrite(str(folder / "a1.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(folder / "a2.png"), np.zeros((5, 4), np.uint8))
    with pytest.raises(SequenceReadError, match="a2.png"):
        read_sequence(folder)
    cv2.imwrite(str(folder / "a2.png"), np.zeros((4, 4), np.uint16))
    with pytest.raises(SequenceReadError, match="a2.png.*uint16"):
        read_sequence(folder)
    (folder / "a2.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(SequenceReadError, match="a2.png.*cannot be read"):
        read_sequence(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SequenceReadError, match="no images"):
        open_sequence(empty)


@pytest.mark.parametrize("name", ["out.seq.nrrd", "out.nii.gz", "out.avi", "out"])
def test_writers_never_overwrite_and_leave_nothing_on_failure(tmp_path, name):
    target = tmp_path / name
    write_sequence(target, FrameSequence(frames(height=16, width=16)))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    stamp = target.stat().st_mtime_ns
    with pytest.raises(SequenceWriteError, match="already exists"):
        write_sequence(target, FrameSequence(frames(seed=1, height=16, width=16)))
    with pytest.raises(KeyboardInterrupt):
        with open_writer(target, overwrite=True) as writer:
            writer.write(frames(height=16, width=16)[0])
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.rglob("*")) == before and target.stat().st_mtime_ns == stamp
    with pytest.raises(SequenceWriteError, match="earlier frames"):
        with open_writer(tmp_path / f"mixed{name}") as writer:
            writer.write(np.zeros((16, 16), np.uint8))
            writer.write(np.zeros((16, 18), np.uint8))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    write_sequence(target, FrameSequence(frames(seed=2, height=16, width=16)), overwrite=True)
    assert len(read_sequence(target)) == 4


def test_writer_misuse_is_reported(tmp_path):
    with pytest.raises(SequenceWriteError, match="unknown output format"):
        open_writer(tmp_path / "x.jpeg2")
    with pytest.raises(SequenceWriteError, match="no frames"):
        with open_writer(tmp_path / "empty.seq.nrrd"):
            pass
    for name in ("h.seq.nrrd", "h.nii.gz"):
        with pytest.raises(SequenceWriteError, match="float16"):
            write_sequence(tmp_path / name, FrameSequence(frames().astype(np.float16)))
    with pytest.raises(SequenceWriteError, match="folder to write into does not exist"):
        open_writer(tmp_path / "missing" / "x.seq.nrrd")
    assert list(tmp_path.iterdir()) == []


# --- bounded memory ---------------------------------------------------------------------

def _peak_while_streaming(path) -> Tuple[int, int]:
    """(frames read, peak bytes Python allocated while streaming them)."""
    tracemalloc.start()
    try:
        with open_sequence(path) as reader:
            count = sum(1 for _ in reader)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["long.seq.nrrd", "long.nii.gz", "long.avi"])
def test_long_recordings_stream_with_bounded_memory(tmp_path, name):
    count, height, width = 3000, 64, 96  # 18 MB of frames
    path = tmp_path / name
    tracemalloc.start()
    with open_writer(path, frame_rate=30.0) as writer:
        frame = np.zeros((height, width), np.uint8)
        for index in range(count):
            frame[:, index % width] = index % 251
            writer.write(frame)
    write_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    seen, read_peak = _peak_while_streaming(path)
    assert seen == count
    whole = count * height * width
    assert write_peak < whole / 10, f"writing peaked at {write_peak} bytes for {whole} bytes of frames"
    assert read_peak < whole / 10, f"reading peaked at {read_peak} bytes for {whole} bytes of frames"
