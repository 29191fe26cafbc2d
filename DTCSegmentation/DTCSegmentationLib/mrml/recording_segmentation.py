"""Segment a recording held in a scene and add masks, flicker maps and consistency curves to it.

Example (Slicer's Python console; headless, any scene from :func:`~.scene.new_scene`)::

    from DTCSegmentationLib.mrml import segment_recording
    from DTCSegmentationLib.inference.segmenter import Segmenter
    run = segment_recording(scene, browser, Segmenter.from_file("student.safetensors"))
    run.summary, run.masks, run.table, run.chart
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

from DTCSegmentationLib.choices import MASK_NODES
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.consistency_nodes import (
    area_chart,
    consistency_chart,
    consistency_table,
    remove_chart,
    report_from_table,
    table_summary,
)
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.mrml.output_volumes import OutputVolumes
from DTCSegmentationLib.mrml.scene import (
    ROLE_ATTRIBUTE,
    RUN_ATTRIBUTE,
    all_nodes,
    nodes_by_class,
    removed_on_failure,
    tag,
    unsynchronize,
)
from DTCSegmentationLib.mrml.segmentations import segmentations_from_labelmaps
from DTCSegmentationLib.mrml.views import display_flicker_map, display_labelmap, show_in_slice_views
from DTCSegmentationLib.mrml.volume_sequences import add_sequence_browser, add_to_browser
from DTCSegmentationLib.temporal.consistency import (
    FLICKER_DICE,
    ConsistencyReport,
    ConsistencyTracker,
    analyze_consistency,
)
from DTCSegmentationLib.temporal.flow import FlowSettings

Progress = Callable[[int, int], None]
FLICKER_OPACITY = 0.6
INPUT_REFERENCE = "dtcInput"
"""Node reference from a run's masks to the recording it segmented."""


class SegmentationCancelled(Exception):
    """The run was cancelled (``should_cancel`` returned True); the scene is as it was before."""


@dataclass
class RecordingSegmentation:
    """The nodes one run added to the scene.

    Attributes:
        name: the prefix of the run's node names.
        source: the recording that was segmented.
        masks: labelmap sequence (one mask per frame, values 0/1), or a labelmap volume for a volume input.
        flicker: flicker-map sequence / volume, uint8 ``255 * |p_t - warp(p_t-1)|``.
        probabilities: uint8 ``255 * p`` sequence / volume, or None.
        table: per-frame consistency table (see :data:`~.consistency_nodes.TABLE_COLUMNS`).
        chart: consistency curves; area_chart: mask area.
        report: the per-frame curves as arrays.
        summary: recording-level scores (``ConsistencyReport.summary()`` plus ``frames``).
        displayed: output name -> the node views show (the browser's proxy, or the volume itself).
        segmentation: with ``masks_as="segmentation"``, a sequence of segmentation nodes (one "Prostate"
            segment per frame, edits saved into it) next to ``masks``, which keeps the model's own masks.
    """

    name: str
    source: FrameSource
    masks: object
    flicker: object
    probabilities: Optional[object]
    table: object
    chart: object
    area_chart: object
    report: ConsistencyReport
    summary: Dict[str, float]
    displayed: Dict[str, object] = field(default_factory=dict)
    segmentation: Optional[object] = None

    def frames_node(self):
        """The node views show the frames in (the browser's proxy, or the input volume)."""
        if self.source.volume is not None:
            return self.source.volume
        return self.source.browser.GetProxyNode(self.source.sequence)

    def show(self, scene, flicker: bool = True, views=None) -> int:
        """Show frames, mask and the flicker overlay (transparent if ``flicker`` is False) in the slice views.

        With a segmentation the views show it instead of the labelmap (a segmentation draws itself in
        every view; the label layer is cleared where it showed this run's labelmap, so the mask is not drawn twice).
        Returns how many views changed (``views``: their layout names; None: all).
        """
        segmentation = self.displayed.get("segmentation")
        label = self.displayed["masks"] if segmentation is None else None
        changed = show_in_slice_views(scene, self.frames_node(), label, self.displayed["flicker"],
                                      FLICKER_OPACITY if flicker else 0.0, views)
        if segmentation is not None:
            for composite in nodes_by_class(scene, "vtkMRMLSliceCompositeNode"):
                if composite.GetLabelVolumeID() == self.displayed["masks"].GetID():
                    composite.SetLabelVolumeID(None)
            segmentation.GetDisplayNode().SetVisibility(True)
        return changed

    def remove(self, scene) -> None:
        """Take this run's nodes (and their proxies) out of the scene."""
        for key in ("segmentation", "masks", "flicker", "probabilities"):
            node = getattr(self, key)
            if node is None:
                continue
            if node.IsA("vtkMRMLSequenceNode"):
                proxy = self.displayed[key]
                unsynchronize(scene, node)
                scene.RemoveNode(proxy)
            scene.RemoveNode(node)
        remove_chart(scene, self.chart)
        remove_chart(scene, self.area_chart)
        scene.RemoveNode(self.table)


def segment_recording(scene, node, segmenter, name: Optional[str] = None, probabilities: bool = False,
                      flicker_dice: float = FLICKER_DICE, flow_settings: FlowSettings = FlowSettings(),
                      progress: Optional[Progress] = None,
                      should_cancel: Optional[Callable[[], bool]] = None,
                      masks_as: str = "labelmap") -> RecordingSegmentation:
    """Segment every frame of a recording and add the results to ``scene``.

    Frames stream through the segmenter in its batches; each mask, flicker map and probability
    is stored as soon as it is computed, so memory holds one batch beyond the scene itself.

    Args:
        scene: the MRML scene holding ``node``.
        node: sequence browser, volume sequence, proxy volume, or a volume whose slices are frames.
        segmenter: a :class:`~DTCSegmentationLib.inference.segmenter.Segmenter` (its threshold and post-processing apply).
        name: prefix of the new nodes' names (default: the recording's name + " DTC").
        probabilities: also store the probability maps.
        flicker_dice: flow-compensated mask Dice below which a frame is a flicker event.
        flow_settings: optical flow used for the flow-compensated scores.
        progress: called with ``(frames done, total)`` after every frame.
        should_cancel: polled after every frame; True stops the run with :class:`SegmentationCancelled`.
        masks_as: ``"labelmap"`` or ``"segmentation"``: also a segmentation sequence (one "Prostate" segment
            per frame, Slicer's colour) in the browser, to correct in the Segment Editor; the labelmap
            sequence stays as the model's own output, which :func:`~.corrections.corrected_frames` compares with.

    A sequence gets its outputs as sequences with the same index values in the browser that plays it
    (a new browser if it had none), so playback shows the mask of every frame and the proxies keep
    the frame's IJK-to-RAS.  On failure or cancel every node the run added is removed again.
    """
    # Here, not at the top: find_run and show must load before OpenCV is installed (the panel uses them).
    from DTCSegmentationLib.inference.preprocessing import probability_to_uint8

    if masks_as not in MASK_NODES:
        raise ValueError(f"masks_as must be one of {MASK_NODES}, got {masks_as!r}")
    source = frame_source(scene, node)
    if masks_as == "segmentation" and source.sequence is None:
        raise DTCError(f"'{source.name}' is a volume, not a sequence: segmentations are made per frame of a sequence.",
                       fix="Load the recording as a sequence (a browser or volume sequence), or write labelmaps.")
    name = _unique_run_name(scene, name or f"{source.name} DTC")
    total = len(source)
    with removed_on_failure(scene):
        masks = OutputVolumes(scene, source, f"{name} masks", "vtkMRMLLabelMapVolumeNode", "masks")
        flicker = OutputVolumes(scene, source, f"{name} flicker", "vtkMRMLScalarVolumeNode", "flicker")
        maps = OutputVolumes(scene, source, f"{name} probabilities", "vtkMRMLScalarVolumeNode",
                             "probabilities") if probabilities else None

        def probability_stream():
            for result in segmenter.segment_stream(iter(source)):
                masks.append(result.mask)
                if maps is not None:
                    maps.append(probability_to_uint8(result.probability))
                yield result.probability

        def on_frame(index, consistency):
            flicker.append(probability_to_uint8(consistency.flicker_map))
            if progress is not None:
                progress(index + 1, total)
            if should_cancel is not None and should_cancel():
                raise SegmentationCancelled(f"segmentation of '{source.name}' cancelled at frame {index + 1} of {total}")

        tracker = ConsistencyTracker(flow_settings, segmenter.threshold, flicker_dice, source.pixel_area())
        # The tracker scores the post-processed masks the user sees, read back from the scene.
        report = analyze_consistency(source, probability_stream(), masks, tracker, on_frame)
        outputs = [output for output in (masks, flicker, maps) if output is not None]
        for output in outputs:
            output.finish()
            output.node.SetAttribute("DTC.Threshold", str(segmenter.threshold))
        masks.node.SetNodeReferenceID(INPUT_REFERENCE, (source.sequence or source.volume).GetID())
        table = consistency_table(scene, f"{name} consistency", report, source.times(), source.time_unit())
        x_title = source.time_label()
        charts = (consistency_chart(scene, f"{name} consistency", table, x_title),
                  area_chart(scene, f"{name} area", table, x_title))
        for made in [output.node for output in outputs] + [table, *charts]:
            made.SetAttribute(RUN_ATTRIBUTE, name)
        displayed = _attach(scene, source, outputs)
        display_labelmap(displayed["masks"])
        display_flicker_map(scene, displayed["flicker"])
        segmentation = None
        if masks_as == "segmentation":
            segmentation = segmentations_from_labelmaps(scene, masks.node, f"{name} segmentation")
            tag(segmentation, "segmentation").SetAttribute(RUN_ATTRIBUTE, name)
            displayed["segmentation"] = source.browser.GetProxyNode(segmentation)
    summary = dict(report.summary(), frames=total)
    return RecordingSegmentation(name, source, masks.node, flicker.node, maps.node if maps else None, table, *charts,
                                 report, summary, displayed, segmentation)


def find_run(scene, node) -> Optional[RecordingSegmentation]:
    """The run ``node`` belongs to (any of its outputs, table or charts), rebuilt from the scene; None if none
    (``node`` is None, not in the scene, or not made by a run).

    Works in a scene saved and loaded again: everything needed is in node attributes and references.
    """
    name = node.GetAttribute(RUN_ATTRIBUTE) if node is not None and scene.IsNodePresent(node) else None
    if not name:
        return None
    nodes = {member.GetAttribute(ROLE_ATTRIBUTE): member for member in all_nodes(scene)
             if member.GetAttribute(RUN_ATTRIBUTE) == name}
    masks = nodes.get("masks")
    recording = masks.GetNodeReference(INPUT_REFERENCE) if masks is not None else None
    missing = [role for role in ("masks", "flicker", "table", "chart", "area chart") if role not in nodes]
    if recording is None or missing:
        raise DTCError(f"the outputs of '{name}' are incomplete (missing {', '.join(missing) or 'the input'}).",
                       fix="Segment the recording again.")
    source = frame_source(scene, recording)
    displayed = {}
    for role in ("masks", "flicker", "probabilities", "segmentation"):
        if role in nodes:
            output = nodes[role]
            displayed[role] = source.browser.GetProxyNode(output) if output.IsA("vtkMRMLSequenceNode") else output
    table = nodes["table"]
    return RecordingSegmentation(name, source, masks, nodes["flicker"], nodes.get("probabilities"), table,
                                 nodes["chart"], nodes["area chart"], report_from_table(table),
                                 dict(table_summary(table), frames=len(source)), displayed, nodes.get("segmentation"))


def _unique_run_name(scene, name: str) -> str:
    taken = {node.GetAttribute(RUN_ATTRIBUTE) for node in all_nodes(scene)}
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} {number}", number + 1
    return candidate



def _attach(scene, source: FrameSource, outputs) -> Dict[str, object]:
    """Put sequence outputs in the recording's browser (a new one if it has none); returns role -> shown node."""
    roles = [output.node.GetAttribute("DTC.Role") for output in outputs]
    if source.sequence is None:
        return {role: output.node for role, output in zip(roles, outputs)}
    nodes = [output.node for output in outputs]
    if source.browser is None:
        source.browser = tag(add_sequence_browser(scene, [source.sequence] + nodes, f"{source.name} browser"),
                             "browser")
        proxies = [source.browser.GetProxyNode(node) for node in nodes]
    else:
        proxies = add_to_browser(scene, source.browser, nodes)
    return dict(zip(roles, proxies))
