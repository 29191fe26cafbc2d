"""Fuzzing the OpenIGTLink bridge behind `dtc live` (issue #14): random byte streams and mutated messages
(header fields, body sizes, CRCs, truncated and flipped bodies) from a peer.

Whatever a peer sends, the bridge must stay up: no exception in any of its threads, no hang, memory bounded by
the limit on one message, and the next honest peer is answered as usual.
"""

import socket
import struct
import threading
import time

import numpy as np
import pytest
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.live.igtl_bridge import BridgeConfig, IgtlBridge
from DTCSegmentationLib.networks.model_file import ModelInfo
from hypothesis import given
from hypothesis import strategies as st
from pyigtl import ImageMessage, MessageBase, PositionMessage, StringMessage, TransformMessage
from pyigtl.messages import CRC64
from samples import bounded, recv_exactly

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]  # opens sockets

LOCAL = "127.0.0.1"
WAIT = 10.0
HEADER = MessageBase.IGTL_HEADER_SIZE
LIMIT = 64 << 10  # max_message_bytes of the bridge under test


def brightness_segmenter():
    info = ModelInfo(arguments={"features": [8, 8, 16, 16]}, input_size=(32, 48))
    return Segmenter(lambda batch: 5.0 * batch[:, :1], info, largest_component=False, fill_holes=False)


@pytest.fixture(scope="module")
def bridge():
    failures = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: failures.append(args)  # an exception in any bridge thread fails the test
    config = BridgeConfig(listen_host=LOCAL, listen_port=0, max_message_bytes=LIMIT, send_timeout=2.0)
    with IgtlBridge(brightness_segmenter(), config) as running:
        running.thread_failures = failures
        yield running
    threading.excepthook = previous_hook
    assert failures == []


def wait_until(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


# --- what a peer may send ------------------------------------------------------------------------------------

@st.composite
def messages(draw):
    """One packed OpenIGTLink message: an IMAGE of random size and type (the frames `dtc live` segments), or
    another type the bridge must skip."""
    kind = draw(st.sampled_from(["IMAGE", "IMAGE", "IMAGE", "TRANSFORM", "POSITION", "STRING"]))
    device = draw(st.sampled_from(["Image_Reference", "Image_Reference", "Other", ""]))
    if kind == "IMAGE":
        dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int8, np.int16, np.float32]))
        shape = (draw(st.integers(1, 2)), draw(st.integers(1, 40)), draw(st.integers(1, 40)))
        channels = draw(st.sampled_from([None, 3]))
        voxels = np.random.default_rng(draw(st.integers(0, 99))).integers(0, 100, shape + ((channels,) if channels else ()))
        return ImageMessage(voxels.astype(dtype), device_name=device, timestamp=draw(st.floats(0, 2e9))).pack()
    if kind == "TRANSFORM":
        return TransformMessage(np.eye(4), device_name=device).pack()
    if kind == "POSITION":
        return PositionMessage([1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 1.0], device_name=device).pack()
    return StringMessage(draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)),
                         device_name=device).pack()


HEADER_FIELDS = {"version": (0, ">H"), "type": (2, "12s"), "device": (14, "20s"), "timestamp": (34, ">Q"),
                 "body_size": (42, ">Q"), "crc": (50, ">Q")}


@st.composite
def mutated_messages(draw):
    """A message with some of: a header field replaced, the CRC made right again, the body cut or flipped."""
    data = bytearray(draw(messages()))
    for name in draw(st.lists(st.sampled_from(sorted(HEADER_FIELDS)), max_size=2, unique=True)):
        offset, fmt = HEADER_FIELDS[name]
        size = struct.calcsize(fmt)
        if fmt.endswith("s"):
            value = draw(st.one_of(st.binary(min_size=size, max_size=size),
                                   st.sampled_from([b"IMAGE", b"TRANSFORM", b"image", b"", b"IMAGE\x00x"]))).ljust(size, b"\0")
        elif name == "body_size":
            value = struct.pack(fmt, draw(st.one_of(st.integers(0, 2 * LIMIT), st.sampled_from([2**63 - 1, 2**64 - 1]),
                                                    st.just((len(data) - HEADER + draw(st.integers(-8, 8))) % 2**64))))
        else:
            value = struct.pack(fmt, draw(st.integers(0, 2 ** (8 * size) - 1)))
        data[offset:offset + size] = value[:size]
    if draw(st.booleans()) and len(data) > HEADER:
        index = draw(st.integers(HEADER, len(data) - 1))
        data[index] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):  # a consistent CRC: the damage reaches the image parser
        data[50:58] = struct.pack(">Q", CRC64(bytes(data[HEADER:])))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


STREAMS = st.lists(st.one_of(messages(), mutated_messages(), st.binary(min_size=1, max_size=200)), min_size=1, max_size=6)


def good_frame(timestamp):
    frame = np.zeros((1, 40, 60), np.uint8)
    frame[0, 10:30, 20:40] = 255
    return ImageMessage(frame, device_name="Image_Reference", timestamp=timestamp)


@given(chunks=STREAMS)
def test_any_byte_stream_leaves_the_bridge_serving(bridge, chunks):
    stream = b"".join(chunks)
    opened = bridge.stats()["connections_opened"]
    with bounded(30.0, 2 * max(LIMIT, len(stream)) + (32 << 20)):
        with socket.create_connection((LOCAL, bridge.listen_port), timeout=WAIT) as peer:
            try:
                peer.sendall(stream)
                peer.shutdown(socket.SHUT_WR)  # the peer is done: the bridge must notice, however the stream ended
                while peer.recv(1 << 16):  # answers for any good frame, until the bridge hangs up
                    pass
            except OSError:  # the bridge hung up first (bytes that are not OpenIGTLink)
                pass
        wait_until(lambda: bridge.stats()["connections_opened"] == opened + 1 and bridge.stats()["connections"] == 0,
                   "the bridge served the fuzzing peer and let it go")
    bridge.check()  # the model thread is fine
    assert bridge.thread_failures == []
    # The next honest peer is answered with a mask of its frame (every peer also receives the masks of
    # frames still being segmented for others: those are passed over).
    with socket.create_connection((LOCAL, bridge.listen_port), timeout=WAIT) as peer:
        peer.sendall(good_frame(time.time()).pack())
        peer.settimeout(WAIT)
        reply = None
        while reply is None or reply.image.shape != (1, 40, 60):
            fields = MessageBase.parse_header(recv_exactly(peer, HEADER))
            reply = ImageMessage()
            reply.unpack(fields, recv_exactly(peer, fields["body_size"]))
    assert fields["device_name"] == "DTCMask" and reply.image[0, 20, 30] == 1 and reply.image[0, 2, 2] == 0
    stats = bridge.stats()
    assert stats["segmented"] + stats["dropped"] <= stats["received"]
