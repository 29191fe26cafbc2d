"""PLUS sequence metafiles keep every frame's tracked transform: each frame gets its own pixel-to-LPS pose."""

import numpy as np
import pytest
from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io import read_sequence
from DTCSegmentationLib.sequence_io.plus_metafile import PlusMetafileReader

# Frame 0: 0.2 mm pixels, image columns along reference +y, rows along -x, the first pixel at (5, 6, 7) mm.
IMAGE_TO_REFERENCE_0 = "0 -0.2 0 5  0.2 0 0 6  0 0 0.2 7  0 0 0 1"
# Frame 2: the same image moved 10 mm along reference z.
IMAGE_TO_REFERENCE_2 = "0 -0.2 0 5  0.2 0 0 6  0 0 0.2 17  0 0 0 1"


def write_tracked_plus(path, statuses=("OK", "INVALID", "OK"), extra=()):
    """Three 4 x 6 frames with ImageToReference and ProbeToTracker transforms, as PLUS's sequence files store them."""
    count, height, width = 3, 4, 6
    lines = ["ObjectType = Image", "NDims = 3", "BinaryData = True", "BinaryDataByteOrderMSB = False",
             "CompressedData = False", f"DimSize = {width} {height} {count}", "ElementSpacing = 1 1 1",
             "ElementType = MET_UCHAR", "Offset = 0 0 0", "TransformMatrix = 1 0 0 0 1 0 0 0 1",
             "UltrasoundImageOrientation = MF"]
    matrices = [IMAGE_TO_REFERENCE_0, "1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", IMAGE_TO_REFERENCE_2]
    for index in range(count):
        lines += [f"Seq_Frame{index:04d}_Timestamp = {index * 0.1}",
                  f"Seq_Frame{index:04d}_ImageToReferenceTransform = {matrices[index]}",
                  f"Seq_Frame{index:04d}_ImageToReferenceTransformStatus = {statuses[index]}",
                  f"Seq_Frame{index:04d}_ProbeToTrackerTransform = 1 0 0 {index} 0 1 0 0 0 0 1 0 0 0 0 1",
                  f"Seq_Frame{index:04d}_ProbeToTrackerTransformStatus = OK"]
    lines += list(extra) + ["ElementDataFile = LOCAL"]
    data = np.arange(count * height * width, dtype=np.uint8).reshape(count, height, width)
    path.write_bytes(("\n".join(lines) + "\n").encode() + data.tobytes())
    return data


def test_every_frame_has_its_own_pose_from_image_to_reference(tmp_path):
    write_tracked_plus(tmp_path / "sweep.igs.mha")
    reader = PlusMetafileReader(tmp_path / "sweep.igs.mha")
    assert reader.transform_names == ["ImageToReference", "ProbeToTracker"]
    poses = reader.frame_poses
    assert poses.shape == (3, 4, 4)
    # Pixel (column 3, row 2) of frame 0, by hand: reference = (5 - 0.2*2, 6 + 0.2*3, 7) = (4.6, 6.6, 7) RAS,
    # which is (-4.6, -6.6, 7) LPS.
    np.testing.assert_allclose(poses[0] @ [3, 2, 0, 1], [-4.6, -6.6, 7.0, 1.0])
    np.testing.assert_allclose(poses[2] @ [3, 2, 0, 1], [-4.6, -6.6, 17.0, 1.0])
    assert np.isnan(poses[1]).all()  # status INVALID: the tracker lost the probe
    sequence = read_sequence(tmp_path / "sweep.igs.mha")
    np.testing.assert_array_equal(sequence.frame_poses[0], poses[0])


def test_a_named_transform_with_its_calibration(tmp_path):
    write_tracked_plus(tmp_path / "sweep.igs.mha")
    calibration = np.diag([0.5, 0.5, 0.5, 1.0])  # ImageToProbe: 0.5 mm pixels
    reader = PlusMetafileReader(tmp_path / "sweep.igs.mha", transform="ProbeToTrackerTransform", calibration=calibration)
    # Pixel (4, 2) of frame 2: probe (2, 1, 0) mm, tracker (2 + 2, 1, 0) RAS -> (-4, -1, 0) LPS
    np.testing.assert_allclose(reader.frame_poses[2] @ [4, 2, 0, 1], [-4.0, -1.0, 0.0, 1.0])
    assert np.isfinite(reader.frame_poses).all()


def test_frames_without_image_keep_their_poses_in_step(tmp_path):
    write_tracked_plus(tmp_path / "sweep.igs.mha", statuses=("OK", "OK", "OK"),
                       extra=["Seq_Frame0001_ImageStatus = INVALID"])
    reader = PlusMetafileReader(tmp_path / "sweep.igs.mha")
    assert len(reader) == 2  # frame 1 has no image: frame 2 is now the second
    np.testing.assert_allclose(reader.frame_poses[1] @ [3, 2, 0, 1], [-4.6, -6.6, 17.0, 1.0])


def test_a_file_without_image_to_reference_has_no_poses(tmp_path):
    path = tmp_path / "sweep.igs.mha"
    write_tracked_plus(path)
    path.write_bytes(path.read_bytes().replace(b"ImageToReference", b"ImageToProbeXXXX"))
    assert PlusMetafileReader(path).frame_poses is None
    assert read_sequence(path).frame_poses is None


def test_bad_transform_requests_are_one_clear_error(tmp_path):
    path = tmp_path / "sweep.igs.mha"
    write_tracked_plus(path)
    with pytest.raises(SequenceReadError, match=r"sweep\.igs\.mha.*no per-frame StylusToTrackerTransform.*"
                                                r"ImageToReference, ProbeToTracker"):
        PlusMetafileReader(path, transform="StylusToTracker")
    with pytest.raises(SequenceReadError, match="calibration but no transform"):
        PlusMetafileReader(path, calibration=np.eye(4))
    with pytest.raises(SequenceReadError, match="calibration of shape"):
        PlusMetafileReader(path, transform="ProbeToTracker", calibration=np.eye(3))
    write_tracked_plus(path, extra=["Seq_Frame0002_ImageToReferenceTransform = 1 0 0"])
    with pytest.raises(SequenceReadError, match="frame 2 the ImageToReferenceTransform '1 0 0', which is not 16 numbers"):
        PlusMetafileReader(path)
