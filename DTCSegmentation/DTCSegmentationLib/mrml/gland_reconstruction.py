"""The gland in 3D from a segmented sweep in the scene: labelmap, segmentation and surface model, volume in mL.

Example (Slicer's Python console; headless, any scene from :func:`~.scene.new_scene`)::

    from DTCSegmentationLib import mrml
    gland = mrml.reconstruct_gland(scene, run)  # run = mrml.segment_recording(...), or a mask sequence node
    print(gland.summary)  # volume_ml, frames_used, frames_with_gland, frames_total

Every mask item is placed by its own IJK-to-RAS (a tracked recording's per-frame pose, or an
importer sweep's), so the sweep must carry per-frame geometry; a labelmap volume whose slices are
the masks is placed slice by slice.  A recording loaded by Slicer from a PLUS file keeps its poses in
a transform sequence instead (``ImageToReference``, played by the same browser; the images' own
IJK-to-RAS is the identity): once its image is placed under that transform, as it must be to be
shown in place, each item is moved by the transform's item at the same index value.  The masks are compounded with
:func:`DTCSegmentationLib.reconstruction.compounding.compound_masks`; the closed surface is made by
Slicer's own segmentation conversion (binary labelmap -> closed surface) and shown in the 3D views.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import SimpleITK as sitk

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.scene import ijk_to_ras, removed_on_failure, slicer_module, tag, vtk_matrix
from DTCSegmentationLib.mrml.volume_sequences import UNTRACKED_ATTRIBUTE
from DTCSegmentationLib.reconstruction.compounding import Reconstruction, compound_masks
from DTCSegmentationLib.reconstruction.frame_poses import LPS_FROM_RAS, poses_from_ijk_to_ras

GLAND_COLOR = (0.85, 0.55, 0.35)
SEGMENT_NAME = "prostate"


@dataclass
class GlandReconstruction:
    """The nodes one reconstruction added, and what it measured.

    Attributes:
        labelmap: ``vtkMRMLLabelMapVolumeNode`` of the compounded gland (0/1).
        segmentation: ``vtkMRMLSegmentationNode`` with one segment (binary labelmap and closed surface).
        model: ``vtkMRMLModelNode``: the closed surface, shown in the 3D views.
        reconstruction: the library result (SimpleITK labelmap in LPS, frame counts).
        summary: ``volume_ml`` (mL), ``frames_used``, ``frames_with_gland``, ``frames_total``, ``voxel_mm``.
    """

    labelmap: object
    segmentation: object
    model: object
    reconstruction: Reconstruction
    summary: dict

    @property
    def volume_ml(self) -> float:
        return self.reconstruction.volume_ml


def mask_frames(scene, masks):
    """``(T, H, W)`` masks and ``(T, 4, 4)`` LPS poses of a run, a labelmap sequence or a labelmap volume.

    Items of a sequence listed as untracked (on the sequence or on the recording it segmented) get NaN poses.
    """
    node = getattr(masks, "masks", masks)  # a RecordingSegmentation stands for its masks
    if node is None:
        raise DTCError("no masks selected.", fix="Segment the recording first (Apply), then reconstruct its masks.")
    util = slicer_module().util
    if node.IsA("vtkMRMLSequenceNode"):
        count = node.GetNumberOfDataNodes()
        if count == 0 or not node.GetNthDataNode(0).IsA("vtkMRMLVolumeNode"):
            raise DTCError(f"sequence '{node.GetName()}' holds no mask volumes.", fix="Select the masks of a run.")
        frames, matrices = [], []
        for index in range(count):
            item = node.GetNthDataNode(index)
            array = util.arrayFromVolume(item)
            if array.ndim != 3 or array.shape[0] != 1:
                raise DTCError(f"item {index} of '{node.GetName()}' is not a 2D mask (shape {array.shape}).",
                               fix="Reconstruct the masks of a 2D sweep.")
            frames.append(array[0])
            matrices.append(ijk_to_ras(item))
        placements = _recording_placements(scene, node)
        if placements is not None:
            matrices = [placement @ matrix for placement, matrix in zip(placements, matrices)]
        poses = poses_from_ijk_to_ras(matrices)
        untracked = set()
        from DTCSegmentationLib.mrml.recording_segmentation import INPUT_REFERENCE

        for holder in (node, node.GetNodeReference(INPUT_REFERENCE)):
            text = holder.GetAttribute(UNTRACKED_ATTRIBUTE) if holder is not None else None
            untracked.update(int(value) for value in (text or "").split())
        poses[sorted(index for index in untracked if index < count)] = np.nan
        return np.stack(frames), poses
    if node.IsA("vtkMRMLLabelMapVolumeNode"):
        array = util.arrayFromVolume(node)
        matrix = ijk_to_ras(node)
        poses = np.repeat(matrix[None], len(array), axis=0)
        poses[:, :3, 3] += np.arange(len(array))[:, None] * matrix[None, :3, 2]  # slice k at its own place
        return array, poses_from_ijk_to_ras(poses)
    raise DTCError(f"'{node.GetName()}' is a {node.GetClassName()}, not masks.",
                   fix="Pass a segmentation run, its mask sequence or a labelmap volume.")


def _recording_placements(scene, masks) -> Optional[list]:
    """Per-item transform-to-world (RAS, ``(4, 4)``) of the recording ``masks`` segmented, where its image sits
    under a transform that its browser plays as a transform sequence (or under a fixed transform); else None."""
    from DTCSegmentationLib.mrml.recording_segmentation import INPUT_REFERENCE
    from DTCSegmentationLib.mrml.volume_sequences import browser_of_sequence

    recording = masks.GetNodeReference(INPUT_REFERENCE)
    if recording is None or not recording.IsA("vtkMRMLSequenceNode"):
        return None
    browser = browser_of_sequence(scene, recording)
    proxy = browser.GetProxyNode(recording) if browser is not None else None
    transform = proxy.GetParentTransformNode() if proxy is not None else None
    if transform is None:
        return None
    import vtk

    def to_world(node) -> np.ndarray:
        matrix = vtk.vtkMatrix4x4()
        if not node.GetMatrixTransformToWorld(matrix):
            raise DTCError(f"the recording '{recording.GetName()}' is under the non-linear transform "
                           f"'{node.GetName()}'.", fix="Place the images under a linear (tracking) transform.")
        return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])

    fixed = to_world(transform)
    transforms = browser.GetSequenceNode(transform) if browser.IsProxyNodeID(transform.GetID()) else None
    index_values = [masks.GetNthIndexValue(index) for index in range(masks.GetNumberOfDataNodes())]
    if transforms is None:
        return [fixed] * len(index_values)
    parent = transform.GetParentTransformNode()
    above = to_world(parent) if parent is not None else np.eye(4)
    placements = []
    for value in index_values:
        item = transforms.GetDataNodeAtValue(value, False)  # the nearest pose where the times differ slightly
        if item is None:
            placements.append(np.full((4, 4), np.nan))  # no pose for this frame: left out
            continue
        matrix = vtk.vtkMatrix4x4()
        item.GetMatrixTransformToParent(matrix)
        placements.append(above @ np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)]))
    return placements


def _ensure_closed_surface_rule() -> None:
    """Register Slicer's labelmap -> closed surface rule where no Segmentations module did (headless scenes)."""
    slicer = slicer_module()
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    names = {rule.GetClassName() for rule in factory.GetConverterRules()}
    if "vtkBinaryLabelmapToClosedSurfaceConversionRule" not in names:
        factory.RegisterConverterRule(slicer.vtkBinaryLabelmapToClosedSurfaceConversionRule())


def _labelmap_node(scene, image: sitk.Image, name: str):
    slicer = slicer_module()
    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", name)
    slicer.util.updateVolumeFromArray(node, sitk.GetArrayFromImage(image))
    matrix = np.eye(4)
    axes = np.asarray(image.GetDirection(), float).reshape(3, 3) * np.asarray(image.GetSpacing(), float)[None, :]
    matrix[:3, :3], matrix[:3, 3] = axes, image.GetOrigin()
    node.SetIJKToRASMatrix(vtk_matrix(LPS_FROM_RAS @ matrix))
    node.CreateDefaultDisplayNodes()
    return node


def reconstruct_gland(scene, masks, name: Optional[str] = None, spacing_mm: float = 0.5,
                      largest_component: bool = True, smoothing: float = 0.5) -> GlandReconstruction:
    """Compound a sweep's masks into the gland in 3D; adds labelmap, segmentation and model nodes.

    Args:
        scene: the MRML scene (the application's scene in Slicer).
        masks: a :class:`~.recording_segmentation.RecordingSegmentation`, its mask sequence, or a
            labelmap volume whose slices are the masks.
        name: prefix of the new nodes' names (default: the masks' name).
        spacing_mm: voxel size of the labelmap.
        largest_component: keep the largest 3D connected part only.
        smoothing: Slicer's closed-surface smoothing factor (0 none, 0.5 Slicer's default, 1 strong).

    Raises:
        DTCError: masks without per-frame geometry that can be compounded (see ``compound_masks``).
    """
    frames, poses = mask_frames(scene, masks)
    node = getattr(masks, "masks", masks)
    name = name or node.GetName()
    reconstruction = compound_masks(frames, poses, spacing_mm=spacing_mm, largest_component=largest_component)
    slicer = slicer_module()
    _ensure_closed_surface_rule()  # before the segmentation node: its converter copies the rules when made
    with removed_on_failure(scene):
        labelmap = _labelmap_node(scene, reconstruction.labelmap, f"{name} gland labelmap")
        segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{name} gland")
        segmentation.CreateDefaultDisplayNodes()
        logic = slicer.vtkSlicerSegmentationsModuleLogic()
        logic.SetMRMLScene(scene)
        if not logic.ImportLabelmapToSegmentationNode(labelmap, segmentation):
            raise DTCError("Slicer could not turn the reconstructed labelmap into a segmentation.",
                           fix="Report this with the recording; the labelmap node holds the result.")
        segment = segmentation.GetSegmentation().GetNthSegment(0)
        segment.SetName(SEGMENT_NAME)
        segment.SetColor(*GLAND_COLOR)
        segmentation.GetSegmentation().SetConversionParameter("Smoothing factor", str(smoothing))
        if not segmentation.CreateClosedSurfaceRepresentation():
            raise DTCError("Slicer could not make the gland's closed surface.",
                           fix="Report this with the recording; the labelmap node holds the result.")
        import vtk

        surface = vtk.vtkPolyData()
        segmentation.GetClosedSurfaceRepresentation(segmentation.GetSegmentation().GetNthSegmentID(0), surface)
        model = scene.AddNewNodeByClass("vtkMRMLModelNode", f"{name} gland surface")
        model.SetAndObservePolyData(surface)
        model.CreateDefaultDisplayNodes()
        display = model.GetDisplayNode()
        display.SetColor(*GLAND_COLOR)
        display.SetVisibility(True)
        display.SetVisibility3D(True)
        # The model is what the 3D views show; the segmentation shows the outline in the slice views.
        segmentation.GetDisplayNode().SetVisibility3D(False)
        summary = reconstruction.summary()
        for made, role in ((labelmap, "gland labelmap"), (segmentation, "gland"), (model, "gland surface")):
            tag(made, role, VolumeML=f"{reconstruction.volume_ml:.3f}", FramesUsed=reconstruction.frames_used)
            made.SetNodeReferenceID("dtcMasks", node.GetID())
    return GlandReconstruction(labelmap, segmentation, model, reconstruction, summary)
