"""Per-frame outputs (masks, flicker maps, probabilities) laid out like the recording they describe.

For a sequence the output is a sequence with the same index (name, unit, type and every index
value), so a browser plays both in step, and each item keeps its frame's IJK-to-RAS.  For a
volume whose slices are frames the output is a volume of the same shape and geometry.
"""

import numpy as np

from DTCSegmentationLib.mrml.frame_source import FrameSource
from DTCSegmentationLib.mrml.scene import slicer_module, tag, vtk_matrix
from DTCSegmentationLib.mrml.volume_sequences import VolumeItemWriter


class OutputVolumes:
    """Frames written one by one in frame order, readable back as ``output[i]`` ``(H, W)``.

    Args:
        scene: where the output node is added.
        source: the recording the frames belong to.
        name: the output node's name.
        class_name: volume class of each frame (labelmap or scalar).
        role: the ``DTC.Role`` attribute of the node.
    """

    def __init__(self, scene, source: FrameSource, name: str, class_name: str, role: str):
        self.source = source
        self.class_name = class_name
        if source.sequence is not None:
            self.node = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name)
            self.node.CopySequenceIndex(source.sequence)
            self._writer = VolumeItemWriter(self.node, class_name)
            self._index_values = source.index_values()
        else:
            self.node = scene.AddNewNodeByClass(class_name, name)
            self._slices = None
        tag(self.node, role)
        self.written = 0

    def append(self, frame: np.ndarray) -> None:
        """Add the output ``(H, W)`` of the next frame."""
        index = self.written
        if self.source.sequence is not None:
            self._writer.append(frame, self.source.ijk_to_ras(index), self._index_values[index])
        else:
            if self._slices is None:
                self._slices = np.zeros((len(self.source),) + frame.shape, frame.dtype)
            self._slices[index] = frame
        self.written += 1

    def finish(self) -> None:
        """Complete the node once every frame is written (a volume output gets its voxels now)."""
        if self.source.sequence is None:
            slicer_module().util.updateVolumeFromArray(self.node, self._slices)
            self.node.SetIJKToRASMatrix(vtk_matrix(self.source.ijk_to_ras(0)))

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < self.written:
            raise IndexError(index)
        if self.source.sequence is not None:
            return slicer_module().util.arrayFromVolume(self.node.GetNthDataNode(index))[0]
        return self._slices[index]

    def __len__(self) -> int:
        return self.written
