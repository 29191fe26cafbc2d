"""Live segmentation: one inference thread that always works on the newest frame.

A producer (a network bridge, a GUI timer) calls :meth:`LiveWorker.submit` for every frame
as it arrives; it never blocks.  The worker thread segments the newest frame and hands the
result to an optional callback (run on the worker thread) and to a one-slot result box that
a GUI main loop reads with :meth:`LiveWorker.poll`.  A frame that arrives while the previous
one is still waiting (not yet started) replaces it and is counted as dropped, so when
inference is slower than the stream the output stays current and nothing queues up.

Example::

    with LiveWorker(Segmenter.from_file("model.safetensors", backend="onnx")) as worker:
        worker.submit(frame, context=frame_time)
        result = worker.poll(timeout=1.0)   # LiveResult or None
        worker.stats().as_dict()
"""

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import numpy as np


class LiveWorkerError(RuntimeError):
    """The segmenter (or the result callback) raised on the worker thread; the cause is chained."""


@dataclass
class LiveResult:
    """One segmented frame.

    Attributes:
        context: whatever was passed to :meth:`LiveWorker.submit` with the frame.
        mask: ``(H, W)`` uint8 in {0, 1}, on the frame's pixel grid.
        probability: ``(H, W)`` float32 in [0, 1].
        latency: seconds from :meth:`LiveWorker.submit` to the result being ready.
        sequence: 0-based index of the frame among all frames submitted.
        submitted: ``time.perf_counter()`` when the frame was submitted (so a consumer can add its own delay).
    """

    context: Any
    mask: np.ndarray
    probability: np.ndarray
    latency: float
    sequence: int
    submitted: float = 0.0


@dataclass
class LiveStats:
    """Counters since :meth:`LiveWorker.start`.

    ``received = segmented + dropped`` (+ 1 while a frame waits or is being segmented).
    ``frames_per_second`` counts segmented frames over the last ``rate_window`` seconds;
    latencies (ms, submit to result) cover the last ``latency_window`` frames, None before the first.
    """

    received: int
    segmented: int
    dropped: int
    frames_per_second: float
    latency_p50_ms: Optional[float]
    latency_p99_ms: Optional[float]

    def as_dict(self) -> dict:
        return asdict(self)


class LiveWorker:
    """Segments the newest submitted frame on one background thread.

    Args:
        segmenter: an object with ``segment_frame(frame) -> result`` where ``result`` has
            ``mask`` and ``probability`` (a :class:`~DTCSegmentationLib.inference.segmenter.Segmenter`).
        on_result: called with each :class:`LiveResult` on the worker thread; keep it short
            (hand the result over, do not do network or GUI work that can block).
        latency_window: how many recent latencies the percentiles cover (bounded memory).
        rate_window: seconds over which ``frames_per_second`` is measured.

    If the segmenter or ``on_result`` raises, the thread stops and the next :meth:`submit`,
    :meth:`poll` or :meth:`check` raises :class:`LiveWorkerError` from the original error.
    """

    def __init__(self, segmenter, on_result: Optional[Callable[[LiveResult], None]] = None,
                 latency_window: int = 1000, rate_window: float = 5.0):
        self.segmenter = segmenter
        self.on_result = on_result
        self.rate_window = float(rate_window)
        self._condition = threading.Condition()
        self._pending = None  # (frame, context, submit time, sequence) not yet started
        self._latest: Optional[LiveResult] = None
        self._latencies = deque(maxlen=max(1, int(latency_window)))
        self._finish_times = deque()
        self._received = self._segmented = self._dropped = 0
        self._started_at: Optional[float] = None
        self._stopping = False
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="dtc-live-inference", daemon=True)

    def start(self) -> "LiveWorker":
        """Start the inference thread (once)."""
        with self._condition:
            if self._started_at is None:
                self._started_at = time.perf_counter()
                self._thread.start()
        return self

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stop after the frame being segmented (a waiting frame counts as dropped); True if the thread ended."""
        with self._condition:
            self._stopping = True
            if self._pending is not None:
                self._pending = None
                self._dropped += 1
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> "LiveWorker":
        return self.start()

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.stop()
        if exc_type is None:
            self.check()

    def check(self) -> None:
        """Raise :class:`LiveWorkerError` if the worker thread failed."""
        if self._error is not None:
            raise LiveWorkerError(f"live segmentation failed: {self._error!r}") from self._error

    def submit(self, frame: np.ndarray, context: Any = None) -> None:
        """Hand over a frame ``(H, W)`` or ``(H, W, C)``; never blocks.  Replaces a frame still waiting."""
        self.check()
        with self._condition:
            if self._stopping:
                raise RuntimeError("the live worker has been stopped")
            if self._pending is not None:
                self._dropped += 1
            self._pending = (frame, context, time.perf_counter(), self._received)
            self._received += 1
            self._condition.notify_all()

    def poll(self, timeout: float = 0.0) -> Optional[LiveResult]:
        """The newest result not yet polled, or None; waits up to ``timeout`` seconds for one (0: never waits)."""
        deadline = time.perf_counter() + timeout
        with self._condition:
            while self._latest is None and self._error is None:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            result, self._latest = self._latest, None
        if result is None:
            self.check()
        return result

    def stats(self) -> LiveStats:
        """Counters, recent frames per second and latency percentiles."""
        now = time.perf_counter()
        with self._condition:
            self._forget_old_finishes(now)
            elapsed = 0.0 if self._started_at is None else now - self._started_at
            span = min(self.rate_window, elapsed)
            rate = len(self._finish_times) / span if span > 0 else 0.0
            latencies = np.asarray(self._latencies) * 1000.0
            received, segmented, dropped = self._received, self._segmented, self._dropped
        p50, p99 = (None, None) if latencies.size == 0 else np.percentile(latencies, [50, 99]).tolist()
        return LiveStats(received, segmented, dropped, round(rate, 2),
                         None if p50 is None else round(p50, 2), None if p99 is None else round(p99, 2))

    def _forget_old_finishes(self, now: float) -> None:
        while self._finish_times and self._finish_times[0] < now - self.rate_window:
            self._finish_times.popleft()

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                (frame, context, submitted, sequence), self._pending = self._pending, None
            try:
                segmentation = self.segmenter.segment_frame(frame)
                finished = time.perf_counter()
                result = LiveResult(context, segmentation.mask, segmentation.probability, finished - submitted, sequence,
                                    submitted)
                with self._condition:
                    self._segmented += 1
                    self._latencies.append(result.latency)
                    self._finish_times.append(finished)
                    self._forget_old_finishes(finished)
                    self._latest = result
                    self._condition.notify_all()
                if self.on_result is not None:
                    self.on_result(result)
            except BaseException as error:  # surfaced to the producer by check(), never lost on this thread
                with self._condition:
                    self._error = error
                    self._condition.notify_all()
                return
