"""Masks as Slicer segmentations: one "Prostate" segment per frame, and conversion to and from labelmaps.

A segmentation sequence holds one ``vtkMRMLSegmentationNode`` per frame, each with one segment
whose ID and name are :data:`PROSTATE_SEGMENT` (the same ID on every frame, so the Segment Editor
keeps it selected while the browser moves), Slicer's recommended colour for the prostate and its
terminology entry, and the frame's pixel grid as the reference geometry (the Segment Editor edits
on the image's pixels).  Masks are read back on a frame's pixel grid by nearest-neighbour
resampling of the segment's binary labelmap (Slicer stores it cropped to its extent).

Conversions both ways (:func:`segmentations_from_labelmaps`, :func:`labelmaps_from_segmentations`)
take a sequence synchronised with a recording's browser and add the new one to the same browser.
"""

from typing import Optional, Tuple

import numpy as np

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.mrml.scene import ijk_to_ras, slicer_module, vtk_matrix
from DTCSegmentationLib.mrml.volume_sequences import (
    VolumeItemWriter,
    add_to_browser,
    browser_of_proxy,
    browser_of_sequence,
)

PROSTATE_SEGMENT = "Prostate"
PROSTATE_COLOR = (230 / 255.0, 158 / 255.0, 140 / 255.0)
"""Slicer's recommended display colour for the prostate (RGB 230, 158, 140): SCT 41216001 "Prostate" in
``Modules/Loadable/Terminologies/Resources/SegmentationCategoryTypeModifier-SlicerGeneralAnatomy.json``."""
PROSTATE_TERMINOLOGY = ("Segmentation category and type - 3D Slicer General Anatomy list"
                        "~SCT^123037004^Anatomical Structure~SCT^41216001^Prostate~^^"
                        "~Anatomic codes - DICOM master list~^^~^^")
"""The segment's terminology entry in the serialized form ``vtkSegment`` stores (context, category, type, no
modifier, region context, no region), laid out like the default entry ``vtkSegment``'s constructor sets."""


def register_segmentation_converters() -> None:
    """Headless there is no Segmentations module to register the representation converters; do it once.

    Without them a segmentation cannot even create an empty binary labelmap (``vtkSegmentation::AddSegment``).
    In Slicer the module has registered them already and this does nothing.
    """
    slicer = slicer_module()
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    if not factory.GetConverterRules():
        factory.RegisterConverterRule(slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule())
        factory.RegisterConverterRule(slicer.vtkClosedSurfaceToBinaryLabelmapConversionRule())


def frame_labelmap(mask: np.ndarray, ijk_to_ras: np.ndarray):
    """A ``vtkMRMLLabelMapVolumeNode`` (not in a scene) holding ``mask`` ``(H, W)`` as 0/1, placed by the frame's
    ``(4, 4)`` IJK-to-RAS (mm)."""
    slicer = slicer_module()
    labelmap = slicer.vtkMRMLLabelMapVolumeNode()
    slicer.util.updateVolumeFromArray(labelmap, (np.asarray(mask) > 0).astype(np.uint8)[None])
    labelmap.SetIJKToRASMatrix(vtk_matrix(ijk_to_ras))
    return labelmap


def frame_image(mask: np.ndarray, ijk_to_ras: np.ndarray):
    """:func:`frame_labelmap` as the ``vtkOrientedImageData`` the segmentation logic takes."""
    return slicer_module().vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(
        frame_labelmap(mask, ijk_to_ras))


def segmentation_on_grid(image):
    """An empty ``vtkMRMLSegmentationNode`` (not in a scene) whose reference geometry is ``image``'s grid, so
    that Slicer edits its segments on the frame's pixels."""
    slicer = slicer_module()
    register_segmentation_converters()
    node = slicer.vtkMRMLSegmentationNode()
    node.GetSegmentation().SetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
        slicer.vtkSegmentationConverter.SerializeImageGeometry(image))
    return node


def segmentation_item(mask: np.ndarray, ijk_to_ras: np.ndarray):
    """A ``vtkMRMLSegmentationNode`` (not in a scene) holding ``mask`` ``(H, W)`` (non-zero = prostate) as the
    :data:`PROSTATE_SEGMENT` segment, placed by the frame's ``(4, 4)`` IJK-to-RAS (mm)."""
    slicer = slicer_module()
    image = frame_image(mask, ijk_to_ras)
    node = segmentation_on_grid(image)
    segmentation = node.GetSegmentation()
    segment_id = segmentation.AddEmptySegment(PROSTATE_SEGMENT, PROSTATE_SEGMENT, list(PROSTATE_COLOR))
    # the tag vtkSegment::SetTerminology (Slicer 5.9+) writes; 5.6 and 5.8 have only the tag
    segmentation.GetSegment(segment_id).SetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), PROSTATE_TERMINOLOGY)
    if not slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(image, node, segment_id):
        raise DTCError("a mask could not be stored as a segment.", fix="Check the frame has a valid geometry.")
    return node


def replace_segment(node, mask: np.ndarray, ijk_to_ras: np.ndarray, segment_id: str = PROSTATE_SEGMENT) -> None:
    """Replace ``segment_id`` of the segmentation ``node`` by ``mask`` ``(H, W)`` (non-zero = in) placed by the
    ``(4, 4)`` IJK-to-RAS (mm): the call Segment Editor effects end in (``SetBinaryLabelmapToSegment``, replace)."""
    logic = slicer_module().vtkSlicerSegmentationsModuleLogic
    if not logic.SetBinaryLabelmapToSegment(frame_image(mask, ijk_to_ras), node, segment_id, logic.MODE_REPLACE):
        raise DTCError(f"segment '{segment_id}' could not be replaced.", fix="Check the segmentation has that segment.")


def on_frame_grid(image, shape: Tuple[int, int], ijk_to_ras: np.ndarray) -> np.ndarray:
    """``image`` (a vtkOrientedImageData) resampled (nearest neighbour) onto a frame's pixels: ``(H, W)``."""
    from vtk.util import numpy_support

    slicer = slicer_module()
    reference = slicer.vtkOrientedImageData()
    reference.SetExtent(0, shape[1] - 1, 0, shape[0] - 1, 0, 0)
    reference.SetImageToWorldMatrix(vtk_matrix(ijk_to_ras))
    resampled = slicer.vtkOrientedImageData()
    if not slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
            image, reference, resampled, False, False):
        raise DTCError("a mask could not be resampled to its frame.", fix="Check the mask overlaps the image.")
    return numpy_support.vtk_to_numpy(resampled.GetPointData().GetScalars()).reshape(shape)


def labelmap_mask(node, shape: Tuple[int, int], ijk_to_ras: np.ndarray) -> np.ndarray:
    """A labelmap volume node (> 0 = prostate) on a frame's pixel grid: ``(H, W)`` uint8 0/1."""
    slicer = slicer_module()
    image = slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(node)
    return (on_frame_grid(image, shape, ijk_to_ras) > 0).astype(np.uint8)


def segment_mask(node, segment_id: str, shape: Tuple[int, int], ijk_to_ras: np.ndarray) -> Optional[np.ndarray]:
    """Segment ``segment_id`` of a segmentation node on a frame's pixel grid: ``(H, W)`` uint8 0/1.

    None if the segment has no binary labelmap (e.g. a segmentation holding only surfaces).
    """
    slicer = slicer_module()
    register_segmentation_converters()
    image = slicer.vtkOrientedImageData()
    if not slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(node, segment_id, image, False):
        return None
    label = node.GetSegmentation().GetSegment(segment_id).GetLabelValue()
    # segments may share one labelmap layer, told apart by their label value
    return (on_frame_grid(image, shape, ijk_to_ras) == label).astype(np.uint8)


def prostate_segment_id(node) -> Optional[str]:
    """The ID of a segmentation's prostate segment: :data:`PROSTATE_SEGMENT`, else the only segment, else the one
    named "prostate" (any case); None if there is none."""
    segmentation = node.GetSegmentation()
    if segmentation.GetSegment(PROSTATE_SEGMENT) is not None:
        return PROSTATE_SEGMENT
    count = segmentation.GetNumberOfSegments()
    if count == 1:
        return segmentation.GetNthSegmentID(0)
    for index in range(count):
        if segmentation.GetNthSegment(index).GetName().lower() == "prostate":
            return segmentation.GetNthSegmentID(index)
    return None


def segmentations_from_labelmaps(scene, masks, name: Optional[str] = None, logic=None):
    """A segmentation sequence made from a labelmap sequence (or its proxy), played by the same browser.

    Each item is the labelmap item (> 0) as the :data:`PROSTATE_SEGMENT` segment on the labelmap's own grid;
    the index values are the labelmap sequence's.  The browser saves changes made to the new proxy
    (``vtkMRMLSequenceBrowserNode::SetSaveChanges``), so Segment Editor edits go into the frame's item.

    Args:
        masks: a ``vtkMRMLSequenceNode`` of labelmap volumes, or its proxy node.
        name: the new sequence's name (default: the labelmap sequence's + " segmentation").
        logic: the Sequences module logic (not needed in Slicer or for a scene from ``new_scene``).
    Returns:
        The new ``vtkMRMLSequenceNode``.
    """
    slicer = slicer_module()
    labelmaps = _sequence_of(scene, masks, "vtkMRMLLabelMapVolumeNode")
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name or f"{labelmaps.GetName()} segmentation")
    sequence.CopySequenceIndex(labelmaps)
    for item in range(labelmaps.GetNumberOfDataNodes()):
        volume = labelmaps.GetNthDataNode(item)
        mask = slicer.util.arrayFromVolume(volume)[0]
        sequence.SetDataNodeAtValue(segmentation_item(mask, ijk_to_ras(volume)), labelmaps.GetNthIndexValue(item))
    browser = browser_of_sequence(scene, labelmaps)
    if browser is not None:
        attach_segmentations(scene, browser, sequence, logic)
    return sequence


def attach_segmentations(scene, browser, sequence, logic=None):
    """Play a segmentation sequence in ``browser`` with changes saved into it; returns the shown proxy node."""
    proxy = add_to_browser(scene, browser, [sequence], logic)[0]
    # Off by default: the Sequences logic would then throw away every edit made to the proxy
    # when the browser moves on (vtkSlicerSequencesLogic::UpdateSequencesFromProxyNodes).
    browser.SetSaveChanges(sequence, True)
    if proxy is not None and proxy.GetDisplayNode() is None:
        proxy.CreateDefaultDisplayNodes()
    return proxy


def labelmaps_from_segmentations(scene, segmentations, frames=None, name: Optional[str] = None, logic=None):
    """A labelmap sequence (values 0/1) made from a segmentation sequence (or its proxy), on the frames' grids.

    Args:
        segmentations: a ``vtkMRMLSequenceNode`` of segmentation nodes, or its proxy node.
        frames: the recording whose frames give each item's pixel grid (browser, volume sequence or proxy;
            default: the master sequence of the browser that plays ``segmentations``).
        name: the new sequence's name (default: the segmentation sequence's + " labelmap").
    Returns:
        The new ``vtkMRMLSequenceNode``; an item without a prostate segment becomes an empty mask.
    """
    sequence = _sequence_of(scene, segmentations, "vtkMRMLSegmentationNode")
    browser = browser_of_sequence(scene, sequence)
    source = frame_source(scene, frames if frames is not None else browser)
    lookup = frame_lookup(source)
    labelmaps = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name or f"{sequence.GetName()} labelmap")
    labelmaps.CopySequenceIndex(sequence)
    writer = VolumeItemWriter(labelmaps, "vtkMRMLLabelMapVolumeNode")
    for item in range(sequence.GetNumberOfDataNodes()):
        value = sequence.GetNthIndexValue(item)
        index = lookup(value)
        if index is None:
            raise DTCError(f"'{sequence.GetName()}' has an item at index value {value}, which is no frame of "
                           f"'{source.name}'.", fix="Give the recording the segmentations were made on.")
        writer.append(frame_mask(sequence.GetNthDataNode(item), source, index), source.ijk_to_ras(index), value)
    if browser is not None:
        add_to_browser(scene, browser, [labelmaps], logic)
    return labelmaps


def frame_mask(node, source: FrameSource, index: int) -> np.ndarray:
    """The prostate of a segmentation or labelmap node on frame ``index``'s grid: ``(H, W)`` uint8 0/1
    (zeros for a segmentation without a prostate segment)."""
    shape, matrix = source[index].shape[:2], source.ijk_to_ras(index)
    if node.IsA("vtkMRMLLabelMapVolumeNode"):
        return labelmap_mask(node, shape, matrix)
    segment_id = prostate_segment_id(node)
    mask = segment_mask(node, segment_id, shape, matrix) if segment_id is not None else None
    return mask if mask is not None else np.zeros(shape, np.uint8)


def frame_lookup(source: FrameSource):
    """A function from a sequence index value to the frame index of ``source`` (None if no frame has it);
    numbers match by value ("0.50" and "0.5" name the same frame)."""
    values = source.index_values()
    exact = {value: index for index, value in enumerate(values)}
    numbers = {}
    for index, value in enumerate(values):
        try:
            numbers.setdefault(float(value), index)
        except ValueError:
            pass

    def lookup(value: str) -> Optional[int]:
        if value in exact:
            return exact[value]
        try:
            return numbers.get(float(value))
        except ValueError:
            return None

    return lookup


def _sequence_of(scene, node, item_class: str):
    """``node`` if it is a sequence of ``item_class`` items, the sequence whose proxy it is, else a DTCError."""
    sequence = node
    if node is not None and not node.IsA("vtkMRMLSequenceNode"):
        browser = browser_of_proxy(scene, node)
        sequence = browser.GetSequenceNode(node) if browser is not None else None
    items = [sequence.GetNthDataNode(i) for i in range(sequence.GetNumberOfDataNodes())] if sequence is not None else []
    if not items or not all(item is not None and item.IsA(item_class) for item in items):
        what = "nothing" if node is None else f"'{node.GetName()}' ({node.GetClassName()})"
        kind = "segmentation" if "Segmentation" in item_class else "labelmap"
        raise DTCError(f"expected a sequence of {kind} nodes (or its proxy), got {what}.",
                       fix=f"Choose the {kind} sequence a recording's browser plays.")
    return sequence
