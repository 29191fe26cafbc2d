"""Frame times as the files give them (issue #14, item 9): one finite time per frame, never going backwards,
or a reading error naming the file; never silently replaced by 0, 1, 2 s or passed through."""

import re

import nibabel as nib
import numpy as np
import pytest
from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io import open_sequence, read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from samples import dtc_error, frames, tiny_model_file

GOOD = [0.0, 0.05, 0.1, 0.15]


def seq_nrrd_with_times(path, values: str):
    """A 4-frame .seq.nrrd whose list-axis index values are ``values`` exactly as written in the header."""
    written = write_sequence(path, FrameSequence(frames(), frame_times=GOOD))
    head, _, body = written.read_bytes().partition(b"\n\n")
    head = re.sub(rb"axis 3 index values:=[^\n]*", b"axis 3 index values:=" + values.encode(), head)
    path.write_bytes(head + b"\n\n" + body)
    return path


def test_seq_nrrd_times_are_read_as_written(tmp_path):
    np.testing.assert_allclose(read_sequence(seq_nrrd_with_times(tmp_path / "a.seq.nrrd", "0 0.05 0.1 0.15")).frame_times,
                               GOOD)


@pytest.mark.parametrize("values, words", [
    ("0 0.05 0.1", "has 3 frame times for 4 frames"),
    ("0 0.05 0.1 0.15 0.2", "has 5 frame times for 4 frames"),
    ("0 nan 0.1 0.15", "gives frame 1 the time nan"),
    ("0 0.05 inf 0.15", "gives frame 2 the time inf"),
    ("0 0.05 0.04 0.15", "go backwards: frame 2 at 0.04 s comes after 0.05 s"),
])
def test_seq_nrrd_times_that_do_not_fit_the_frames_are_refused(tmp_path, values, words):
    path = seq_nrrd_with_times(tmp_path / "t.seq.nrrd", values)
    with pytest.raises(SequenceReadError, match=re.escape(words)) as error:
        open_sequence(path)
    assert str(error.value).startswith(str(path))


def test_equal_times_are_kept(tmp_path):
    """Duplicated frames (PLUS, video grabbers) share a time: that is not going backwards."""
    path = seq_nrrd_with_times(tmp_path / "d.seq.nrrd", "0 0.05 0.05 0.1")
    assert read_sequence(path).frame_times.tolist() == [0.0, 0.05, 0.05, 0.1]


def test_dtc_segment_reports_bad_times_in_one_line(tmp_path, capsys):
    path = seq_nrrd_with_times(tmp_path / "t.seq.nrrd", "0 0.05 0.1")
    model = tiny_model_file(tmp_path / "m.safetensors")
    assert "t.seq.nrrd: has 3 frame times for 4 frames" in dtc_error(
        capsys, ["segment", path, "--model", model, "--out", tmp_path / "out"])
    assert not (tmp_path / "out").exists()


def plus_file(path, timestamps):
    data = frames(count=len(timestamps))
    lines = ["ObjectType = Image", "NDims = 3", "BinaryData = True", "CompressedData = False",
             f"DimSize = {data.shape[2]} {data.shape[1]} {len(timestamps)}", "ElementType = MET_UCHAR"]
    lines += [f"Seq_Frame{i:04d}_Timestamp = {t}" for i, t in enumerate(timestamps) if t is not None]
    lines.append("ElementDataFile = LOCAL")
    path.write_bytes(("\n".join(lines) + "\n").encode() + data.tobytes())
    return path


@pytest.mark.parametrize("timestamps, words", [
    ([1.0, "nan", 1.1, 1.15], "gives frame 1 the time nan"),
    ([1.0, 1.05, 0.9, 1.15], "go backwards: frame 2 at 0.9 s"),
    ([1.0, 1.05, None, 1.15], "gives frame 2 the timestamp None"),
    ([1.0, "soon", 1.1, 1.15], "gives frame 1 the timestamp 'soon'"),
])
def test_plus_timestamps_that_do_not_fit_are_refused(tmp_path, timestamps, words):
    with pytest.raises(SequenceReadError, match=re.escape(words)):
        open_sequence(plus_file(tmp_path / "r.igs.mha", timestamps))


def test_plus_without_any_timestamps_numbers_the_frames(tmp_path):
    assert read_sequence(plus_file(tmp_path / "r.igs.mha", [None] * 3)).frame_times.tolist() == [0.0, 1.0, 2.0]


def test_nifti_with_a_non_finite_start_time_is_refused(tmp_path):
    path = write_sequence(tmp_path / "n.nii.gz", FrameSequence(frames(), frame_times=GOOD))
    image = nib.load(str(path))
    header = image.header.copy()
    header["toffset"] = np.nan
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), image.affine, header), str(tmp_path / "bad.nii.gz"))
    with pytest.raises(SequenceReadError, match=r"bad\.nii\.gz: gives frame 0 the time nan"):
        open_sequence(tmp_path / "bad.nii.gz")
