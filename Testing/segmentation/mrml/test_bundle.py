"""The MRML adapter on Slicer's own MRML (slicer-core wheel): sequences, browser, scene bundles."""

import numpy as np
import pytest
from DTCSegmentationLib.simulation import SimulationConfig, simulate

slicer = pytest.importorskip("slicer")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("slicer-core is not installed", allow_module_level=True)

from DTCSegmentationLib.mrml import (  # noqa: E402
    add_sequence_browser,
    add_volume_sequence,
    bundle_recording,
    new_scene,
    read_scene_bundle,
)


@pytest.fixture(scope="module")
def recording():
    return simulate(SimulationConfig(num_frames=4, height=64, width=96, seed=1))


def test_sequences_keep_frames_geometry_and_times(recording):
    scene = new_scene()
    node = add_volume_sequence(scene, recording.masks, "masks", "labelmap")
    assert node.GetNumberOfDataNodes() == 4
    assert float(node.GetNthIndexValue(2)) == pytest.approx(recording.masks.frame_times[2])
    volume = node.GetNthDataNode(1)
    assert volume.GetClassName() == "vtkMRMLLabelMapVolumeNode"
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume)[0], recording.masks.frames[1])
    matrix = slicer.vtkMatrix4x4() if hasattr(slicer, "vtkMatrix4x4") else __import__("vtk").vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    got = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
    np.testing.assert_allclose(got, recording.masks.geometry.ijk_to_ras(), atol=1e-6)


def test_browser_keeps_proxies_in_sync(recording):
    scene = new_scene()
    frames = add_volume_sequence(scene, recording.images, "frames")
    masks = add_volume_sequence(scene, recording.masks, "masks", "labelmap")
    browser = add_sequence_browser(scene, [frames, masks])
    browser.SetSelectedItemNumber(3)
    proxy = browser.GetProxyNode(masks)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(proxy)[0], recording.masks.frames[3])
    browser.SetSelectedItemNumber(1)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(browser.GetProxyNode(frames))[0], recording.images.frames[1])


def test_scene_bundle_reloads_with_browser_and_sequences(recording, tmp_path):
    path = bundle_recording(tmp_path / "demo.mrb", recording.images, [recording.masks], ["masks"])
    assert [p.name for p in tmp_path.iterdir()] == ["demo.mrb"]
    scene = read_scene_bundle(path)
    browser = scene.GetFirstNodeByClass("vtkMRMLSequenceBrowserNode")
    assert browser is not None and browser.GetNumberOfSynchronizedSequenceNodes() == 1
    sequences = {scene.GetNthNodeByClass(i, "vtkMRMLSequenceNode").GetName(): scene.GetNthNodeByClass(i, "vtkMRMLSequenceNode")
                 for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSequenceNode"))}
    assert sequences["frames"].GetNumberOfDataNodes() == 4 and sequences["masks"].GetNumberOfDataNodes() == 4
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(sequences["masks"].GetNthDataNode(2))[0],
                                  recording.masks.frames[2])
    with pytest.raises(Exception, match="already exists"):
        bundle_recording(path, recording.images, [recording.masks], ["masks"])


def test_rgb_frames_become_vector_volumes_and_index_units_become_seconds(recording):
    from DTCSegmentationLib.mrml import frame_source
    from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence

    rgb = np.stack([recording.images.frames, recording.images.frames // 2, 255 - recording.images.frames], axis=-1)
    scene = new_scene()
    node = add_volume_sequence(scene, FrameSequence(rgb, recording.images.geometry, [0.0, 0.04, 0.08, 0.12]), "rgb")
    assert node.GetDataNodeClassName() == "vtkMRMLVectorVolumeNode"
    source = frame_source(scene, node)
    np.testing.assert_array_equal(source[2], rgb[2])
    np.testing.assert_allclose(source.times(), [0.0, 0.04, 0.08, 0.12])
    node.SetIndexUnit("ms")
    for old, new in [(node.GetNthIndexValue(index), str(40 * index)) for index in range(4)]:
        node.UpdateIndexValue(old, new)
    np.testing.assert_allclose(source.times(), [0.0, 0.04, 0.08, 0.12])
    assert source.time_label() == "time (s)"
