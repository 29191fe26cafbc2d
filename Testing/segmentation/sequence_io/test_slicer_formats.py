""".seq.nrrd against Slicer's own storage node (slicer-core wheel), and the NRRD layouts Slicer has written.

Slicer reads what we write (frame count, index values, spacing, IJK-to-RAS, pixel values,
node class: labelmap / scalar / RGB vector); we read what Slicer writes (gzip and raw),
the list-first layout of older Slicer, and the legacy "vector as list" layout.
"""

import gzip

import numpy as np
import pytest
from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io import open_sequence, read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from samples import SEQUENCE_GEOMETRY as GEOMETRY
from samples import frames

TIMES = np.array([0.0, 0.05, 0.1, 0.15])


@pytest.fixture
def slicer():
    module = pytest.importorskip("slicer")
    if not hasattr(module, "vtkMRMLVolumeSequenceStorageNode"):
        pytest.skip("slicer-core is not installed")
    return module


def slicer_read(slicer, path):
    """The sequence node Slicer's volume sequence storage node makes of ``path``."""
    scene = slicer.vtkMRMLScene()
    sequence = slicer.vtkMRMLSequenceNode()
    scene.AddNode(sequence)
    storage = slicer.vtkMRMLVolumeSequenceStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(sequence) == 1
    return sequence


def slicer_frames(slicer, sequence) -> np.ndarray:
    return np.stack([slicer.util.arrayFromVolume(sequence.GetNthDataNode(i))[0]
                     for i in range(sequence.GetNumberOfDataNodes())])


def ijk_to_ras(slicer, node) -> np.ndarray:
    matrix = slicer.vtkMatrix4x4() if hasattr(slicer, "vtkMatrix4x4") else __import__("vtk").vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


@pytest.mark.parametrize("kind, dtype, node_class", [
    ("labelmap", np.uint8, "vtkMRMLLabelMapVolumeNode"),
    ("image", np.uint8, "vtkMRMLScalarVolumeNode"),
    ("image", np.uint16, "vtkMRMLScalarVolumeNode"),
])
def test_slicer_reads_what_we_write(tmp_path, slicer, kind, dtype, node_class):
    data = (frames(dtype) % 3).astype(dtype) if kind == "labelmap" else frames(dtype)
    write_sequence(tmp_path / "m.seq.nrrd", FrameSequence(data, GEOMETRY, TIMES), kind=kind)
    sequence = slicer_read(slicer, tmp_path / "m.seq.nrrd")
    assert sequence.GetNumberOfDataNodes() == 4
    assert [float(sequence.GetNthIndexValue(i)) for i in range(4)] == pytest.approx(TIMES.tolist())
    assert (sequence.GetIndexName(), sequence.GetIndexUnit()) == ("time", "s")
    node = sequence.GetNthDataNode(2)
    assert node.GetClassName() == node_class
    assert node.GetSpacing() == pytest.approx((0.2, 0.3, 1.0))
    np.testing.assert_allclose(ijk_to_ras(slicer, node), GEOMETRY.ijk_to_ras(), atol=1e-6)
    np.testing.assert_array_equal(slicer_frames(slicer, sequence), data)


def test_slicer_reads_our_rgb_frames_as_colour(tmp_path, slicer):
    data = frames(channels=3)
    write_sequence(tmp_path / "c.seq.nrrd", FrameSequence(data, GEOMETRY, TIMES))
    sequence = slicer_read(slicer, tmp_path / "c.seq.nrrd")
    node = sequence.GetNthDataNode(1)
    assert node.GetClassName() == "vtkMRMLVectorVolumeNode"
    assert node.GetVoxelVectorType() == node.VoxelVectorTypeColorRGB
    assert [float(sequence.GetNthIndexValue(i)) for i in range(4)] == pytest.approx(TIMES.tolist())
    np.testing.assert_allclose(ijk_to_ras(slicer, node), GEOMETRY.ijk_to_ras(), atol=1e-6)
    np.testing.assert_array_equal(slicer_frames(slicer, sequence), data)


def slicer_write(slicer, path, data, node_class="vtkMRMLScalarVolumeNode", compress=True):
    """Write ``data`` (T, H, W[, 3]) with Slicer's own storage node, spacing (0.5, 0.25, 1), origin RAS (-3, 4, 0)."""
    import vtk

    scene = slicer.vtkMRMLScene()
    sequence = slicer.vtkMRMLSequenceNode()
    scene.AddNode(sequence)
    for index, frame in enumerate(data):
        volume = getattr(slicer, node_class)()
        image = vtk.vtkImageData()
        image.SetDimensions(frame.shape[1], frame.shape[0], 1)
        image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR if frame.dtype == np.uint8 else vtk.VTK_UNSIGNED_SHORT,
                              frame.shape[2] if frame.ndim == 3 else 1)
        volume.SetAndObserveImageData(image)
        if frame.ndim == 3:
            volume.SetVoxelVectorType(volume.VoxelVectorTypeColorRGB)
        slicer.util.updateVolumeFromArray(volume, frame[None])
        volume.SetSpacing(0.5, 0.25, 1.0)
        volume.SetOrigin(-3.0, 4.0, 0.0)
        sequence.SetDataNodeAtValue(volume, str(index * 0.1))
    storage = slicer.vtkMRMLVolumeSequenceStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    storage.SetUseCompression(int(compress))
    assert storage.WriteData(sequence) == 1


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype, channels, node_class", [
    (np.uint8, 1, "vtkMRMLScalarVolumeNode"),
    (np.uint16, 1, "vtkMRMLScalarVolumeNode"),
    (np.uint8, 1, "vtkMRMLLabelMapVolumeNode"),
    (np.uint8, 3, "vtkMRMLVectorVolumeNode"),
])
def test_we_read_what_slicer_writes(tmp_path, slicer, compress, dtype, channels, node_class):
    data = frames(dtype, channels, count=3)
    slicer_write(slicer, tmp_path / "s.seq.nrrd", data, node_class, compress)
    with open_sequence(tmp_path / "s.seq.nrrd") as reader:
        assert reader.metadata["list_axis"] == "last" and reader.metadata["data_node_class"] == node_class
        assert reader.frame_shape == data.shape[1:] and reader.dtype == dtype
        back = reader.read()
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, [0.0, 0.1, 0.2])
    # Slicer volumes default to an RAS-aligned IJK-to-RAS matrix; in LPS the first two axes flip.
    np.testing.assert_allclose(back.geometry.ijk_to_ras()[:3, 3], [-3.0, 4.0, 0.0])
    np.testing.assert_allclose(back.geometry.spacing, (0.5, 0.25, 1.0))


def write_list_first_nrrd(path, data, times, kind="list"):
    """The layout older Slicer wrote: the list axis first (frames interleaved)."""
    count, height, width = data.shape
    header = (
        "NRRD0004\ntype: unsigned char\ndimension: 4\nspace: left-posterior-superior\n"
        f"sizes: {count} {width} {height} 1\nspace directions: none (0.2,0,0) (0,0.3,0) (0,0,1)\n"
        f"kinds: {kind} domain domain domain\nencoding: gzip\nspace origin: (10,-5,2)\n"
        "axis 0 index type:=numeric\n"
        f"axis 0 index values:={' '.join(str(t) for t in times)}\n\n"
    )
    interleaved = np.transpose(data, (1, 2, 0)).copy()  # (y, x, list): list fastest
    path.write_bytes(header.encode() + gzip.compress(interleaved.tobytes()))


@pytest.mark.parametrize("kind", ["list", "vector"])
def test_list_first_layouts_of_older_slicer(tmp_path, kind):
    data = frames()
    write_list_first_nrrd(tmp_path / "old.seq.nrrd", data, TIMES, kind)
    reader = open_sequence(tmp_path / "old.seq.nrrd")
    assert reader.metadata["list_axis"] == "first" and reader.frame_shape == (12, 20)
    back = reader.read()
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, TIMES)
    assert back.geometry.isclose(GEOMETRY)


@pytest.mark.parametrize("kind", ["list", "vector"])
def test_slicer_agrees_on_the_older_layouts(tmp_path, slicer, kind):
    data = frames()
    write_list_first_nrrd(tmp_path / "old.seq.nrrd", data, TIMES, kind)
    sequence = slicer_read(slicer, tmp_path / "old.seq.nrrd")
    np.testing.assert_array_equal(slicer_frames(slicer, sequence), read_sequence(tmp_path / "old.seq.nrrd").frames)


def test_detached_header_and_raw_big_endian_data(tmp_path):
    data = frames(np.uint16)
    (tmp_path / "frames.raw").write_bytes(data.astype(">u2").tobytes())
    (tmp_path / "rec.nhdr").write_text(
        "NRRD0004\ntype: unsigned short\ndimension: 3\nspace: left-posterior-superior\n"
        "sizes: 20 12 4\nspace directions: (0.2,0,0) (0,0.3,0) none\nkinds: domain domain list\n"
        "endian: big\nencoding: raw\nspace origin: (10,-5,2)\ndata file: frames.raw\n\n")
    back = read_sequence(tmp_path / "rec.nhdr")
    np.testing.assert_array_equal(back.frames, data)
    assert back.geometry.isclose(FrameGeometry((0.2, 0.3, 1.0), (10.0, -5.0, 2.0)))
    (tmp_path / "frames.raw").unlink()
    with pytest.raises(SequenceReadError, match=r"rec\.nhdr.*frames\.raw.*missing"):
        open_sequence(tmp_path / "rec.nhdr")


def test_plain_nrrd_volume_is_read_slice_by_slice(tmp_path):
    import nrrd

    data = frames(count=5)
    # pynrrd writes Fortran order by default: (x, y, z) with z the slowest axis.
    nrrd.write(str(tmp_path / "vol.nrrd"), np.transpose(data, (2, 1, 0)), {"spacings": [0.2, 0.3, 1.0]})
    back = read_sequence(tmp_path / "vol.nrrd")
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, np.arange(5))
