"""The OpenIGTLink bridge on loopback with real pyigtl peers and raw sockets.

Every peer is on 127.0.0.1 with a port chosen free at run time; every wait is bounded.
"""

import os
import signal
import socket
import struct
import threading
import time
from contextlib import contextmanager

import numpy as np
import pyigtl
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.live.igtl_bridge import BridgeConfig, IgtlBridge
from DTCSegmentationLib.networks.model_file import ModelInfo
from pyigtl import ImageMessage, MessageBase, TransformMessage
from samples import recv_exactly

pytestmark = pytest.mark.slow  # trains networks or opens sockets

WAIT = 10.0
LOCAL = "127.0.0.1"
# A rotated, anisotropic frame placement and a timestamp with a fraction of a second.
MATRIX = np.array([[0.0, -0.21, 0.0, 31.5], [0.19, 0.0, 0.0, -12.25], [0.0, 0.0, 0.5, 7.0], [0.0, 0.0, 0.0, 1.0]])
STAMP = 1767225600.123456


def brightness_segmenter(delay=0.0):
    """A real Segmenter whose stand-in network calls bright pixels prostate (optionally slow)."""
    def network(batch):
        time.sleep(delay)
        return 5.0 * batch[:, :1]

    info = ModelInfo(arguments={"features": [8, 8, 16, 16]}, input_size=(32, 48))
    return Segmenter(network, info, largest_component=False, fill_holes=False)


def bridge_config(**fields):
    values = dict(retry_initial=0.05, retry_max=0.4, connect_timeout=1.0, send_timeout=2.0)
    values.update(fields)
    return BridgeConfig(**values)


def free_port():
    with socket.socket() as probe:
        probe.bind((LOCAL, 0))
        return probe.getsockname()[1]


def box_frame(dtype=np.uint8, rgb=False, height=40, width=60):
    """``(1, H, W)`` or ``(1, H, W, 3)`` voxels (pyigtl's k, j, i order) with a bright box at rows 10-30, columns 20-40."""
    frame = np.zeros((1, height, width), dtype)
    frame[0, 10:30, 20:40] = np.iinfo(dtype).max
    return np.repeat(frame[..., None], 3, axis=3) if rgb else frame


def image(voxels, device="Image_Reference", timestamp=STAMP, world="lps", matrix=MATRIX):
    return ImageMessage(voxels, ijk_to_world_matrix=matrix, world_coordinate_system=world, timestamp=timestamp,
                        device_name=device)


def as_received(message):
    """The message as any pyigtl receiver parses it (what the bridge sees)."""
    data = message.pack()
    parsed = MessageBase.create_message(message.message_type)
    parsed.unpack(MessageBase.parse_header(data[:MessageBase.IGTL_HEADER_SIZE]), data[MessageBase.IGTL_HEADER_SIZE:])
    return parsed


def assert_box_mask(mask_message, sent):
    mask = mask_message.image
    assert mask.shape == (1, 40, 60) and mask.dtype == np.uint8
    assert mask[0, 12:28, 22:38].all() and not mask[0, :, :15].any() and not mask[0, :6].any()
    expected = as_received(sent)
    assert np.array_equal(mask_message.ijk_to_world_matrix, expected.ijk_to_world_matrix)
    assert mask_message.timestamp == expected.timestamp
    assert mask_message.world_coordinate_system == sent.world_coordinate_system


@contextmanager
def pyigtl_server(port):
    """pyigtl's server, as an image source; its SIGINT/SIGTERM handlers are taken back from it."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    server = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
    for number, handler in handlers.items():
        signal.signal(number, handler)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def pyigtl_client(port):
    client = pyigtl.OpenIGTLinkClient(host=LOCAL, port=port)
    try:
        yield client
    finally:
        client.stop()


def wait_until(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def wait_for(peer, device="DTCMask", timestamp=None):
    """The next message from ``device`` (with exactly ``timestamp`` if given) that a pyigtl peer receives."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        message = peer.wait_for_message(device, timeout=0.1)
        if message is not None and (timestamp is None or message.timestamp == timestamp):
            return message
    raise AssertionError(f"no {device} message within {WAIT} s")


def assert_hung_up(sock):
    """The bridge closed this connection (a reset counts: it did not read everything we sent)."""
    sock.settimeout(WAIT)
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass


def read_raw(sock):
    """One message from a raw socket: (header bytes, body bytes, parsed pyigtl message)."""
    sock.settimeout(WAIT)
    header = recv_exactly(sock, MessageBase.IGTL_HEADER_SIZE)
    fields = MessageBase.parse_header(header)
    body = recv_exactly(sock, fields["body_size"])
    message = MessageBase.create_message(fields["message_type"])
    message.unpack(fields, body)
    return header, body, message


@pytest.fixture(autouse=True)
def no_threads_left_behind():
    """Every test ends with the bridge's threads joined: the clean shutdown Ctrl-C relies on."""
    yield
    wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("dtc-live")],
               "the bridge's threads have ended")


@pytest.mark.parametrize("dtype, rgb, world", [(np.uint8, False, "lps"), (np.uint16, False, "ras"),
                                               (np.uint8, True, "lps")])
def test_frames_in_masks_out_with_the_frames_geometry_and_timestamp(dtype, rgb, world):
    port = free_port()
    config = bridge_config(host=LOCAL, port=port, probability_device="DTCProbability")
    with pyigtl_server(port) as source, IgtlBridge(brightness_segmenter(), config) as bridge:
        sent = image(box_frame(dtype, rgb), world=world)
        source.send_message(sent, wait=False)
        assert_box_mask(wait_for(source), sent)
        probability = wait_for(source, "DTCProbability")
        assert probability.image.dtype == np.uint8 and probability.image[0, 20, 30] > 240
        assert probability.image[0, 20, 5] < 15
        assert np.array_equal(probability.ijk_to_world_matrix, as_received(sent).ijk_to_world_matrix)
        wait_until(lambda: bridge.stats()["answers_sent"] == 1, "the answer is counted")
        stats = bridge.stats()
    assert stats["received"] == stats["segmented"] == 1 and stats["connections_opened"] == 1
    assert stats["messages_skipped"] == stats["protocol_errors"] == 0


def test_listening_bridge_answers_the_sender_and_every_other_peer():
    with IgtlBridge(brightness_segmenter(), bridge_config(listen_host=LOCAL, listen_port=0)) as bridge, \
            pyigtl_client(bridge.listen_port) as sender, pyigtl_client(bridge.listen_port) as viewer:
        wait_until(lambda: bridge.stats()["connections"] == 2, "both peers are connected")
        sent = image(box_frame())
        sender.send_message(sent, wait=False)
        assert_box_mask(wait_for(sender), sent)
        assert_box_mask(wait_for(viewer), sent)


def test_a_slow_model_drops_frames_and_stays_current():
    port = free_port()
    with pyigtl_server(port) as source, \
            IgtlBridge(brightness_segmenter(delay=0.15), bridge_config(host=LOCAL, port=port)) as bridge:
        stamps = [STAMP + 0.01 * number for number in range(15)]
        for stamp in stamps:  # 100 frames/s into a model that manages about 6
            source.send_message(image(box_frame(), timestamp=stamp), wait=False)
            time.sleep(0.01)
        # the newest frame is segmented, however many came before
        last = wait_for(source, timestamp=as_received(image(box_frame(), timestamp=stamps[-1])).timestamp)
        assert_box_mask(last, image(box_frame(), timestamp=stamps[-1]))
        wait_until(lambda: bridge.stats()["received"] == 15, "every frame is counted")
        stats = bridge.stats()
    assert stats["dropped"] >= 5
    assert stats["segmented"] + stats["dropped"] == 15


def test_the_bridge_reconnects_after_the_source_goes_away():
    port = free_port()
    with IgtlBridge(brightness_segmenter(), bridge_config(host=LOCAL, port=port)) as bridge:
        for attempt in range(2):  # the source starts after the bridge, stops, and comes back
            with pyigtl_server(port) as source:
                sent = image(box_frame(), timestamp=STAMP + attempt)
                source.send_message(sent, wait=False)
                assert_box_mask(wait_for(source), sent)
            wait_until(lambda: bridge.stats()["connections"] == 0, "the bridge noticed the source closed")
        stats = bridge.stats()
    assert stats["connections_opened"] == 2 and stats["segmented"] == 2


def test_a_peer_that_leaves_is_forgotten_and_the_next_one_is_served():
    with IgtlBridge(brightness_segmenter(), bridge_config(listen_host=LOCAL, listen_port=0)) as bridge:
        for attempt in range(2):
            with pyigtl_client(bridge.listen_port) as peer:
                sent = image(box_frame(), timestamp=STAMP + attempt)
                peer.send_message(sent, wait=False)
                assert_box_mask(wait_for(peer), sent)
            wait_until(lambda: bridge.stats()["connections"] == 0, "the bridge noticed the peer left")


def test_garbage_bytes_drop_only_that_connection():
    with IgtlBridge(brightness_segmenter(), bridge_config(listen_host=LOCAL, listen_port=0)) as bridge:
        with socket.create_connection((LOCAL, bridge.listen_port), timeout=WAIT) as vandal:
            vandal.sendall(os.urandom(64 * 1024))
            assert_hung_up(vandal)  # the bridge hangs up on bytes that are not OpenIGTLink
        with pyigtl_client(bridge.listen_port) as peer:
            sent = image(box_frame())
            peer.send_message(sent, wait=False)
            assert_box_mask(wait_for(peer), sent)
        stats = bridge.stats()
    assert stats["protocol_errors"] == 1 and stats["connections_opened"] == 2


def test_a_source_sending_garbage_or_nothing_is_reconnected():
    with socket.socket() as listener:
        listener.bind((LOCAL, 0))
        listener.listen(1)
        listener.settimeout(WAIT)
        config = bridge_config(host=LOCAL, port=listener.getsockname()[1], idle_timeout=0.5)
        with IgtlBridge(brightness_segmenter(), config) as bridge:
            first, _ = listener.accept()
            with first:
                first.sendall(b"GET / HTTP/1.1\r\n" * 8)
                assert_hung_up(first)  # dropped for garbage ...
            second, _ = listener.accept()
            with second:
                started = time.monotonic()
                assert_hung_up(second)  # ... and for silence
                assert time.monotonic() - started >= 0.4
            third, _ = listener.accept()
            with third:
                sent = image(box_frame())
                third.sendall(sent.pack())
                assert_box_mask(read_raw(third)[2], sent)
            stats = bridge.stats()
    assert stats["protocol_errors"] == 1 and stats["connections_opened"] == 3


def test_bad_messages_are_skipped_and_the_connection_keeps_working():
    config = bridge_config(listen_host=LOCAL, listen_port=0, max_message_bytes=20_000)
    with IgtlBridge(brightness_segmenter(), config) as bridge, \
            socket.create_connection((LOCAL, bridge.listen_port), timeout=WAIT) as peer:
        good = image(box_frame()).pack()
        bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
        # A valid header and CRC around an image body that promises 100 x 100 pixels and holds 40 x 60.
        lying = image(box_frame())
        lying.image = box_frame(height=100, width=100)
        lying_bytes = bytearray(lying.pack())
        content = bytes(lying_bytes[MessageBase.IGTL_HEADER_SIZE:MessageBase.IGTL_HEADER_SIZE + 72]) + \
            bytes(box_frame().tobytes())
        header = bytearray(lying_bytes[:MessageBase.IGTL_HEADER_SIZE])
        header[42:50] = struct.pack(">Q", len(content))
        header[50:58] = struct.pack(">Q", pyigtl.messages.CRC64(content))
        malformed = bytes(header) + content
        oversized = image(box_frame(height=200, width=200)).pack()
        volume = image(np.zeros((2, 40, 60), np.uint8)).pack()
        float_image = image(np.zeros((1, 40, 60), np.float32)).pack()
        transform = TransformMessage(np.eye(4), device_name="ProbeToReference").pack()
        other_device = image(box_frame(), device="Image_Other").pack()
        for data in (bad_crc, malformed, oversized, volume, float_image, transform, other_device):
            peer.sendall(data)
        sent = image(box_frame(), timestamp=STAMP + 5)
        peer.sendall(sent.pack())
        header, body, mask = read_raw(peer)
        assert_box_mask(mask, sent)
        sent_bytes = sent.pack()
        # Timestamp and the image geometry (directions, spacing, centre) are the sender's bytes, unchanged.
        assert header[34:42] == sent_bytes[34:42]
        assert body[12:60] == sent_bytes[MessageBase.IGTL_HEADER_SIZE + 12:MessageBase.IGTL_HEADER_SIZE + 60]
        stats = bridge.stats()
    assert stats["messages_skipped"] == 5 and stats["messages_ignored"] == 2
    assert stats["protocol_errors"] == 0 and stats["connections_opened"] == 1 and stats["segmented"] == 1


def test_a_taken_port_is_a_user_error_and_starts_nothing():
    with socket.socket() as other_program:
        other_program.bind((LOCAL, 0))
        other_program.listen(1)
        bridge = IgtlBridge(brightness_segmenter(), bridge_config(listen_host=LOCAL,
                                                                  listen_port=other_program.getsockname()[1]))
        with pytest.raises(DTCError, match="cannot listen on .* Fix: Choose another --listen port"):
            bridge.start()


def test_every_oversized_image_is_counted_and_logged_even_when_its_body_never_comes(caplog):
    """Issue #14, item 13: the second oversized header (body cut short) was neither logged nor counted."""
    config = bridge_config(listen_host=LOCAL, listen_port=0, max_message_bytes=20_000)
    oversized = image(box_frame(height=200, width=200)).pack()
    with caplog.at_level("WARNING", logger="DTCSegmentationLib.live.igtl_bridge"), \
            IgtlBridge(brightness_segmenter(), config) as bridge:
        with socket.create_connection((LOCAL, bridge.listen_port), timeout=WAIT) as peer:
            peer.sendall(oversized)  # whole: announced, skipped
            peer.sendall(oversized[:MessageBase.IGTL_HEADER_SIZE + 100])  # announced, then the peer goes away
        wait_until(lambda: bridge.stats()["connections_opened"] == 1 and bridge.stats()["connections"] == 0,
                   "the bridge served the peer and noticed it left")
        stats = bridge.stats()
    assert stats["messages_skipped"] == 2 and stats["received"] == 0
    skipped = [r.getMessage() for r in caplog.records if "skipped IMAGE 'Image_Reference'" in r.getMessage()]
    assert len(skipped) == 2 and all("more than the limit of 20000" in m for m in skipped)
