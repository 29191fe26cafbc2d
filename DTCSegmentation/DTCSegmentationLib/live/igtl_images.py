"""OpenIGTLink IMAGE messages (pyigtl) to frames and back, with geometry and time kept bit for bit.

pyigtl holds the voxels of an IMAGE as ``(k, j, i)`` or ``(k, j, i, components)``; a 2D
ultrasound frame is ``k = 1``, so the frame is ``image[0]``: ``(H, W)`` or ``(H, W, 3)``
with rows ``j`` and columns ``i``, as everywhere in this package.  The message's
``ijk_to_world_matrix`` (``(4, 4)``, in the message's own LPS or RAS world) and timestamp
(seconds since 1970) are copied unchanged onto the masks sent back, so a receiver (3D
Slicer's OpenIGTLinkIF) places the mask exactly on its frame and can pair them by time.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
from pyigtl import ImageMessage

from DTCSegmentationLib.inference.preprocessing import probability_to_uint8

# Scalar types a frame may have: preprocessing scales integers by their dtype's range.
FRAME_DTYPES = (np.uint8, np.int8, np.uint16, np.int16)


class FrameRejected(ValueError):
    """An IMAGE message that is not a 2D frame the segmenter can take (the reason is the message)."""


@dataclass
class IgtlFrame:
    """One received frame and what the answer must repeat.

    Attributes:
        image: ``(H, W)`` or ``(H, W, 3)`` in the sender's scalar type (native byte order).
        ijk_to_world: ``(4, 4)`` float64 matrix exactly as received.
        world: ``"lps"`` or ``"ras"``, the world the matrix maps into.
        timestamp: the sender's timestamp, seconds since 1970.
        device_name: the sender's device name.
        header_version: OpenIGTLink header version of the message (answers use the same).
    """

    image: np.ndarray
    ijk_to_world: np.ndarray
    world: str
    timestamp: float
    device_name: str
    header_version: int


def frame_from_message(message: ImageMessage) -> IgtlFrame:
    """The frame inside an unpacked pyigtl IMAGE message; raises :class:`FrameRejected`."""
    voxels = message.image
    components = voxels.shape[3] if voxels.ndim == 4 else 1
    if voxels.ndim not in (3, 4) or voxels.shape[0] != 1:
        raise FrameRejected(f"image of size {voxels.shape} (k, j, i) is not a single 2D frame")
    if components not in (1, 3):
        raise FrameRejected(f"image has {components} components; frames must be gray (1) or RGB (3)")
    native = voxels.dtype.newbyteorder("=")
    if native not in [np.dtype(t) for t in FRAME_DTYPES]:
        raise FrameRejected(f"scalar type {native.name} is not supported (use 8- or 16-bit integers)")
    image = voxels[0, :, :, 0] if components == 1 and voxels.ndim == 4 else voxels[0]
    # frombuffer gives a read-only view in the sender's byte order; the segmenter wants native order.
    image = np.ascontiguousarray(image, dtype=native)
    return IgtlFrame(image, np.array(message.ijk_to_world_matrix, dtype=np.float64), message.world_coordinate_system,
                     message.timestamp, message.device_name, message.header_version)


def frame_message(image: np.ndarray, like: IgtlFrame, device_name: str) -> ImageMessage:
    """An IMAGE message carrying ``image`` ``(H, W)`` with the geometry, world and timestamp of ``like``."""
    message = ImageMessage(image[None], timestamp=like.timestamp, device_name=device_name,
                           world_coordinate_system=like.world)
    # The constructor rounds the matrix to float32; the float64 matrix as received packs back
    # to the very bytes the sender sent (pyigtl sends the image centre, recomputed on packing).
    message.ijk_to_world_matrix = like.ijk_to_world
    message.header_version = like.header_version
    return message


def answer_bytes(mask: np.ndarray, like: IgtlFrame, mask_device: str, probability: Optional[np.ndarray] = None,
                 probability_device: Optional[str] = None) -> bytes:
    """The packed answer to one frame: the mask IMAGE, then the probability IMAGE if a device name is given."""
    data = frame_message(mask.astype(np.uint8, copy=False), like, mask_device).pack()
    if probability is not None and probability_device:
        data += frame_message(probability_to_uint8(probability), like, probability_device).pack()
    return data
