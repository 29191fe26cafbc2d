"""The frames of a recording held in a scene, read one at a time with their geometry and times.

A recording is a volume sequence (played by a sequence browser, or on its own), or one volume
whose slices are the frames (a 2D+t recording loaded as a 3D volume; a single 2D image is the
one-frame case).  A browser or a proxy volume stands for the sequence it plays.
"""

from typing import List

import numpy as np

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.scene import ROLE_ATTRIBUTE, ijk_to_ras, slicer_module
from DTCSegmentationLib.mrml.volume_sequences import browser_of_proxy, browser_of_sequence

_IMAGE_CLASSES = ("vtkMRMLScalarVolumeNode", "vtkMRMLVectorVolumeNode")
_SECONDS_PER_UNIT = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6}


def _is_image_volume(class_name: str) -> bool:
    return class_name in _IMAGE_CLASSES


def _is_recording(sequence) -> bool:
    """A sequence of image volumes that is not itself a DTC output (flicker or probability maps)."""
    return _is_image_volume(sequence.GetDataNodeClassName()) and sequence.GetAttribute(ROLE_ATTRIBUTE) is None


class FrameSource:
    """Frames of a recording in the scene: ``len()``, ``source[i]`` -> ``(H, W)`` / ``(H, W, 3)`` array.

    Attributes:
        sequence: the volume sequence node (None for a volume).
        volume: the volume node whose slices are the frames (None for a sequence).
        browser: the browser playing ``sequence`` (None if there is none).
        name: the recording's node name.
    """

    def __init__(self, sequence=None, volume=None, browser=None):
        self.sequence, self.volume, self.browser = sequence, volume, browser
        self.name = (sequence or volume).GetName()
        if sequence is not None:
            self._count = sequence.GetNumberOfDataNodes()
        else:
            self._volume_array = slicer_module().util.arrayFromVolume(volume)
            self._count = self._volume_array.shape[0]
        if self._count == 0:
            raise DTCError(f"'{self.name}' holds no frames.", fix="Select a sequence or volume with image data.")

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < self._count:
            raise IndexError(index)
        if self.volume is not None:
            return self._volume_array[index]
        node = self.sequence.GetNthDataNode(index)
        array = slicer_module().util.arrayFromVolume(node)
        if array.shape[0] != 1:
            raise DTCError(f"item {index} of '{self.name}' is a 3D volume ({array.shape[0]} slices), not a 2D frame.",
                           fix="Segment a sequence of 2D ultrasound frames.")
        return array[0]

    def __iter__(self):
        return (self[index] for index in range(self._count))

    def ijk_to_ras(self, index: int) -> np.ndarray:
        """``(4, 4)`` IJK-to-RAS of frame ``index`` (for a volume: of the volume, whose slice ``index`` it is)."""
        if self.volume is not None:
            return ijk_to_ras(self.volume)
        return ijk_to_ras(self.sequence.GetNthDataNode(index))

    def frame_ijk_to_ras(self, index: int) -> np.ndarray:
        """``(4, 4)`` IJK-to-RAS placing frame ``index`` on its own (a volume's slice moved to ``k = 0``)."""
        matrix = self.ijk_to_ras(index)
        if self.volume is not None:
            matrix = matrix.copy()
            matrix[:3, 3] += matrix[:3, 2] * index
        return matrix

    def pixel_area(self) -> float:
        """Area of one pixel of the first frame, mm^2."""
        axes = self.ijk_to_ras(0)[:3, :2]
        return float(np.linalg.norm(axes[:, 0]) * np.linalg.norm(axes[:, 1]))

    def index_values(self) -> List[str]:
        """The sequence's index value of each frame (frame numbers for a volume)."""
        if self.sequence is None:
            return [str(index) for index in range(self._count)]
        return [self.sequence.GetNthIndexValue(index) for index in range(self._count)]

    def times(self) -> np.ndarray:
        """``(T,)`` seconds from the sequence's numeric index (in s or ms), else the frame numbers (see :meth:`time_unit`)."""
        numbers = np.arange(self._count, dtype=float)
        if self.time_unit() == "frame":
            return numbers
        try:
            values = np.array([float(value) for value in self.index_values()])
        except ValueError:
            return numbers
        return values * _SECONDS_PER_UNIT[self.sequence.GetIndexUnit().strip().lower()]

    def time_unit(self) -> str:
        """``"s"`` where the sequence's index is a time in a known unit, else ``"frame"``."""
        if self.sequence is None or self.sequence.GetIndexType() != self.sequence.NumericIndex:
            return "frame"
        return "s" if self.sequence.GetIndexUnit().strip().lower() in _SECONDS_PER_UNIT else "frame"

    def time_label(self) -> str:
        """Axis title for :meth:`times`."""
        return "time (s)" if self.time_unit() == "s" else "frame"


def frame_source(scene, node) -> FrameSource:
    """The recording ``node`` stands for: a sequence browser, a volume sequence, a proxy volume or a volume.

    A browser gives its master sequence if that holds image volumes, else its first synchronised
    sequence that does.  Raises :class:`DTCError` for anything else (e.g. a labelmap, or no node).
    """
    if node is None:
        raise DTCError("no input selected.", fix="Select a sequence browser, volume sequence or volume.")
    class_name = node.GetClassName()
    if class_name == "vtkMRMLSequenceBrowserNode":
        return FrameSource(_image_sequence_of_browser(node), browser=node)
    if _is_image_volume(class_name):
        browser = browser_of_proxy(scene, node)
        if browser is None:
            if node.GetAttribute(ROLE_ATTRIBUTE) is not None:
                raise DTCError(f"'{node.GetName()}' is a DTC output, not ultrasound frames.",
                               fix="Select the recording that was segmented.")
            return FrameSource(volume=node)
        node, class_name = browser.GetSequenceNode(node), "vtkMRMLSequenceNode"
    if class_name == "vtkMRMLSequenceNode":
        if not _is_recording(node):
            raise DTCError(f"sequence '{node.GetName()}' holds {node.GetDataNodeClassName() or 'nothing'}"
                           f"{' (a DTC output)' if node.GetAttribute(ROLE_ATTRIBUTE) else ''}, not ultrasound frames.",
                           fix="Select a sequence of ultrasound image volumes.")
        return FrameSource(node, browser=browser_of_sequence(scene, node))
    raise DTCError(f"'{node.GetName()}' is a {class_name}, which holds no ultrasound frames.",
                   fix="Select a sequence browser, volume sequence or scalar/RGB volume.")


def _image_sequence_of_browser(browser):
    import vtk

    synchronized = vtk.vtkCollection()
    browser.GetSynchronizedSequenceNodes(synchronized, True)  # the master comes first
    for index in range(synchronized.GetNumberOfItems()):
        sequence = synchronized.GetItemAsObject(index)
        if _is_recording(sequence):
            return sequence
    raise DTCError(f"browser '{browser.GetName()}' plays no sequence of image volumes.",
                   fix="Select a browser of an ultrasound recording.")
