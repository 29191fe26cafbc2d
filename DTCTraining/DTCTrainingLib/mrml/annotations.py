"""Annotated recordings in a scene: image sequences paired with (possibly sparse) segmentation or labelmap sequences.

:func:`annotated_recordings` finds the pairs each browser plays; :func:`add_annotation_sequence`
makes such a mask sequence from arrays; :func:`frame_annotations` reads the masks of one pair on
the frames' own pixel grids.
"""

from dataclasses import dataclass
from typing import Collection, Dict, List, Mapping, Optional

import numpy as np
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.mrml.scene import ROLE_ATTRIBUTE, nodes_by_class, slicer_module
from DTCSegmentationLib.mrml.segmentations import (
    frame_labelmap,
    frame_lookup,
    labelmap_mask,
    segment_mask,
    segmentation_on_grid,
)
from DTCSegmentationLib.mrml.volume_sequences import add_to_browser, browser_of_proxy

MASK_CLASSES = ("vtkMRMLSegmentationNode", "vtkMRMLLabelMapVolumeNode")


@dataclass
class SceneRecording:
    """One annotated recording in a scene.

    Attributes:
        images: the recording: a browser, a volume sequence or its proxy volume.
        masks: a sequence of segmentation or labelmap nodes (or its proxy node) whose index
            values are the recording's: frames without an item, or with an empty one (a browser
            adds those), are unannotated.
        case_id: case name in the manifest (default: the image sequence's name).
        patient: the unit of the split (default: ``case_id``).
        view: ``axial``, ``sagittal`` or ``other``.
        split: ``train``, ``val`` or ``test``; empty lets :func:`write_training_data` choose.
        frames: only these frame indices count as annotated (e.g. the frames a user corrected); the
            masks of the others are ignored and those frames are unlabelled video.  None: every mask item.
    """

    images: object
    masks: object
    case_id: str = ""
    patient: str = ""
    view: str = "other"
    split: str = ""
    frames: Optional[Collection[int]] = None


def annotated_recordings(scene) -> List[SceneRecording]:
    """Every browser's image sequence with the first segmentation / labelmap sequence it plays.

    Outputs DTC made (tagged with a ``DTC.Role``, e.g. predicted masks) are not annotations and are skipped.
    """
    import vtk

    found = []
    for browser in nodes_by_class(scene, "vtkMRMLSequenceBrowserNode"):
        try:
            images = frame_source(scene, browser).sequence
        except DTCError:
            continue
        synchronized = vtk.vtkCollection()
        browser.GetSynchronizedSequenceNodes(synchronized, True)
        sequences = [synchronized.GetItemAsObject(index) for index in range(synchronized.GetNumberOfItems())]
        masks = [node for node in sequences if _item_class(node) in MASK_CLASSES and not node.GetAttribute(ROLE_ATTRIBUTE)]
        masks.sort(key=lambda node: MASK_CLASSES.index(_item_class(node)))
        if masks:
            found.append(SceneRecording(images, masks[0]))
    return found


def add_annotation_sequence(scene, images, masks: Mapping[int, np.ndarray], name: str = "annotations",
                            kind: str = "segmentation", segment: str = "prostate", logic=None):
    """Masks of some frames of a recording as a sequence, the layout :func:`write_training_data` reads.

    Args:
        images: the recording (browser, volume sequence or its proxy).
        masks: ``{frame index: (H, W) array}``, non-zero = prostate, on that frame's pixel grid.
        kind: ``"segmentation"`` (one segment named ``segment`` per item) or ``"labelmap"``.
        logic: the Sequences module logic that updates the browser's proxies (not needed in
            Slicer; headless, the one ``new_scene`` made is used).
    Returns:
        The ``vtkMRMLSequenceNode``; each item sits at its frame's index value.
    """
    if kind not in ("segmentation", "labelmap"):
        raise ValueError(f"kind must be segmentation or labelmap, got {kind!r}")
    slicer = slicer_module()
    source = frame_source(scene, images)
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name)
    if source.sequence is not None:
        sequence.CopySequenceIndex(source.sequence)
    values = source.index_values()
    for index, mask in sorted(masks.items()):
        item = frame_labelmap(mask, source.ijk_to_ras(index))
        if kind == "segmentation":
            image = slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(item)
            item = segmentation_on_grid(image)
            slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(
                image, item, item.GetSegmentation().AddEmptySegment("", segment))
        sequence.SetDataNodeAtValue(item, values[index])
    if source.browser is not None:
        add_to_browser(scene, source.browser, [sequence], logic)
    return sequence


def _mask_sequence(scene, node):
    if node is not None and node.IsA("vtkMRMLSequenceNode"):
        sequence = node
    else:
        browser = browser_of_proxy(scene, node) if node is not None else None
        sequence = browser.GetSequenceNode(node) if browser is not None else None
    if sequence is None or _item_class(sequence) not in MASK_CLASSES:
        what = "nothing" if node is None else f"'{node.GetName()}' ({node.GetClassName()})"
        raise DTCError(f"the masks must be a sequence of segmentations or labelmaps, got {what}.",
                       fix="Record the annotations in a segmentation sequence played by the recording's browser.")
    return sequence


def _item_class(sequence) -> str:
    """The class of the sequence's items; a browser leaves empty items where a synchronised sequence has none."""
    for item in range(sequence.GetNumberOfDataNodes()):
        node = sequence.GetNthDataNode(item)
        if node is not None:
            return node.GetClassName()
    return ""


def frame_annotations(scene, masks_node, source: FrameSource, segment: Optional[str],
                      frames: Optional[Collection[int]] = None) -> Dict[int, np.ndarray]:
    """``{frame index: (H, W) uint8 mask}`` for every mask item (frames matched by index value), only of
    ``frames`` if given."""
    sequence = _mask_sequence(scene, masks_node)
    frame_of_value = frame_lookup(source)
    result = {}
    for item in range(sequence.GetNumberOfDataNodes()):
        node = sequence.GetNthDataNode(item)
        if node is None:  # an empty item: the frame is not annotated
            continue
        value = sequence.GetNthIndexValue(item)
        index = frame_of_value(value)
        if index is None:
            raise DTCError(f"mask sequence '{sequence.GetName()}' has an item at index value {value}, which is no "
                           f"frame of '{source.name}'.",
                           fix="Record the masks in a sequence synchronised with the recording's browser.")
        if frames is not None and index not in frames:
            continue
        shape = source[index].shape[:2]
        if node.IsA("vtkMRMLSegmentationNode"):
            mask = _segment_mask(node, segment, shape, source.ijk_to_ras(index), sequence.GetName(), value)
        else:
            mask = labelmap_mask(node, shape, source.ijk_to_ras(index))
        if mask is not None:
            result[index] = mask
    return result


def _segment_mask(node, segment: Optional[str], shape, ijk_to_ras, sequence_name: str, value: str) -> Optional[np.ndarray]:
    """The chosen segment on the frame grid; None for an item without segments (an unannotated frame)."""
    if node.GetSegmentation().GetNumberOfSegments() == 0:
        return None
    mask = segment_mask(node, _segment_id(node.GetSegmentation(), segment, sequence_name, value), shape, ijk_to_ras)
    if mask is None:
        raise DTCError(f"segment of '{sequence_name}' at index value {value} has no binary labelmap.",
                       fix="Convert the segmentation to a binary labelmap (Segmentations module).")
    return mask


def _segment_id(segmentation, segment: Optional[str], sequence_name: str, value: str) -> str:
    names = [segmentation.GetNthSegment(index).GetName() for index in range(segmentation.GetNumberOfSegments())]
    wanted = segment or ("prostate" if len(names) > 1 else names[0])
    matches = [index for index, name in enumerate(names) if name.lower() == wanted.lower()]
    if not matches:
        raise DTCError(f"'{sequence_name}' at index value {value} has no segment named {wanted!r} "
                       f"(it has {', '.join(names)}).", fix="Name the prostate segment, or choose the segment to train on.")
    return segmentation.GetNthSegmentID(matches[0])


