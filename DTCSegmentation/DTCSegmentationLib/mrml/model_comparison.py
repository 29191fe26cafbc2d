"""Two models on one recording: both runs' outputs, a combined table and chart, and their agreement."""

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.consistency_nodes import TABLE_COLUMNS, add_chart, add_table, remove_chart
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.mrml.recording_segmentation import Progress, RecordingSegmentation, segment_recording
from DTCSegmentationLib.mrml.scene import removed_on_failure, slicer_module
from DTCSegmentationLib.mrml.views import face_frame_plane
from DTCSegmentationLib.temporal.consistency import mask_dice

# Per model: (flow Dice colour, flow consistency colour); RGB 0-1.
_MODEL_COLORS = (((0.12, 0.47, 0.71), (0.58, 0.75, 0.88)), ((1.0, 0.5, 0.05), (1.0, 0.75, 0.5)))


@dataclass
class ModelComparison:
    """Both runs and what compares them.

    Attributes:
        runs: model label -> its :class:`RecordingSegmentation` (masks, flicker maps, table, charts).
        table: per-frame columns of both models side by side plus ``agreement_dice``.
        chart: flow Dice and flow-compensated consistency of both models and their agreement.
        agreement: ``(T,)`` Dice between the two models' masks on each frame.
    """

    runs: Dict[str, RecordingSegmentation]
    table: object
    chart: object
    agreement: np.ndarray

    def summary(self) -> Dict[str, Dict[str, float]]:
        """Each model's recording-level scores, and ``agreement``: mean and minimum per-frame mask Dice."""
        result = {label: dict(run.summary) for label, run in self.runs.items()}
        result["agreement"] = {"mean_dice": float(np.mean(self.agreement)), "min_dice": float(np.min(self.agreement))}
        return result

    def show(self, scene, views=("Red", "Yellow"), application_logic=None) -> int:
        """Show each model's masks and flicker overlay in its own slice view (one view name per model), each
        view turned to the frames' plane and fitted to them (see :func:`~.views.face_frame_plane`)."""
        shown = sum(run.show(scene, views=(view,)) for run, view in zip(self.runs.values(), views))
        face_frame_plane(scene, next(iter(self.runs.values())).frames_node(), views, application_logic)
        return shown

    def remove(self, scene) -> None:
        """Take both runs and the combined nodes out of the scene."""
        for run in self.runs.values():
            run.remove(scene)
        remove_chart(scene, self.chart)
        scene.RemoveNode(self.table)


def compare_models(scene, node, segmenters: Dict[str, object], progress: Optional[Progress] = None,
                   should_cancel: Optional[Callable[[], bool]] = None, **options) -> ModelComparison:
    """Segment one recording with two models (label -> segmenter) and compare them frame by frame.

    ``options`` go to :func:`segment_recording` for both runs; ``progress`` counts the frames
    of both runs.  Cancelling or failing removes everything either run added.
    """
    if len(segmenters) != 2:
        raise DTCError(f"compare needs two models, got {len(segmenters)}.", fix="Give two labelled segmenters.")
    recording = frame_source(scene, node).name
    runs = {}
    with removed_on_failure(scene):
        for number, (label, segmenter) in enumerate(segmenters.items()):
            def run_progress(done, total, offset=number):
                if progress is not None:
                    progress(offset * total + done, 2 * total)

            runs[label] = segment_recording(scene, node, segmenter, name=f"{recording} {label}",
                                            progress=run_progress, should_cancel=should_cancel, **options)
        first, second = (_masks(run) for run in runs.values())
        agreement = np.array([mask_dice(a, b) for a, b in zip(first, second)])
        table = _combined_table(scene, runs, agreement)
        chart = _combined_chart(scene, runs, table)
    return ModelComparison(runs, table, chart, agreement)


def _masks(run: RecordingSegmentation) -> FrameSource:
    node = run.masks
    return FrameSource(sequence=node) if node.IsA("vtkMRMLSequenceNode") else FrameSource(volume=node)


def _combined_table(scene, runs: Dict[str, RecordingSegmentation], agreement: np.ndarray):
    util = slicer_module().util
    first = next(iter(runs.values()))
    columns = {"frame": util.arrayFromTableColumn(first.table, "frame"),
               "time": util.arrayFromTableColumn(first.table, "time")}
    for label, run in runs.items():
        for column, _, _, _ in TABLE_COLUMNS:
            columns[f"{label} {column}"] = util.arrayFromTableColumn(run.table, column)
    columns["agreement_dice"] = agreement
    return add_table(scene, f"{first.source.name} comparison", columns, {"time": first.source.time_unit()},
                     descriptions={"agreement_dice": "Dice between the two models' masks"}, role="comparison table")


def _combined_chart(scene, runs: Dict[str, RecordingSegmentation], table):
    series = []
    for (label, _), (dice_color, flow_color) in zip(runs.items(), _MODEL_COLORS):
        series.append((f"{label} flow Dice", f"{label} flow_dice", dice_color, False))
        series.append((f"{label} flow consistency", f"{label} flow_consistency", flow_color, False))
    series.append(("agreement Dice", "agreement_dice", (0.3, 0.3, 0.3), False))
    first = next(iter(runs.values()))
    return add_chart(scene, f"{first.source.name} comparison", table, "time", series, first.source.time_label(),
                     "score (0-1)", role="comparison chart")
