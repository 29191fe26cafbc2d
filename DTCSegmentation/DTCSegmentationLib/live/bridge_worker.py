"""Live inference in a child process, fed and read from the caller's own thread: the Slicer panel's live mode.

Inside 3D Slicer the main thread holds Python's GIL while Qt's event loop waits in C++, so a Python
thread of the GUI process (:class:`~DTCSegmentationLib.live.worker.LiveWorker`) advances only while
the main thread runs Python - in practice at the panel's 10 ms poll; ``bench/bench_live_in_slicer.py``
measures what that leaves.  Here the model runs in another process with its own interpreter:
``python -m DTCSegmentationLib.live --listen`` (the ``dtc live`` OpenIGTLink bridge) on loopback.  This
side packs each frame into an IMAGE message and reads the mask IMAGEs back from a non-blocking socket,
only inside :meth:`BridgeWorker.submit` and :meth:`BridgeWorker.poll`: no thread of this process
carries a frame.  Messages are sent without a CRC (the bridge runs with ``--no-crc-check``): without
crcmod's compiled extension, pyigtl's CRC-64 of a 256 x 448 frame takes about 30 ms of pure Python.

The interface is :class:`~DTCSegmentationLib.live.worker.LiveWorker`'s: ``start``, ``submit``,
``poll``, ``stats``, ``check``, ``stop``; ``LiveResult.probability`` is None.
"""

import json
import os
import queue
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Deque, Dict, Optional

import numpy as np

from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.live.worker import LiveResult, LiveStats, LiveWorkerError
from DTCSegmentationLib.process_tree import ProcessTree, popen_options

FRAME_DEVICE = "DTCLiveFrame"
MASK_DEVICE = "DTCLiveMask"
_HEADER = struct.Struct(">H12s20sIIQQ")  # OpenIGTLink v1 header: version, type, device, time s + fraction, size, CRC
_RECEIVE_CHUNK = 1 << 18
_OUTSTANDING = 64  # frames sent but not answered that are remembered; the bridge skips what it cannot use


class BridgeWorker:
    """Segments the newest submitted frame in a child process (see the module docstring).

    Args:
        model: model file for the child (``.safetensors``, ``.onnx`` or TorchScript).
        device, backend, threshold, largest_component, fill_holes: as for ``Segmenter.from_file``.
        threads: inference threads in the child (default: one per core).
        python: the interpreter to run (in Slicer: ``PythonSlicer``; default this one).
        start_timeout: seconds the child may take to load the model and listen.
        rate_window, latency_window: as for ``LiveWorker``.
    """

    def __init__(self, model: PathLike, device: str = "auto", backend: str = "onnx", threshold: Optional[float] = None,
                 largest_component: bool = True, fill_holes: bool = True, threads: Optional[int] = None,
                 python: Optional[PathLike] = None, start_timeout: float = 120.0, rate_window: float = 5.0,
                 latency_window: int = 1000):
        self.command = [str(python or sys.executable), "-m", "DTCSegmentationLib.live", "--listen", "0",
                        "--listen-host", "127.0.0.1", "--input-device", FRAME_DEVICE, "--output-device", MASK_DEVICE,
                        "--no-crc-check", "--json", "--stats-interval", "86400", "--stop-when-stdin-closes",
                        "--model", str(model), "--device", device, "--backend", backend]
        if threshold is not None:
            self.command += ["--threshold", str(threshold)]
        if not largest_component:
            self.command.append("--no-largest-component")
        if not fill_holes:
            self.command.append("--no-fill-holes")
        if threads:
            self.command += ["--threads", str(int(threads))]
        self.start_timeout = start_timeout
        self.rate_window = float(rate_window)
        self._process: Optional[subprocess.Popen] = None
        self._tree: Optional[ProcessTree] = None
        self._lines: "queue.Queue" = queue.Queue()
        self._stderr: Deque[str] = deque(maxlen=20)
        self._socket: Optional[socket.socket] = None
        self._sending = memoryview(b"")  # the rest of a message already begun (it must be finished)
        self._waiting: Optional[bytes] = None  # the newest whole message not yet begun (the latest frame's)
        self._received_bytes = bytearray()
        self._frames: Dict[int, tuple] = {}  # sequence -> (context, submit time) until its mask or a later one arrives
        self._latencies: Deque[float] = deque(maxlen=max(1, int(latency_window)))
        self._finish_times: Deque[float] = deque()
        self._received = self._segmented = self._dropped = 0
        self._started_at: Optional[float] = None
        self._error: Optional[BaseException] = None
        self._error_detail = ""

    # ------------------------------------------------------------------ lifetime
    def start(self) -> "BridgeWorker":
        """Start the child and connect to it (blocks while it loads the model)."""
        if self._process is not None:
            return self
        environment = dict(os.environ)
        # Inside Slicer the module folders are on sys.path but not on the PYTHONPATH a child inherits.
        package_folder = str(Path(__file__).resolve().parents[2])
        environment["PYTHONPATH"] = os.pathsep.join([package_folder] + [
            p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p and p != package_folder])
        environment["PYTHONUNBUFFERED"] = "1"
        self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=environment, text=True, encoding="utf-8",
                                         errors="replace", **popen_options())
        self._tree = ProcessTree(self._process)
        for stream, name in ((self._process.stdout, "stdout"), (self._process.stderr, "stderr")):
            threading.Thread(target=self._read_lines, args=(stream, name), name=f"dtc-live-child-{name}",
                             daemon=True).start()
        try:
            port = self._wait_for_port()
            self._socket = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        except BaseException:
            self.stop()
            raise
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.setblocking(False)
        self._started_at = time.perf_counter()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the connection and end the child (its standard input closes; killed after ``timeout`` s)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is None:
            return True
        try:
            self._process.stdin.close()
        except OSError:
            pass
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._tree.kill()
            self._process.wait(timeout)
        return True

    def __enter__(self) -> "BridgeWorker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def check(self) -> None:
        """Raise :class:`~DTCSegmentationLib.live.worker.LiveWorkerError` if the child failed or the link broke."""
        if self._error is not None:
            raise LiveWorkerError(f"live segmentation failed: {self._error}{self._error_detail}") from self._error

    # ------------------------------------------------------------------ frames and masks
    def submit(self, frame: np.ndarray, context: Any = None) -> None:
        """Hand over a frame ``(H, W)`` or ``(H, W, 3)`` (8/16-bit); never blocks.  Replaces a frame not yet sent."""
        self.check()
        if self._socket is None:
            raise RuntimeError("the live worker is not running")
        sequence = self._received
        self._received += 1
        if self._waiting is not None:  # the previous frame, never sent
            self._dropped += 1
            self._frames.pop(sequence - 1, None)
        while len(self._frames) >= _OUTSTANDING:
            del self._frames[min(self._frames)]
            self._dropped += 1
        self._frames[sequence] = (context, time.perf_counter())
        self._waiting = frame_message(frame, sequence)
        self._flush()

    def poll(self, timeout: float = 0.0) -> Optional[LiveResult]:
        """The newest mask not yet polled, or None; waits up to ``timeout`` seconds for one (0: never waits)."""
        self.check()
        deadline = time.perf_counter() + timeout
        while True:
            self._flush()
            result = self._receive()
            remaining = deadline - time.perf_counter()
            if result is not None or remaining <= 0 or self._socket is None:
                return result
            select.select([self._socket], [], [], min(remaining, 0.05))

    def stats(self) -> LiveStats:
        """Counters, recent frames per second and latency percentiles (submit to mask read, ms)."""
        now = time.perf_counter()
        self._forget_old_finishes(now)
        elapsed = 0.0 if self._started_at is None else now - self._started_at
        span = min(self.rate_window, elapsed)
        rate = len(self._finish_times) / span if span > 0 else 0.0
        latencies = np.asarray(self._latencies) * 1000.0
        p50, p99 = (None, None) if latencies.size == 0 else np.percentile(latencies, [50, 99]).tolist()
        return LiveStats(self._received, self._segmented, self._dropped, round(rate, 2),
                         None if p50 is None else round(p50, 2), None if p99 is None else round(p99, 2))

    # ------------------------------------------------------------------ internals
    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                name, line = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self._process.poll() is not None and self._lines.empty():
                    time.sleep(0.2)  # let the stderr reader catch the child's last words
                    raise LiveWorkerError(f"the live segmentation process ended ({self._process.returncode}): "
                                          f"{' '.join(self._stderr) or 'no message'}")
                continue
            if name == "stdout" and line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "listening":
                    return int(event["port"])
        raise LiveWorkerError(f"the live segmentation process did not start within {self.start_timeout:g} s: "
                              f"{' '.join(self._stderr) or 'no message'}")

    def _read_lines(self, stream, name: str) -> None:
        for line in stream:
            line = line.rstrip("\r\n")
            if name == "stderr":
                self._stderr.append(line)
            self._lines.put((name, line))
        stream.close()

    def _flush(self) -> None:
        while self._socket is not None:
            if not self._sending:
                if self._waiting is None:
                    return
                self._sending, self._waiting = memoryview(self._waiting), None
            try:
                sent = self._socket.send(self._sending)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._fail(error)
                return
            self._sending = self._sending[sent:]

    def _receive(self) -> Optional[LiveResult]:
        while self._socket is not None:
            try:
                data = self._socket.recv(_RECEIVE_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                self._fail(error)
                break
            if not data:
                self._fail(ConnectionError("the live segmentation process closed the connection"))
                break
            self._received_bytes += data
        newest = None
        while len(self._received_bytes) >= _HEADER.size:
            size = _HEADER.unpack_from(self._received_bytes)[5]
            if len(self._received_bytes) < _HEADER.size + size:
                break
            message = bytes(self._received_bytes[:_HEADER.size + size])
            del self._received_bytes[:_HEADER.size + size]
            result = self._result(message)
            newest = result if result is not None else newest
        return newest

    def _result(self, message: bytes) -> Optional[LiveResult]:
        from pyigtl import ImageMessage, MessageBase

        fields = MessageBase.parse_header(message[:_HEADER.size])
        if fields["message_type"] != "IMAGE" or fields["device_name"] != MASK_DEVICE:
            return None
        sequence = int(round(fields["timestamp"]))
        if sequence not in self._frames:
            return None
        answer = ImageMessage()
        answer.unpack(fields, message[_HEADER.size:])
        finished = time.perf_counter()
        for older in [s for s in self._frames if s < sequence]:  # the bridge dropped these for newer ones
            del self._frames[older]
            self._dropped += 1
        context, submitted = self._frames.pop(sequence)
        self._segmented += 1
        self._latencies.append(finished - submitted)
        self._finish_times.append(finished)
        return LiveResult(context, np.ascontiguousarray(answer.image[0]), None, finished - submitted, sequence,
                          submitted)

    def _forget_old_finishes(self, now: float) -> None:
        while self._finish_times and self._finish_times[0] < now - self.rate_window:
            self._finish_times.popleft()

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
            try:
                code = self._process.wait(1.0)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                self._error_detail = f" (the process ended with status {code}: {' '.join(self._stderr) or 'no message'})"
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def frame_message(frame: np.ndarray, sequence: int) -> bytes:
    """A packed OpenIGTLink v1 IMAGE of ``frame`` whose timestamp is ``sequence`` (seconds, echoed by the bridge).

    The header's CRC field is 0; the body is pyigtl's own IMAGE body.  A frame of a type the bridge
    refuses (float) goes as the uint8 image the segmenter would make of it first (``preprocessing.fit_frame``).
    """
    from pyigtl import ImageMessage

    from DTCSegmentationLib.inference.preprocessing import to_uint8
    from DTCSegmentationLib.live.igtl_images import FRAME_DTYPES

    frame = np.ascontiguousarray(frame)
    if frame.dtype not in [np.dtype(kind) for kind in FRAME_DTYPES]:
        frame = to_uint8(frame)
    message = ImageMessage(frame[None], timestamp=float(sequence), device_name=FRAME_DEVICE)
    body = message._pack_content()  # pyigtl's pack() adds the CRC-64, which this link does not check
    header = _HEADER.pack(1, b"IMAGE", FRAME_DEVICE.encode(), int(sequence), 0, len(body), 0)
    return header + body
