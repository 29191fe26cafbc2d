"""The DTC Segmentation panel's own code (DTCSegmentation.py) on a real headless scene, with stand-ins
for Qt and the application (``slicer_stand_ins``)."""

import threading
import time

import numpy as np
import pytest
from samples import recording, require_mrml, tiny_segmenter

slicer = require_mrml()
stand_ins = pytest.importorskip("slicer_stand_ins")

from DTCSegmentationLib.mrml import new_scene  # noqa: E402


@pytest.fixture
def panel():
    """The module's widget with every widget of its .ui file, its logic and parameter node, on a new scene."""
    with stand_ins.installed(scene=new_scene()):
        module = stand_ins.load_module("DTCSegmentation")
        widget = module.DTCSegmentationWidget()
        widget.setup()
        yield widget
        widget.cleanup()


@pytest.mark.slow
def test_live_mode_runs_the_model_in_a_child_process_not_on_a_thread_of_slicer(panel, tmp_path):
    frames = recording(3)
    segmenter = tiny_segmenter(tmp_path, frames)
    image = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    slicer.util.updateVolumeFromArray(image, frames.frames[0][None])
    parameters = panel._parameterNode
    parameters.liveImage, parameters.modelPath = image, tmp_path / "tiny0.safetensors"
    parameters.device, parameters.backend = "cpu", "eager"
    parameters.useModelThreshold, parameters.threshold = False, segmenter.threshold
    threads_before = {thread.ident for thread in threading.enumerate()}
    panel.ui.liveButton.checked = True
    panel.onLiveToggled(True)
    live = panel.logic.live
    assert live is not None and panel.ui.liveButton.text == "Stop live"
    new_threads = [thread.name for thread in threading.enumerate() if thread.ident not in threads_before]
    assert not any("inference" in name for name in new_threads), new_threads  # Slicer would starve it of the GIL
    child = live.worker._process
    assert child.poll() is None
    for frame in frames.frames[1:]:
        slicer.util.updateVolumeFromArray(image, frame[None])
        deadline = time.monotonic() + 30
        while live.shown == 0 or live.latest.sequence < live.worker.stats().received - 1:
            assert time.monotonic() < deadline, live.stats()
            panel.onLiveTimer()  # the panel's 10 ms timer
            time.sleep(0.005)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(live.mask_node)[0], segmenter.segment_frame(frame).mask)
    panel.ui.liveButton.checked = False
    panel.onLiveToggled(False)
    assert panel.logic.live is None and child.poll() is not None
