"""Volume sequences (one 2D frame per item) and the sequence browsers that play them in sync."""

from typing import Optional, Sequence

import numpy as np

from DTCSegmentationLib.mrml.scene import nodes_by_class, sequences_logic, slicer_module, vtk_matrix
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence

IMAGE, LABELMAP = "image", "labelmap"
UNTRACKED_ATTRIBUTE = "DTC.UntrackedFrames"
"""Sequence attribute: space-separated item numbers whose frames had no valid pose (placed by the shared geometry)."""


def volume_class(kind: str, frame: np.ndarray) -> str:
    """MRML volume class for a frame ``(H, W)`` / ``(H, W, 3)``: scalar, vector (RGB) or labelmap."""
    if kind == LABELMAP:
        return "vtkMRMLLabelMapVolumeNode"
    return "vtkMRMLVectorVolumeNode" if np.ndim(frame) == 3 else "vtkMRMLScalarVolumeNode"


class VolumeItemWriter:
    """Appends 2D frames to a sequence node, each as a one-slice volume with its own IJK-to-RAS.

    One scratch volume is reused for every item: the sequence stores a deep copy of it.
    """

    def __init__(self, sequence, class_name: str):
        self.sequence = sequence
        self._volume = getattr(slicer_module(), class_name)()

    def append(self, frame: np.ndarray, ijk_to_ras: np.ndarray, index_value: str) -> None:
        """Add ``frame`` ``(H, W)`` / ``(H, W, 3)`` at ``index_value`` placed by ``ijk_to_ras`` ``(4, 4)`` (RAS mm)."""
        # A 3D array keeps the dtype (updateVolumeFromArray turns a 2D one into float64).
        slicer_module().util.updateVolumeFromArray(self._volume, np.ascontiguousarray(frame)[None])
        self._volume.SetIJKToRASMatrix(vtk_matrix(ijk_to_ras))
        self.sequence.SetDataNodeAtValue(self._volume, index_value)


def frame_ijk_to_ras(sequence: FrameSequence) -> np.ndarray:
    """``(T, 4, 4)`` IJK-to-RAS of each frame: its own pose where it has one, else the shared geometry's."""
    shared = sequence.geometry.ijk_to_ras()
    matrices = np.repeat(shared[None], len(sequence), axis=0)
    if sequence.frame_poses is not None:
        from DTCSegmentationLib.reconstruction.frame_poses import ijk_to_ras, tracked

        poses = sequence.frame_poses
        placed = tracked(poses)
        if placed.any():
            own = ijk_to_ras(poses[placed])
            own[:, :3, 2] *= sequence.geometry.spacing[2]  # the k axis: plane normal x slice thickness
            matrices[placed] = own
    return matrices


def add_volume_sequence(scene, sequence: FrameSequence, name: str, kind: str = IMAGE):
    """A ``vtkMRMLSequenceNode`` of one volume per frame (index = time in s).

    Each item's IJK-to-RAS is its frame's own pose where the sequence has per-frame poses (a tracked
    recording), else the shared geometry's; untracked frames are listed in :data:`UNTRACKED_ATTRIBUTE`.
    """
    node = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name)
    node.SetIndexName("time")
    node.SetIndexUnit("s")
    writer = VolumeItemWriter(node, volume_class(kind, sequence.frames[0]))
    for frame, time, matrix in zip(sequence.frames, sequence.frame_times, frame_ijk_to_ras(sequence)):
        writer.append(frame, matrix, f"{time:.6g}")
    if sequence.frame_poses is not None:
        untracked = np.flatnonzero(~np.isfinite(sequence.frame_poses).all(axis=(1, 2)))
        node.SetAttribute(UNTRACKED_ATTRIBUTE, " ".join(str(index) for index in untracked))
    return node


def add_sequence_browser(scene, sequences: Sequence, name: str = "DTC browser", logic=None):
    """A browser playing ``sequences`` in sync (the first is the master) with their proxy nodes created.

    Args:
        logic: the Sequences module logic (see :func:`~.scene.sequences_logic`; not needed in Slicer
            or for a scene from :func:`~.scene.new_scene`).
    """
    browser = scene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode", name)
    browser.SetAndObserveMasterSequenceNodeID(sequences[0].GetID())
    add_to_browser(scene, browser, sequences[1:], logic)
    return browser


def add_to_browser(scene, browser, sequences: Sequence, logic=None) -> list:
    """Synchronise ``sequences`` with ``browser``; returns their proxy nodes (showing the selected item)."""
    for node in sequences:
        browser.AddSynchronizedSequenceNode(node.GetID())
    logic = sequences_logic(scene, logic)
    if logic is not None:
        logic.UpdateProxyNodesFromSequences(browser)
    return [browser.GetProxyNode(node) for node in sequences]


def browser_of_sequence(scene, sequence) -> Optional[object]:
    """The first browser that plays ``sequence`` (as master or synchronised), or None."""
    for browser in nodes_by_class(scene, "vtkMRMLSequenceBrowserNode"):
        if browser.IsSynchronizedSequenceNodeID(sequence.GetID(), True):
            return browser
    return None


def browser_of_proxy(scene, node) -> Optional[object]:
    """The first browser whose proxy ``node`` is, or None."""
    for browser in nodes_by_class(scene, "vtkMRMLSequenceBrowserNode"):
        if browser.IsProxyNodeID(node.GetID()):
            return browser
    return None
