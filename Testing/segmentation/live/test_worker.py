"""LiveWorker: always the newest frame, bounded statistics, errors that surface, clean stop."""

import threading
import time

import numpy as np
import pytest
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.live.worker import LiveWorker, LiveWorkerError
from DTCSegmentationLib.networks.model_file import ModelInfo

WAIT = 10.0  # upper bound of every wait; a healthy run needs a small fraction of it


def brightness_segmenter():
    """A real Segmenter whose stand-in network calls bright pixels prostate."""
    info = ModelInfo(arguments={"features": [8, 8, 16, 16]}, input_size=(32, 48))
    return Segmenter(lambda batch: 5.0 * batch[:, :1], info, largest_component=False, fill_holes=False)


class GatedSegmenter:
    """Records which frames it segmented; the first frame waits until the test opens the gate."""

    def __init__(self, delays=()):
        self.inner = brightness_segmenter()
        self.started = threading.Event()
        self.gate = threading.Event()
        self.seen = []
        self.delays = list(delays)

    def segment_frame(self, frame):
        self.seen.append(int(frame[0, 0]))
        self.started.set()
        if not self.gate.wait(WAIT):
            raise TimeoutError("the test never opened the gate")
        if self.delays:
            time.sleep(self.delays.pop(0))
        return self.inner.segment_frame(frame)


def numbered_frame(number):
    """A 40 x 60 frame whose top-left pixel carries its number and whose centre is bright."""
    frame = np.zeros((40, 60), np.uint8)
    frame[10:30, 20:40] = 255
    frame[0, 0] = number
    return frame


def test_result_reaches_the_callback_and_poll_with_its_context():
    delivered = []
    with LiveWorker(brightness_segmenter(), on_result=delivered.append) as worker:
        assert worker.poll() is None
        worker.submit(numbered_frame(7), context={"time": 12.5})
        result = worker.poll(timeout=WAIT)
    assert result is not None and result.context == {"time": 12.5} and result.sequence == 0
    assert result.mask.shape == (40, 60) and result.mask.dtype == np.uint8
    assert result.mask[15:25, 25:35].all() and not result.mask[:, :15].any()
    assert result.probability.dtype == np.float32 and result.probability[20, 30] > 0.9
    assert delivered == [result] and result.latency > 0
    stats = worker.stats()
    assert (stats.received, stats.segmented, stats.dropped) == (1, 1, 0)


def test_a_slow_model_drops_waiting_frames_and_segments_the_newest():
    segmenter = GatedSegmenter()
    with LiveWorker(segmenter) as worker:
        worker.submit(numbered_frame(0))
        assert segmenter.started.wait(WAIT)  # frame 0 is being segmented ...
        for number in range(1, 20):  # ... while 19 more arrive: each replaces the one waiting
            worker.submit(numbered_frame(number))
        stats = worker.stats()
        assert (stats.received, stats.segmented, stats.dropped) == (20, 0, 18)
        segmenter.gate.set()
        results = []
        deadline = time.monotonic() + WAIT
        while not (results and results[-1].sequence == 19) and time.monotonic() < deadline:
            result = worker.poll(timeout=0.1)
            if result is not None:
                results.append(result)
        assert worker.poll(timeout=0.2) is None
    assert segmenter.seen == [0, 19]
    # poll() returns the newest result: frame 0's result may have been overtaken by frame 19's.
    assert results[-1].sequence == 19 and results[-1].context is None
    stats = worker.stats()
    assert (stats.received, stats.segmented, stats.dropped) == (20, 2, 18)


def test_latency_percentiles_cover_only_the_most_recent_frames():
    segmenter = GatedSegmenter(delays=[0.0] * 5 + [0.08] * 5)
    segmenter.gate.set()
    with LiveWorker(segmenter, latency_window=5) as worker:
        for number in range(10):
            worker.submit(numbered_frame(number))
            assert worker.poll(timeout=WAIT) is not None
        stats = worker.stats()
    assert stats.segmented == 10 and stats.dropped == 0
    # Only the five slow frames (>= 80 ms each) are left in the window.
    assert 80.0 <= stats.latency_p50_ms <= stats.latency_p99_ms
    assert stats.frames_per_second > 0
    assert set(stats.as_dict()) == {"received", "segmented", "dropped", "frames_per_second",
                                    "latency_p50_ms", "latency_p99_ms"}


class BrokenModel:
    def segment_frame(self, frame):
        raise ValueError("weights are NaN")


def test_a_model_error_surfaces_instead_of_hanging():
    worker = LiveWorker(BrokenModel()).start()
    worker.submit(numbered_frame(1))
    with pytest.raises(LiveWorkerError, match="weights are NaN") as caught:
        worker.poll(timeout=WAIT)
    assert isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(LiveWorkerError):
        worker.submit(numbered_frame(2))
    assert worker.stop(timeout=WAIT)


def test_a_failing_result_callback_surfaces_too():
    def callback(result):
        raise OSError("display gone")

    worker = LiveWorker(brightness_segmenter(), on_result=callback).start()
    worker.submit(numbered_frame(1))
    deadline = time.monotonic() + WAIT
    with pytest.raises(LiveWorkerError, match="display gone"):
        while time.monotonic() < deadline:
            worker.check()
            time.sleep(0.01)
    worker.stop(timeout=WAIT)


def test_stop_finishes_the_running_frame_drops_the_waiting_one_and_joins():
    segmenter = GatedSegmenter()
    worker = LiveWorker(segmenter).start()
    worker.submit(numbered_frame(0))
    assert segmenter.started.wait(WAIT)
    worker.submit(numbered_frame(1))
    ended = []
    stopper = threading.Thread(target=lambda: ended.append(worker.stop()))
    stopper.start()
    deadline = time.monotonic() + WAIT
    while worker.stats().dropped == 0 and time.monotonic() < deadline:  # stop() has discarded frame 1
        time.sleep(0.005)
    segmenter.gate.set()
    stopper.join(WAIT)
    assert ended == [True]
    assert segmenter.seen == [0]
    stats = worker.stats()
    assert (stats.received, stats.segmented, stats.dropped) == (2, 1, 1)
    with pytest.raises(RuntimeError, match="stopped"):
        worker.submit(numbered_frame(2))
