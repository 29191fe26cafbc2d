"""MRML adapter of the training side: training data from a scene, training progress as table and chart.

* :func:`write_training_data` turns recordings in a scene (an image volume sequence and a
  segmentation or labelmap sequence that may hold masks for only some frames) into a
  training-data folder with a ``dataset.json`` manifest, for ``dtc train``.
* :func:`annotated_recordings` finds those pairs in a scene: the sequences each browser plays;
  :func:`add_annotation_sequence` makes such a mask sequence from arrays.
* :func:`training_curves` shows the trainer's JSON events as a ``vtkMRMLTableNode`` and a
  ``vtkMRMLPlotChartNode`` (loss and validation Dice per epoch), updated as events arrive.

Like ``DTCSegmentationLib.mrml`` this takes the scene as an argument and uses no Qt, so it runs
headless on the ``slicer-core`` wheel.
"""

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.mrml.consistency_nodes import add_chart
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.mrml.scene import ROLE_ATTRIBUTE, nodes_by_class, slicer_module, tag, vtk_matrix
from DTCSegmentationLib.mrml.volume_sequences import add_to_browser, browser_of_proxy
from DTCSegmentationLib.sequence import FrameGeometry
from DTCSegmentationLib.sequence_io import open_writer

from .manifest import Case, Manifest, write_manifest

MASK_CLASSES = ("vtkMRMLSegmentationNode", "vtkMRMLLabelMapVolumeNode")
CURVES_ROLE = "training curves"


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
    """

    images: object
    masks: object
    case_id: str = ""
    patient: str = ""
    view: str = "other"
    split: str = ""


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
    segmentations = slicer.vtkSlicerSegmentationsModuleLogic
    for index, mask in sorted(masks.items()):
        labelmap = slicer.vtkMRMLLabelMapVolumeNode()
        slicer.util.updateVolumeFromArray(labelmap, (np.asarray(mask) > 0).astype(np.uint8)[None])
        labelmap.SetIJKToRASMatrix(vtk_matrix(source.ijk_to_ras(index)))
        item = labelmap
        if kind == "segmentation":
            _register_segmentation_converters()
            image = segmentations.CreateOrientedImageDataFromVolumeNode(labelmap)
            item = slicer.vtkMRMLSegmentationNode()
            segmentation = item.GetSegmentation()
            # the frame's grid as the reference geometry, so Slicer edits the masks on the image's pixels
            segmentation.SetConversionParameter(
                slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
                slicer.vtkSegmentationConverter.SerializeImageGeometry(image))
            segmentations.SetBinaryLabelmapToSegment(image, item, segmentation.AddEmptySegment("", segment))
        sequence.SetDataNodeAtValue(item, values[index])
    if source.browser is not None:
        add_to_browser(scene, source.browser, [sequence], logic)
    return sequence


def write_training_data(scene, recordings: Iterable[Union[SceneRecording, Tuple[object, object]]], out: PathLike,
                        name: str = "slicer-scene", segment: Optional[str] = None, overwrite: bool = False) -> Path:
    """Write each recording as ``out/<case>/images.seq.nrrd`` and ``masks.seq.nrrd`` plus ``out/dataset.json``.

    Masks are binary (the chosen segment, or labelmap > 0) on each frame's own pixel grid;
    frames whose index value has no mask item are left out of ``labelled_frames``.  Unless a
    recording names its split, the last of two or more recordings is the validation case.
    The folder appears only when complete.

    Args:
        recordings: :class:`SceneRecording` objects or ``(images, masks)`` pairs.
        segment: name of the segment that is the prostate; default the only segment, or one
            named ``prostate``.
    Returns:
        The manifest path.
    """
    recordings = [r if isinstance(r, SceneRecording) else SceneRecording(*r) for r in recordings]
    if not recordings:
        raise DTCError("no annotated recordings were given.", fix="Add a segmentation sequence to a recording's browser.")
    splits = _splits(recordings)
    out = Path(out)
    cases, used = [], set()
    with atomic_output(out, overwrite=overwrite, directory=True) as folder:
        for recording, split in zip(recordings, splits):
            source = frame_source(scene, recording.images)
            case_id = _unique(_safe_name(recording.case_id or source.name), used)
            masks = _annotations(scene, recording.masks, source, segment)
            (folder / case_id).mkdir()
            _write_frames(folder / case_id, source, masks)
            cases.append(Case(id=case_id, patient=recording.patient or case_id, view=recording.view, split=split,
                              frames=folder / case_id / "images.seq.nrrd", masks=folder / case_id / "masks.seq.nrrd",
                              labelled_frames=tuple(sorted(masks))))
        write_manifest(Manifest(root=folder, name=name, cases=cases))
    return out / "dataset.json"


def _splits(recordings: Sequence[SceneRecording]) -> List[str]:
    splits = [recording.split or "train" for recording in recordings]
    if len(recordings) > 1 and "val" not in splits and not recordings[-1].split:
        splits[-1] = "val"
    return splits


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "case"


def _unique(name: str, used: set) -> str:
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}_{number}", number + 1
    used.add(candidate)
    return candidate


def _write_frames(folder: Path, source: FrameSource, masks: Dict[int, np.ndarray]) -> None:
    geometry = FrameGeometry.from_ijk_to_ras(source.frame_ijk_to_ras(0))
    times = source.times()
    with open_writer(folder / "images.seq.nrrd", geometry, "image") as images, \
            open_writer(folder / "masks.seq.nrrd", geometry, "labelmap") as labels:
        for index, frame in enumerate(source):
            images.write(frame, float(times[index]))
            mask = masks.get(index)
            labels.write(mask if mask is not None else np.zeros(frame.shape[:2], np.uint8), float(times[index]))


# ---------------------------------------------------------------------- annotations
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


def _annotations(scene, masks_node, source: FrameSource, segment: Optional[str]) -> Dict[int, np.ndarray]:
    """``{frame index: (H, W) uint8 mask}`` for every mask item (frames matched by index value)."""
    sequence = _mask_sequence(scene, masks_node)
    frame_of_value = _frame_lookup(source)
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
        shape = source[index].shape[:2]
        if node.IsA("vtkMRMLSegmentationNode"):
            mask = _segment_mask(node, segment, shape, source.ijk_to_ras(index), sequence.GetName(), value)
        else:
            mask = _labelmap_mask(node, shape, source.ijk_to_ras(index))
        if mask is not None:
            result[index] = mask
    return result


def _frame_lookup(source: FrameSource):
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
            return numbers.get(float(value))  # "0.50" and "0.5" name the same frame
        except ValueError:
            return None

    return lookup


def _register_segmentation_converters() -> None:
    """Headless there is no Segmentations module to register the representation converters; do it once."""
    slicer = slicer_module()
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    if not factory.GetConverterRules():
        factory.RegisterConverterRule(slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule())
        factory.RegisterConverterRule(slicer.vtkClosedSurfaceToBinaryLabelmapConversionRule())


def _on_frame_grid(image, shape: Tuple[int, int], ijk_to_ras: np.ndarray) -> np.ndarray:
    """``image`` (a vtkOrientedImageData) resampled (nearest neighbour) onto the frame's pixels: ``(H, W)``."""
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


def _labelmap_mask(node, shape, ijk_to_ras) -> np.ndarray:
    slicer = slicer_module()
    image = slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(node)
    return (_on_frame_grid(image, shape, ijk_to_ras) > 0).astype(np.uint8)


def _segment_mask(node, segment: Optional[str], shape, ijk_to_ras, sequence_name: str, value: str) -> Optional[np.ndarray]:
    """The chosen segment on the frame grid; None for an item without segments (an unannotated frame)."""
    slicer = slicer_module()
    _register_segmentation_converters()
    segmentation = node.GetSegmentation()
    if segmentation.GetNumberOfSegments() == 0:
        return None
    segment_id = _segment_id(segmentation, segment, sequence_name, value)
    image = slicer.vtkOrientedImageData()
    if not slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(node, segment_id, image, False):
        raise DTCError(f"segment of '{sequence_name}' at index value {value} has no binary labelmap.",
                       fix="Convert the segmentation to a binary labelmap (Segmentations module).")
    label = segmentation.GetSegment(segment_id).GetLabelValue()
    # segments may share one labelmap layer, told apart by their label value
    return (_on_frame_grid(image, shape, ijk_to_ras) == label).astype(np.uint8)


def _segment_id(segmentation, segment: Optional[str], sequence_name: str, value: str) -> str:
    names = [segmentation.GetNthSegment(index).GetName() for index in range(segmentation.GetNumberOfSegments())]
    wanted = segment or ("prostate" if len(names) > 1 else names[0])
    matches = [index for index, name in enumerate(names) if name.lower() == wanted.lower()]
    if not matches:
        raise DTCError(f"'{sequence_name}' at index value {value} has no segment named {wanted!r} "
                       f"(it has {', '.join(names)}).", fix="Name the prostate segment, or choose the segment to train on.")
    return segmentation.GetNthSegmentID(matches[0])


# ---------------------------------------------------------------------- curves
CURVE_COLORS = {("teacher", "loss"): (0.84, 0.37, 0.0), ("teacher", "val_dice"): (0.94, 0.65, 0.25),
                 ("student", "loss"): (0.12, 0.47, 0.71), ("student", "val_dice"): (0.42, 0.68, 0.84)}


def curve_columns(events: Iterable[Dict], stages: Sequence[str]) -> Dict[str, np.ndarray]:
    """``epoch`` and ``<stage>_loss`` / ``<stage>_val_dice`` per epoch (NaN where a stage has no value yet).

    A later event for the same stage and epoch (after a resume) replaces the earlier one.
    """
    values: Dict[Tuple[str, int], Tuple[float, float]] = {}
    for event in events:
        if event.get("event") == "epoch" and event.get("stage") in stages:
            values[(event["stage"], int(event["epoch"]))] = (float(event["losses"]["total"]), float(event["val"]["dice"]))
    count = max([epoch for _, epoch in values] or [0])
    columns = {"epoch": np.arange(1, count + 1, dtype=np.int32)}
    for stage in stages:
        for position, quantity in enumerate(("loss", "val_dice")):
            columns[f"{stage}_{quantity}"] = np.array(
                [values.get((stage, epoch), (math.nan, math.nan))[position] for epoch in range(1, count + 1)])
    return columns


def training_curves(scene, events: Iterable[Dict], stages: Sequence[str] = ("teacher", "student"),
                    name: str = "DTC training"):
    """Create (first call) or update the table ``name`` and its chart of loss and validation Dice per epoch.

    Returns ``(table, chart)``; calling again with more events updates the same nodes, so a
    plot view showing the chart follows the training live.
    """
    columns = curve_columns(events, stages)
    table = _tagged_node(scene, "vtkMRMLTableNode", f"{name} table")
    if table is None:
        table = tag(scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} table"), CURVES_ROLE)
    slicer_module().util.updateTableFromArray(table, list(columns.values()), list(columns))
    chart = _tagged_node(scene, "vtkMRMLPlotChartNode", name)
    if chart is None:
        series = [(f"{stage} {quantity.replace('val_dice', 'validation Dice')}", f"{stage}_{quantity}",
                   CURVE_COLORS.get((stage, quantity), (0.5, 0.5, 0.5)), False)
                  for stage in stages for quantity in ("loss", "val_dice")]
        chart = add_chart(scene, name, table, "epoch", series, "epoch", "loss / Dice", role=CURVES_ROLE)
    return table, chart


def _tagged_node(scene, class_name: str, name: str):
    for node in nodes_by_class(scene, class_name):
        if node.GetName() == name and node.GetAttribute(ROLE_ATTRIBUTE) == CURVES_ROLE:
            return node
    return None
