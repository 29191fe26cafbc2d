"""Live statistics on a fake clock: frames per second over the right span, latency percentiles in milliseconds."""

from types import SimpleNamespace

import numpy as np
import pytest
from DTCSegmentationLib.live import worker as worker_module
from DTCSegmentationLib.live.worker import LiveWorker


class Clock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


class ScheduledSegmenter:
    """Finishes each frame at the next scheduled time of the fake clock."""

    def __init__(self, clock, finishes):
        self.clock, self.finishes = clock, list(finishes)

    def segment_frame(self, frame):
        self.clock.now = self.finishes.pop(0)
        return SimpleNamespace(mask=np.zeros((2, 2), np.uint8), probability=np.zeros((2, 2), np.float32))


def test_rate_counts_the_window_or_the_time_since_start_whichever_is_shorter(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(worker_module, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    submits, finishes = [0.9, 1.8, 2.7, 5.5, 6.5, 7.5, 8.5], [1.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0]
    worker = LiveWorker(ScheduledSegmenter(clock, finishes), rate_window=5.0).start()  # started at t = 0
    try:
        for index, submitted in enumerate(submits):
            clock.now = submitted
            worker.submit(np.zeros((2, 2), np.uint8))
            assert worker.poll(timeout=10.0) is not None
            if index == 2:
                clock.now = 4.0
                early = worker.stats()
        clock.now = 10.0
        late = worker.stats()
    finally:
        worker.stop(timeout=10.0)
    # At t = 4: 3 frames in the 4 s since start (the 5 s window is not full yet).
    assert early.frames_per_second == pytest.approx(3 / 4)
    assert early.latency_p50_ms == pytest.approx(200.0) and early.latency_p99_ms == pytest.approx(298.0)
    # At t = 10: the frames finished at 6, 7, 8 and 9 s are in the last 5 s.
    assert late.frames_per_second == pytest.approx(4 / 5)
    assert (late.received, late.segmented, late.dropped) == (7, 7, 0)
