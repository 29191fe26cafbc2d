"""Live inference in a child process (the Slicer panel's live mode): the `dtc live` bridge on loopback."""

import subprocess
import sys
import time

import numpy as np
import pytest
from DTCSegmentationLib.live.bridge_worker import FRAME_DEVICE, BridgeWorker, frame_message
from DTCSegmentationLib.live.worker import LiveWorkerError
from pyigtl import ImageMessage
from samples import process_running, recording, tiny_segmenter


@pytest.fixture(scope="module")
def frames():
    return recording(5)


@pytest.fixture(scope="module")
def model(frames, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    segmenter = tiny_segmenter(folder, frames)
    return folder / "tiny0.safetensors", segmenter


def test_frame_message_is_pyigtls_image_without_the_crc(frames):
    frame = frames.frames[2]
    ours = frame_message(frame, 7)
    reference = ImageMessage(frame[None], timestamp=7.0, device_name=FRAME_DEVICE).pack()
    assert len(ours) == len(reference)
    assert ours[:50] == reference[:50] and ours[58:] == reference[58:]  # bytes 50-57: the CRC-64 field
    assert ours[50:58] == bytes(8)
    rgb = np.stack([frame, frame // 2, frame // 3], axis=-1)
    assert frame_message(rgb, 1)[58:] == ImageMessage(rgb[None], timestamp=1.0, device_name=FRAME_DEVICE).pack()[58:]


@pytest.mark.slow
def test_masks_from_the_child_process_are_the_segmenters(frames, model):
    path, segmenter = model
    worker = BridgeWorker(path, device="cpu", backend="eager", threshold=segmenter.threshold).start()
    try:
        assert worker._process.poll() is None
        for index, frame in enumerate(frames.frames):
            worker.submit(frame, context=("frame", index))
            result = worker.poll(timeout=30)
            assert result is not None and result.context == ("frame", index) and result.sequence == index
            np.testing.assert_array_equal(result.mask, segmenter.segment_frame(frame).mask)
            assert result.probability is None and 0 < result.latency < 30
        assert worker.poll() is None
        stats = worker.stats()
        assert (stats.received, stats.segmented, stats.dropped) == (5, 5, 0)
        assert 0 < stats.latency_p50_ms <= stats.latency_p99_ms
    finally:
        worker.stop()
    assert worker._process.returncode == 0  # closing its standard input ends it cleanly


@pytest.mark.slow
def test_a_child_that_cannot_start_says_why(tmp_path):
    with pytest.raises(LiveWorkerError, match="does not exist"):
        BridgeWorker(tmp_path / "missing.safetensors", device="cpu").start()


PARENT = """
import os, sys
from DTCSegmentationLib.live.bridge_worker import BridgeWorker
worker = BridgeWorker(sys.argv[1], device="cpu", backend="eager").start()
print(worker._process.pid, flush=True)
os._exit(0)  # as if Slicer crashed: no stop()
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_child_ends_when_its_parent_does(model):
    parent = subprocess.run([sys.executable, "-c", PARENT, str(model[0])], capture_output=True, text=True, timeout=120)
    assert parent.returncode == 0, parent.stderr[-2000:]
    child = int(parent.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process_running(child):
        time.sleep(0.1)
    assert not process_running(child)



def test_a_float_frame_goes_as_the_uint8_image_the_segmenter_would_make(frames):
    from DTCSegmentationLib.inference.preprocessing import to_uint8

    frame = frames.frames[0].astype(np.float32) * 0.9
    assert frame_message(frame, 3) == frame_message(to_uint8(frame), 3)
    reference = ImageMessage(to_uint8(frame)[None], timestamp=3.0, device_name=FRAME_DEVICE).pack()
    assert frame_message(frame, 3)[58:] == reference[58:]
