"""Every reader and writer: round trips, geometry, frame times, bad input, bounded memory."""

import gzip
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from DTCSegmentationLib.errors import SequenceReadError, SequenceWriteError
from DTCSegmentationLib.sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.sequence_io import open_sequence, open_writer, read_sequence, write_sequence

GEOMETRY = FrameGeometry(spacing=(0.2, 0.3, 1.0), origin=(10.0, -5.0, 2.0))
TIMES = np.array([0.0, 0.05, 0.1, 0.15])


def frames(dtype=np.uint8, channels=1, count=4, height=12, width=20, seed=0):
    rng = np.random.default_rng(seed)
    shape = (count, height, width) + ((channels,) if channels > 1 else ())
    high = 255 if dtype == np.uint8 else 60000
    return rng.integers(0, high, shape).astype(dtype)


@pytest.mark.parametrize("name", ["x.seq.nrrd", "x.nii", "x.nii.gz"])
@pytest.mark.parametrize("dtype, channels", [(np.uint8, 1), (np.uint16, 1), (np.uint8, 3)])
def test_round_trip_keeps_pixels_geometry_and_times(tmp_path, name, dtype, channels):
    data = frames(dtype, channels)
    write_sequence(tmp_path / name, FrameSequence(data, GEOMETRY, TIMES))
    back = read_sequence(tmp_path / name)
    np.testing.assert_array_equal(back.frames, data)
    assert back.frames.dtype == dtype
    assert back.geometry.isclose(GEOMETRY, atol=1e-5)
    np.testing.assert_allclose(back.frame_times, TIMES, atol=1e-6)


def test_png_folder_round_trip_in_natural_order(tmp_path):
    data = frames(np.uint16, count=12)
    write_sequence(tmp_path / "pngs", FrameSequence(data, GEOMETRY))
    names = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert names[0] == "frame_00000.png" and len(names) == 12
    np.testing.assert_array_equal(read_sequence(tmp_path / "pngs").frames, data)


def test_image_folder_sorts_naturally_and_converts_bgr(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for index in (1, 2, 10):
        image = np.zeros((4, 6, 3), np.uint8)
        image[..., 2] = index  # red in OpenCV's BGR
        cv2.imwrite(str(folder / f"f{index}.png"), image)
    sequence = read_sequence(folder)
    assert sequence.frames[:, 0, 0, 0].tolist() == [1, 2, 10]  # RGB: red first
    assert sequence.frames.shape == (3, 4, 6, 3)


def test_video_round_trip_gray_and_rgb(tmp_path):
    gray = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, None], 48, axis=1).repeat(6, axis=0)
    write_sequence(tmp_path / "g.avi", FrameSequence(gray))
    reader = open_sequence(tmp_path / "g.avi")
    assert reader.frame_shape == (48, 64) and reader.metadata["gray"]
    back = reader.read()
    assert len(back) == 6 and np.abs(back.frames.astype(int) - gray).mean() < 4
    rgb = np.zeros((5, 48, 64, 3), np.uint8)
    rgb[..., 0] = 200
    write_sequence(tmp_path / "c.mp4", FrameSequence(rgb))
    back = read_sequence(tmp_path / "c.mp4")
    assert back.frames.shape == (5, 48, 64, 3) and back.frames[..., 0].mean() > 150 > back.frames[..., 2].mean()


def test_gif_reads(tmp_path):
    animation = cv2.Animation()
    animation.frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(4)]
    animation.durations = [50] * 4
    assert cv2.imwriteanimation(str(tmp_path / "a.gif"), animation)
    sequence = read_sequence(tmp_path / "a.gif")
    assert len(sequence) == 4 and sequence.frames[3].mean() > sequence.frames[1].mean()


def slicer_read(path):
    slicer = pytest.importorskip("slicer")
    if not hasattr(slicer, "vtkMRMLVolumeSequenceStorageNode"):
        pytest.skip("slicer-core is not installed")
    scene = slicer.vtkMRMLScene()
    sequence = slicer.vtkMRMLSequenceNode()
    scene.AddNode(sequence)
    storage = slicer.vtkMRMLVolumeSequenceStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(sequence) == 1
    return slicer, scene, sequence


@pytest.mark.parametrize("kind, node_class", [("labelmap", "vtkMRMLLabelMapVolumeNode"), ("image", "vtkMRMLScalarVolumeNode")])
def test_slicer_reads_what_we_write(tmp_path, kind, node_class):
    data = (frames() % 3).astype(np.uint8)
    write_sequence(tmp_path / "m.seq.nrrd", FrameSequence(data, GEOMETRY, TIMES), kind=kind)
    slicer, _, sequence = slicer_read(tmp_path / "m.seq.nrrd")
    assert sequence.GetNumberOfDataNodes() == 4
    assert [float(sequence.GetNthIndexValue(i)) for i in range(4)] == pytest.approx(TIMES.tolist())
    node = sequence.GetNthDataNode(2)
    assert node.GetClassName() == node_class
    assert node.GetSpacing() == pytest.approx((0.2, 0.3, 1.0))
    matrix = slicer.vtkMatrix4x4() if hasattr(slicer, "vtkMatrix4x4") else __import__("vtk").vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ijk_to_ras = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
    np.testing.assert_allclose(ijk_to_ras, GEOMETRY.ijk_to_ras(), atol=1e-6)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(node)[0], data[2])


def test_we_read_what_slicer_writes(tmp_path):
    slicer = pytest.importorskip("slicer")
    import vtk

    scene = slicer.vtkMRMLScene()
    sequence = slicer.vtkMRMLSequenceNode()
    scene.AddNode(sequence)
    data = frames(count=3)
    for index in range(3):
        volume = slicer.vtkMRMLScalarVolumeNode()
        image = vtk.vtkImageData()
        image.SetDimensions(20, 12, 1)
        image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        volume.SetAndObserveImageData(image)
        slicer.util.updateVolumeFromArray(volume, data[index][None])
        volume.SetSpacing(0.5, 0.25, 1.0)
        volume.SetOrigin(-3.0, 4.0, 0.0)
        sequence.SetDataNodeAtValue(volume, str(index * 0.1))
    storage = slicer.vtkMRMLVolumeSequenceStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(tmp_path / "s.seq.nrrd"))
    assert storage.WriteData(sequence) == 1
    back = read_sequence(tmp_path / "s.seq.nrrd")
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, [0.0, 0.1, 0.2])
    # Slicer volumes default to an RAS-aligned IJK-to-RAS matrix; in LPS the first two axes flip.
    np.testing.assert_allclose(back.geometry.ijk_to_ras()[:3, 3], [-3.0, 4.0, 0.0])
    np.testing.assert_allclose(back.geometry.spacing, (0.5, 0.25, 1.0))


def write_list_first_nrrd(path, data, times):
    """The layout older Slicer wrote: the list axis first (frames interleaved)."""
    count, height, width = data.shape
    header = (
        "NRRD0004\ntype: unsigned char\ndimension: 4\nspace: left-posterior-superior\n"
        f"sizes: {count} {width} {height} 1\nspace directions: none (0.2,0,0) (0,0.3,0) (0,0,1)\n"
        "kinds: list domain domain domain\nencoding: gzip\nspace origin: (10,-5,2)\n"
        "axis 0 index type:=numeric\n"
        f"axis 0 index values:={' '.join(str(t) for t in times)}\n\n"
    )
    interleaved = np.transpose(data, (1, 2, 0)).copy()  # (y, x, list): list fastest
    path.write_bytes(header.encode() + gzip.compress(interleaved.tobytes()))


def test_list_first_layout_of_older_slicer(tmp_path):
    data = frames()
    write_list_first_nrrd(tmp_path / "old.seq.nrrd", data, TIMES)
    reader = open_sequence(tmp_path / "old.seq.nrrd")
    assert reader.metadata["list_axis"] == "first"
    back = reader.read()
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, TIMES)
    assert back.geometry.isclose(GEOMETRY)


def write_plus(path, data, times, statuses=None, compressed=False, external=False):
    count, height, width = data.shape
    lines = ["ObjectType = Image", "NDims = 3", "AnatomicalOrientation = RAI", "BinaryData = True",
             "BinaryDataByteOrderMSB = False", f"CompressedData = {compressed}", f"DimSize = {width} {height} {count}",
             "ElementSpacing = 0.2 0.3 1", "ElementType = MET_UCHAR", "Offset = 10 -5 2",
             "TransformMatrix = 1 0 0 0 1 0 0 0 1", "UltrasoundImageOrientation = MF"]
    for index, time in enumerate(times):
        lines.append(f"Seq_Frame{index:04d}_Timestamp = {time}")
        lines.append(f"Seq_Frame{index:04d}_ImageStatus = {(statuses or ['OK'] * count)[index]}")
    payload = data.tobytes()
    if compressed:
        payload = zlib.compress(payload)
    if external:
        (path.parent / "frames.raw").write_bytes(payload)
        lines.append("ElementDataFile = frames.raw")
        path.write_text("\n".join(lines) + "\n")
    else:
        lines.append("ElementDataFile = LOCAL")
        path.write_bytes(("\n".join(lines) + "\n").encode() + payload)


@pytest.mark.parametrize("compressed, external", [(False, False), (True, False), (False, True)])
def test_plus_metafile_frames_times_geometry(tmp_path, compressed, external):
    data = frames()
    name = "rec.igs.mhd" if external else "rec.igs.mha"
    write_plus(tmp_path / name, data, [12.5, 12.55, 12.6, 12.65], compressed=compressed, external=external)
    back = read_sequence(tmp_path / name)
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, [12.5, 12.55, 12.6, 12.65])
    assert back.geometry.isclose(GEOMETRY)


def test_plus_metafile_skips_invalid_frames(tmp_path):
    data = frames()
    write_plus(tmp_path / "r.igs.mha", data, [0, 1, 2, 3], statuses=["OK", "INVALID", "OK", "OK"])
    back = read_sequence(tmp_path / "r.igs.mha")
    np.testing.assert_array_equal(back.frames, data[[0, 2, 3]])
    assert back.frame_times.tolist() == [0, 2, 3] and back.metadata["skipped_invalid_frames"] == 1


def write_dicom(path, data, photometric="MONOCHROME2", frame_time_ms=40.0):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, "US"
    count, rows, columns = data.shape[:3]
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, count
    ds.SamplesPerPixel = 3 if data.ndim == 4 else 1
    ds.PhotometricInterpretation = photometric
    if data.ndim == 4:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8 * data.dtype.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.FrameTime = frame_time_ms
    region = FileDataset(None, {})
    region.PhysicalDeltaX, region.PhysicalDeltaY = 0.02, 0.03  # cm
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
    ds.SequenceOfUltrasoundRegions = Sequence([region])
    ds.PixelData = data.tobytes()
    ds.save_as(str(path), enforce_file_format=True)


@pytest.mark.parametrize("dtype, channels, photometric", [(np.uint8, 1, "MONOCHROME2"), (np.uint16, 1, "MONOCHROME2"),
                                                          (np.uint8, 3, "RGB")])
def test_dicom_multiframe_ultrasound(tmp_path, dtype, channels, photometric):
    data = frames(dtype, channels)
    write_dicom(tmp_path / "cine.dcm", data, photometric)
    back = read_sequence(tmp_path / "cine.dcm")
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.geometry.spacing, (0.2, 0.3, 1.0))
    np.testing.assert_allclose(back.frame_times, [0, 0.04, 0.08, 0.12])


def test_dicom_without_extension_is_recognised(tmp_path):
    write_dicom(tmp_path / "IM0001", frames())
    assert len(read_sequence(tmp_path / "IM0001")) == 4


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
    ("bad.seq.nrrd", b"NRRD0004\ntype: banana\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n\n" + b"\0" * 8),
    ("bad.nii.gz", b"not nifti"),
    ("bad.dcm", b"\0" * 200),
    ("bad.igs.mha", b"ObjectType = Image\nDimSize = 4 4 2\nElementType = MET_UCHAR\n"),
])
def test_corrupt_files_give_one_clear_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SequenceReadError) as error:
        read_sequence(tmp_path / name)
    assert name in str(error.value) and "Fix:" in str(error.value)


def test_truncated_sequence_is_an_error_not_a_partial_result(tmp_path):
    write_sequence(tmp_path / "t.seq.nrrd", FrameSequence(frames(count=20)))
    content = (tmp_path / "t.seq.nrrd").read_bytes()
    (tmp_path / "t.seq.nrrd").write_bytes(content[: len(content) // 2])
    with pytest.raises(SequenceReadError, match="t.seq.nrrd"):
        read_sequence(tmp_path / "t.seq.nrrd")


def test_folder_with_frames_of_different_sizes_names_the_odd_one(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    cv2.imwrite(str(folder / "a1.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(folder / "a2.png"), np.zeros((5, 4), np.uint8))
    with pytest.raises(SequenceReadError, match="a2.png"):
        read_sequence(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SequenceReadError, match="no images"):
        open_sequence(empty)


def test_writers_never_overwrite_and_leave_nothing_on_failure(tmp_path):
    target = tmp_path / "out.seq.nrrd"
    write_sequence(target, FrameSequence(frames()))
    before = target.read_bytes()
    with pytest.raises(SequenceWriteError, match="already exists"):
        write_sequence(target, FrameSequence(frames(seed=1)))
    with pytest.raises(KeyboardInterrupt):
        with open_writer(target, overwrite=True) as writer:
            writer.write(frames()[0])
            raise KeyboardInterrupt
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.seq.nrrd"]
    with pytest.raises(SequenceWriteError, match="earlier frames"):
        with open_writer(tmp_path / "mixed.seq.nrrd") as writer:
            writer.write(np.zeros((4, 4), np.uint8))
            writer.write(np.zeros((4, 5), np.uint8))
    assert not (tmp_path / "mixed.seq.nrrd").exists()
    with pytest.raises(SequenceWriteError, match="unknown output format"):
        open_writer(tmp_path / "x.jpeg2")
    with pytest.raises(SequenceWriteError, match="integer"):
        with open_writer(tmp_path / "l.seq.nrrd", kind="labelmap") as writer:
            writer.write(np.zeros((4, 4), np.float32))


def test_long_recordings_stream_with_bounded_memory(tmp_path):
    count, height, width = 3000, 64, 96  # 18 MB of frames
    path = tmp_path / "long.seq.nrrd"
    with open_writer(path, frame_rate=30.0) as writer:
        frame = np.zeros((height, width), np.uint8)
        for index in range(count):
            frame[:, index % width] = index % 251
            writer.write(frame)
    tracemalloc.start()
    seen = 0
    with open_sequence(path) as reader:
        assert len(reader) == count
        for frame in reader:
            seen += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen == count
    assert peak < 2_000_000, f"peak {peak} bytes while streaming {count * height * width} bytes"
