"""The OpenIGTLink bridge behind ``dtc live``: TRUS frames in, prostate masks out, over TCP.

Roles (one or both at once):

* source client (``host``): connects to an image source - PlusServer (port 18944), a
  scanner's research interface, or a server connector of 3D Slicer - and reconnects with
  exponential back-off whenever the connection fails, breaks or goes silent;
* server (``listen_port``): accepts any number of peers (3D Slicer's OpenIGTLinkIF as a
  client); each may send frames, and every peer receives every mask.

A mask goes to every server peer and back to the connection its frame came from (unless
``reply_to_source`` is off: PlusServer logs a warning for each IMAGE a client sends it).

Messages are parsed and packed by pyigtl (header, IMAGE body, CRC-64); the sockets are our
own.  pyigtl 0.3.4's ``OpenIGTLinkClient`` / ``OpenIGTLinkServer`` keep spinning at full CPU
on a connection the peer has closed (so they never reconnect or serve the next client), stop
receiving after a header that announces a huge body (``socket.recv`` of that size overflows),
and take over SIGINT.  Here every connection has a reader that checks each header (version,
type, size limit) and body (CRC) and skips what it cannot use while keeping the stream in
step - only bytes that are not OpenIGTLink at all end the connection - and a sender with a
one-slot outbox, so neither a slow model nor a slow receiver lets data queue up.
"""

import logging
import re
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Dict, Optional, Set

from pyigtl import ImageMessage, MessageBase
from pyigtl.messages import CRC64

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.live.igtl_images import FrameRejected, IgtlFrame, answer_bytes, frame_from_message
from DTCSegmentationLib.live.worker import LiveResult, LiveWorker

log = logging.getLogger(__name__)

HEADER_SIZE = MessageBase.IGTL_HEADER_SIZE
_MESSAGE_TYPE = re.compile(r"[A-Z0-9_]{1,12}")
_WAKE_INTERVAL = 0.2  # seconds between looks at the stop flag while a socket is quiet
_DISCARD_CHUNK = 1 << 20
_WARNING_INTERVAL = 5.0  # the same kind of warning at most this often (counts the rest)

COUNTERS = ("connections_opened", "protocol_errors", "messages_ignored", "messages_skipped", "answers_sent",
            "answers_replaced")
"""Bridge counters in :meth:`IgtlBridge.stats`: connections opened; connections dropped because the
bytes were not OpenIGTLink; messages of other types or devices; frames skipped (oversized,
bad CRC, malformed, unsupported); answers sent; answers replaced by a newer one before a
slow receiver took them."""


@dataclass
class BridgeConfig:
    """Where frames come from and where masks go.

    Attributes:
        host, port: image source to connect to (None: no source client).
        listen_port: port to accept peers on (None: no server; 0: any free port).
        listen_host: interface to listen on (``0.0.0.0``: all).
        input_device: device name of the frames to segment (None: every IMAGE).
        mask_device: device name of the mask IMAGE sent back (uint8, 1 = prostate).
        probability_device: also send the probability map (uint8, ``round(255 p)``) under this name.
        reply_to_source: send masks back to the ``host`` connection too.
        max_message_bytes: larger frames are skipped without being held in memory.
        check_crc: skip frames whose body does not match the header's CRC-64.
        idle_timeout: reconnect to the source after this many seconds without data (0: never).
        retry_initial, retry_max: reconnection back-off, seconds (doubles after each failure).
        connect_timeout, send_timeout: seconds.
    """

    host: Optional[str] = None
    port: int = 18944
    listen_port: Optional[int] = None
    listen_host: str = "0.0.0.0"
    input_device: Optional[str] = "Image_Reference"
    mask_device: str = "DTCMask"
    probability_device: Optional[str] = None
    reply_to_source: bool = True
    max_message_bytes: int = 64 << 20
    check_crc: bool = True
    idle_timeout: float = 10.0
    retry_initial: float = 0.5
    retry_max: float = 10.0
    connect_timeout: float = 3.0
    send_timeout: float = 10.0

    def __post_init__(self):
        if self.host is None and self.listen_port is None:
            raise ValueError("BridgeConfig needs a source host, a listen port, or both")
        if not 0 < self.retry_initial <= self.retry_max:
            raise ValueError("BridgeConfig needs 0 < retry_initial <= retry_max")


class ConnectionLost(Exception):
    """A connection ended: closed by the peer, socket error, silence, or stopped by the bridge."""


class ProtocolError(ConnectionLost):
    """The bytes on a connection are not OpenIGTLink, so no later message boundary can be trusted."""


class _Counters:
    def __init__(self):
        self._lock = threading.Lock()
        self._values = dict.fromkeys(COUNTERS, 0)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._values)


class _RateLimitedLog:
    """Warnings of one kind at most every few seconds, so a flood of bad messages cannot flood the log.

    Held-back warnings are never lost: the next warning of their kind, or :meth:`flush` (when a
    connection ends), logs the latest of them with their count.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._last: Dict[str, float] = {}
        self._suppressed: Dict[str, int] = {}
        self._latest: Dict[str, str] = {}

    def warning(self, kind: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -_WARNING_INTERVAL) < _WARNING_INTERVAL:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                self._latest[kind] = message
                return
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
            self._latest.pop(kind, None)
        log.warning("%s%s", message, f" (and {suppressed} more like it)" if suppressed else "")

    def flush(self) -> None:
        """Log every held-back warning now (the latest of each kind, with how many were held back)."""
        with self._lock:
            held = [(self._latest.pop(kind), count) for kind, count in self._suppressed.items() if kind in self._latest]
            self._suppressed.clear()
        for message, count in held:
            log.warning("%s%s", message, f" (the last of {count} like it)" if count > 1 else "")


class _Connection:
    """One TCP connection: messages are read on the thread that calls :meth:`run`; answers leave
    from a sender thread through a one-slot outbox (a newer answer replaces one not yet sent)."""

    def __init__(self, sock: socket.socket, peer: str, bridge: "IgtlBridge", is_source: bool):
        self.sock = sock
        self.peer = peer
        self.is_source = is_source
        self.frames = 0
        self._bridge = bridge
        self._outbox: Optional[bytes] = None
        self._condition = threading.Condition()
        self._closed = False
        self._reason = ""
        # The timeout bounds sendall; reads wait in select first, so they never hit it.
        sock.settimeout(bridge.config.send_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sender = threading.Thread(target=self._send_loop, name=f"dtc-live-send {peer}", daemon=True)
        self._sender.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, data: bytes) -> None:
        """Queue ``data`` (whole packed messages) for sending, replacing anything not yet sent."""
        with self._condition:
            if self._closed:
                return
            if self._outbox is not None:
                self._bridge._counters.add("answers_replaced")
            self._outbox = data
            self._condition.notify_all()

    def close(self, reason: str) -> None:
        """End the connection from any thread; the reader closes the socket itself."""
        with self._condition:
            if self._closed:
                return
            self._closed, self._reason = True, reason
            self._condition.notify_all()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a reader in select and a sender in sendall
        except OSError:
            pass

    def run(self, idle_timeout: float) -> str:
        """Read messages until the connection ends; returns why it ended."""
        reason = "closed"
        try:
            while True:
                self._read_message(idle_timeout)
        except ProtocolError as error:
            self._bridge._counters.add("protocol_errors")
            reason = str(error)
        except ConnectionLost as error:
            reason = str(error)
        finally:
            self.close(reason)
            self._sender.join(self._bridge.config.send_timeout + 1.0)
            self.sock.close()
            self._bridge._warnings.flush()  # what this connection did wrong is not held back past its end
        return self._reason

    def _send_loop(self) -> None:
        while True:
            with self._condition:
                while self._outbox is None and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                data, self._outbox = self._outbox, None
            try:
                self.sock.sendall(data)
            except OSError as error:  # a partly sent message breaks the stream: the connection must go
                self.close(f"send failed ({error})")
                return
            self._bridge._counters.add("answers_sent")

    def _recv_into(self, view: memoryview, idle_timeout: float) -> int:
        quiet_since = time.monotonic()
        while True:
            if self._closed:
                raise ConnectionLost(self._reason)
            if select.select([self.sock], [], [], _WAKE_INTERVAL)[0]:
                break
            if idle_timeout and time.monotonic() - quiet_since > idle_timeout:
                raise ConnectionLost(f"no data for {idle_timeout:g} s")
        try:
            received = self.sock.recv_into(view)
        except OSError as error:
            raise ConnectionLost(self._reason or f"receive failed ({error})") from None
        if received == 0:
            raise ConnectionLost(self._reason or "closed by the peer")
        return received

    def _receive(self, size: int, idle_timeout: float) -> bytes:
        buffer = bytearray(size)
        view, done = memoryview(buffer), 0
        while done < size:
            done += self._recv_into(view[done:], idle_timeout)
        return bytes(buffer)

    def _discard(self, size: int, idle_timeout: float) -> None:
        scratch = memoryview(bytearray(min(size, _DISCARD_CHUNK)))
        while size > 0:
            size -= self._recv_into(scratch[:min(size, len(scratch))], idle_timeout)

    def _read_message(self, idle_timeout: float) -> None:
        bridge, config = self._bridge, self._bridge.config
        header = self._receive(HEADER_SIZE, idle_timeout)
        try:
            fields = MessageBase.parse_header(header)
        except (UnicodeDecodeError, struct.error):
            fields = {"header_version": 0, "message_type": ""}
        if fields["header_version"] not in (1, 2) or not _MESSAGE_TYPE.fullmatch(fields["message_type"]):
            raise ProtocolError(f"received bytes that are not OpenIGTLink (header {header[:16]!r}...)")
        size, kind, device = fields["body_size"], fields["message_type"], fields["device_name"]
        # A message is counted as soon as its header says what it is: its body may never arrive.
        if kind != "IMAGE" or (config.input_device is not None and device != config.input_device):
            bridge._counters.add("messages_ignored")
            self._discard(size, idle_timeout)
            return
        if size > config.max_message_bytes:
            bridge._counters.add("messages_skipped")
            bridge._warnings.warning("oversized", f"skipped IMAGE {device!r} from {self.peer}: {size} bytes, "
                                                  f"more than the limit of {config.max_message_bytes}")
            self._discard(size, idle_timeout)
            return
        body = self._receive(size, idle_timeout)
        if config.check_crc and CRC64(body) != struct.unpack(">Q", header[-8:])[0]:
            bridge._warnings.warning("crc", f"skipped IMAGE {device!r} from {self.peer}: CRC mismatch")
            bridge._counters.add("messages_skipped")
            return
        try:
            message = ImageMessage()
            message.unpack(fields, body)
            frame = frame_from_message(message)
        except FrameRejected as error:
            bridge._warnings.warning("rejected", f"skipped IMAGE {device!r} from {self.peer}: {error}")
            bridge._counters.add("messages_skipped")
            return
        except Exception as error:  # pyigtl's parser meets untrusted bytes: lose this message, keep the link
            bridge._warnings.warning("malformed", f"skipped malformed IMAGE {device!r} from {self.peer}: {error!r}")
            bridge._counters.add("messages_skipped")
            return
        self.frames += 1
        bridge._on_frame(self, frame)


class IgtlBridge:
    """Segments the newest frame from OpenIGTLink peers and sends each mask back with the frame's
    geometry and timestamp.

    Args:
        segmenter: anything with ``segment_frame(frame)`` (a :class:`~DTCSegmentationLib.inference.segmenter.Segmenter`).
        config: the connections to make.

    Use as a context manager (or :meth:`start` / :meth:`stop`); :meth:`check` raises if the
    model failed; :meth:`stats` gives the worker's and the bridge's counters.
    """

    def __init__(self, segmenter, config: BridgeConfig):
        self.config = config
        self.worker = LiveWorker(segmenter, on_result=self._on_result)
        self._counters = _Counters()
        self._warnings = _RateLimitedLog()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connections: Set[_Connection] = set()
        self._threads = []
        self._server: Optional[socket.socket] = None
        self.listen_port: Optional[int] = None
        """The port peers connect to once started (the free port picked when ``config.listen_port`` is 0)."""

    def start(self) -> "IgtlBridge":
        """Listen and/or connect; raises :class:`~DTCSegmentationLib.errors.DTCError` if the port is taken."""
        if self.config.listen_port is not None:
            self._server = self._listen()
            self.listen_port = self._server.getsockname()[1]
        self.worker.start()
        if self._server is not None:
            self._spawn(self._accept_loop, "dtc-live-accept")
        if self.config.host is not None:
            self._spawn(self._source_loop, "dtc-live-source")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the listening socket, then stop the worker."""
        self._stop.set()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close("the bridge stopped")
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.worker.stop(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> "IgtlBridge":
        return self.start()

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.stop()

    def check(self) -> None:
        """Raise :class:`~DTCSegmentationLib.live.worker.LiveWorkerError` if segmentation failed."""
        self.worker.check()

    def stats(self) -> Dict[str, object]:
        """Worker statistics (frames received / segmented / dropped, frames/s, latency) and bridge counters."""
        with self._lock:
            open_connections = sum(not c.closed for c in self._connections)
        return {**self.worker.stats().as_dict(), "connections": open_connections, **self._counters.snapshot()}

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _listen(self) -> socket.socket:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.config.listen_host, self.config.listen_port))
        except OSError as error:
            server.close()
            raise DTCError(f"cannot listen on {self.config.listen_host}:{self.config.listen_port} ({error}).",
                           fix="Choose another --listen port or stop the program that uses it.") from None
        server.listen(8)
        server.settimeout(_WAKE_INTERVAL)
        log.info("listening for OpenIGTLink peers on %s:%d", self.config.listen_host, server.getsockname()[1])
        return server

    def _accept_loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    sock, address = self._server.accept()
                except socket.timeout:
                    continue
                except OSError as error:  # e.g. out of file descriptors: wait, the peer retries
                    self._warnings.warning("accept", f"cannot accept a connection ({error})")
                    self._stop.wait(1.0)
                    continue
                connection = self._add(sock, f"{address[0]}:{address[1]}", is_source=False)
                self._spawn(self._serve, f"dtc-live-peer {connection.peer}", connection)
        finally:
            self._server.close()

    def _serve(self, connection: "_Connection") -> None:
        log.info("peer %s connected", connection.peer)
        reason = connection.run(idle_timeout=0)
        self._remove(connection)
        log.info("peer %s disconnected: %s", connection.peer, reason)

    def _source_loop(self) -> None:
        host, port, delay = self.config.host, self.config.port, self.config.retry_initial
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((host, port), timeout=self.config.connect_timeout)
            except OSError as error:
                self._warnings.warning("connect", f"cannot connect to {host}:{port} ({error}); retrying")
            else:
                connection = self._add(sock, f"{host}:{port}", is_source=True)
                log.info("connected to %s:%d", host, port)
                reason = connection.run(self.config.idle_timeout)
                self._remove(connection)
                if self._stop.is_set():
                    break
                if connection.frames:  # the link worked: start the back-off afresh
                    delay = self.config.retry_initial
                log.warning("source %s:%d disconnected (%s); reconnecting in %g s", host, port, reason, delay)
            self._stop.wait(delay)
            delay = min(2 * delay, self.config.retry_max)

    def _add(self, sock: socket.socket, peer: str, is_source: bool) -> "_Connection":
        connection = _Connection(sock, peer, self, is_source)
        with self._lock:
            self._connections.add(connection)
        self._counters.add("connections_opened")
        if self._stop.is_set():  # stop() may have run between accept/connect and here
            connection.close("the bridge stopped")
        return connection

    def _remove(self, connection: "_Connection") -> None:
        with self._lock:
            self._connections.discard(connection)

    def _on_frame(self, connection: "_Connection", frame: IgtlFrame) -> None:
        self.worker.submit(frame.image, (connection, frame))

    def _on_result(self, result: LiveResult) -> None:
        origin, frame = result.context
        data = answer_bytes(result.mask, frame, self.config.mask_device, result.probability,
                            self.config.probability_device)
        with self._lock:
            targets = [c for c in self._connections if not c.is_source]
        if origin.is_source and self.config.reply_to_source:
            targets.append(origin)
        for connection in targets:
            connection.offer(data)
