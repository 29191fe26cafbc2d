"""Live mode on a real MRML image node that is updated in a loop, as OpenIGTLink updates it in Slicer."""

import time

import numpy as np
import pytest
from samples import recording, require_mrml, tiny_segmenter

slicer = require_mrml()

from DTCSegmentationLib.errors import DTCError  # noqa: E402
from DTCSegmentationLib.mrml import LiveSegmentation, new_scene  # noqa: E402
from DTCSegmentationLib.mrml.scene import ijk_to_ras  # noqa: E402


@pytest.fixture(scope="module")
def frames():
    return recording(6)


@pytest.fixture(scope="module")
def segmenter(frames, tmp_path_factory):
    return tiny_segmenter(tmp_path_factory.mktemp("model"), frames)


def send(node, frame, matrix):
    """What an OpenIGTLink image message does to the node: new voxels and geometry, ImageDataModifiedEvent."""
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(matrix))
    slicer.util.updateVolumeFromArray(node, frame[None])


def wait_for_mask(live, timeout=10.0):
    deadline = time.perf_counter() + timeout
    while not live.poll():
        assert time.perf_counter() < deadline, "no live result"
        time.sleep(0.002)


def test_each_new_frame_updates_the_mask_with_the_frames_geometry(frames, segmenter):
    scene = new_scene()
    image = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    with LiveSegmentation(scene, image, segmenter) as live:
        for index in (0, 3, 5):
            matrix = frames.geometry.ijk_to_ras()
            matrix[:3, 3] += index  # the probe moves: every frame has its own origin
            send(image, frames.frames[index], matrix)
            wait_for_mask(live)
            np.testing.assert_array_equal(slicer.util.arrayFromVolume(live.mask_node)[0],
                                          segmenter.segment_frame(frames.frames[index]).mask)
            np.testing.assert_allclose(ijk_to_ras(live.mask_node), matrix, atol=1e-9)
        assert not live.poll()  # nothing new since the last frame
        stats = live.stats()
    assert not live.running
    assert (stats["received"], stats["segmented"], stats["dropped"], stats["shown"]) == (3, 3, 0, 3)
    assert stats["frames_per_second"] > 0 and 0 < stats["latency_p50_ms"] <= stats["latency_p99_ms"]
    assert live.mask_node.GetDisplayNode() is not None and live.mask_node.GetAttribute("DTC.Role") == "live mask"
    send(image, frames.frames[1], frames.geometry.ijk_to_ras())  # stopped: no longer watched
    assert live.stats()["received"] == 3


def test_a_stream_faster_than_the_model_drops_frames_and_ends_on_the_newest(frames, segmenter):
    scene = new_scene()
    image = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    mask = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "live mask")
    with LiveSegmentation(scene, image, segmenter, mask) as live:
        for step in range(60):  # back to back, far faster than inference
            send(image, frames.frames[step % 6], frames.geometry.ijk_to_ras())
            live.poll()
        deadline = time.perf_counter() + 10.0
        while live.stats()["segmented"] + live.stats()["dropped"] < 60:
            assert time.perf_counter() < deadline
            time.sleep(0.002)
        live.poll()
        stats = live.stats()
    assert stats["received"] == 60 and stats["dropped"] > 0 and stats["segmented"] + stats["dropped"] == 60
    # the last frame sent is never dropped: the mask shows it
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(mask)[0], segmenter.segment_frame(frames.frames[59 % 6]).mask)


def test_an_image_already_holding_a_frame_is_segmented_at_start(frames, segmenter):
    scene = new_scene()
    image = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    send(image, frames.frames[2], frames.geometry.ijk_to_ras())
    with LiveSegmentation(scene, image, segmenter) as live:
        wait_for_mask(live)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(live.mask_node)[0],
                                      segmenter.segment_frame(frames.frames[2]).mask)


def test_live_mode_needs_an_image_node(frames, segmenter):
    scene = new_scene()
    with pytest.raises(DTCError, match="image volume"):
        LiveSegmentation(scene, scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode"), segmenter)
