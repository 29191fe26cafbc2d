"""Damaged files the fuzz suite (test_fuzz_readers.py) found mishandled, kept here as plain regression tests:
each is refused at once in one line naming it, without allocating what its header claims."""

import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io import open_sequence, read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from samples import frames


def test_a_plus_file_whose_every_frame_is_invalid_is_refused_when_opened(tmp_path):
    data = frames(count=2)
    lines = ["ObjectType = Image", "NDims = 3", f"DimSize = {data.shape[2]} {data.shape[1]} 2", "ElementType = MET_UCHAR",
             "Seq_Frame0000_ImageStatus = INVALID", "Seq_Frame0001_ImageStatus = INVALID", "ElementDataFile = LOCAL"]
    (tmp_path / "r.igs.mha").write_bytes(("\n".join(lines) + "\n").encode() + data.tobytes())
    with pytest.raises(SequenceReadError, match="holds no valid frame: all 2 are marked"):
        open_sequence(tmp_path / "r.igs.mha")


def test_a_parser_message_with_a_line_break_stays_on_one_line(tmp_path):
    (tmp_path / "m.seq.nrrd").write_bytes(b"NRRD0004: 0\ntype: uchar\n\n")  # pynrrd quotes the bad magic line, newline and all
    with pytest.raises(SequenceReadError) as error:
        open_sequence(tmp_path / "m.seq.nrrd")
    assert "\n" not in str(error.value) and "is not a readable NRRD file" in str(error.value)


def test_a_nifti_header_with_an_unknown_time_unit_is_a_reading_error(tmp_path):
    path = write_sequence(tmp_path / "a.nii", FrameSequence(frames()))
    data = bytearray(path.read_bytes())
    data[123] = 4  # xyzt_units: no such unit code, nibabel raises KeyError
    (tmp_path / "b.nii").write_bytes(bytes(data))
    with pytest.raises(SequenceReadError, match=r"b\.nii: has a damaged header"):
        open_sequence(tmp_path / "b.nii")


def png_with_header(width, height, image=np.zeros((4, 4), np.uint8)):
    data = cv2.imencode(".png", image)[1].tobytes()
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


def test_a_png_claiming_a_huge_size_is_refused_without_allocating_it(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "f.png").write_bytes(png_with_header(30000, 30000))  # a 900 MB image in 70 bytes
    tracemalloc.start()
    with pytest.raises(SequenceReadError, match=r"f\.png: declares 30000 x 30000 pixels"):
        read_sequence(tmp_path / "frames")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20


@pytest.mark.parametrize("damage", ["crc", "cut"])
def test_a_png_with_a_damaged_chunk_is_refused_by_us(tmp_path, damage):
    data = cv2.imencode(".png", frames(count=1)[0])[1].tobytes()
    data = data[:20] + bytes([data[20] ^ 1]) + data[21:] if damage == "crc" else data[:-20]
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "f.png").write_bytes(data)
    with pytest.raises(SequenceReadError, match=r"f\.png: is a damaged PNG \(chunk b'(IHDR|IDAT|IEND)'"):
        read_sequence(tmp_path / "frames")
