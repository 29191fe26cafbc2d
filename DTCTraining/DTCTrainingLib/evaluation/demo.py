"""The demo: held-out simulated sweeps segmented with a model, scored against their exact masks.

Everything the inference side offers, on data that needs no download: frames, predicted and
true mask sequences, an overlay video, a per-frame accuracy / consistency plot and a Slicer
scene bundle per view.
"""

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
from DTCSegmentationLib.atomic import check_writable, output_folder
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.inference.overlay import draw_contour
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks.default_model import model_or_default
from DTCSegmentationLib.sequence_io import write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from DTCSegmentationLib.temporal.consistency import ConsistencyTracker, analyze_consistency, mask_dice

from DTCTrainingLib.evaluation.plots import per_frame_plot


def run_demo(out: PathLike, model: Optional[PathLike] = None, views: Sequence[str] = ("axial", "sagittal"),
             frames: int = 60, seed: int = 9000, backend: str = "onnx", overwrite: bool = False) -> Dict[str, object]:
    """Simulate one sweep per view (seed ``seed + index``), segment it with ``model`` (default: the
    shipped one) and write ``out/<view>_*``; returns the report (paths, mean Dice, consistency summary)."""
    if frames < 2:
        raise DTCError(f"a demo sweep of {frames} frames has no frame pairs to score consistency on.",
                       fix="Ask for 2 frames or more (default 60).")
    model_path = model_or_default(model)
    segmenter = Segmenter.from_file(model_path, device="cpu", backend=backend)
    with output_folder(out) as out:
        for view in views:  # refuse before simulating, so a refused demo writes nothing
            for suffix in OUTPUT_SUFFIXES:
                check_writable(out / f"{view}{suffix}", overwrite)
        return _run_demo(out, segmenter, model_path, views, frames, seed, overwrite)


OUTPUT_SUFFIXES = ("_frames.seq.nrrd", "_masks.seq.nrrd", "_true_masks.seq.nrrd", "_overlay.mp4", "_consistency.png",
                   "_scene.mrb")


def _run_demo(out: Path, segmenter: Segmenter, model_path: Path, views: Sequence[str], frames: int, seed: int,
              overwrite: bool) -> Dict[str, object]:
    report = {"model": str(model_path)}
    for offset, view in enumerate(views):
        recording = simulate(SimulationConfig(view=view, num_frames=frames, seed=seed + offset))
        images, truth = recording.images, recording.masks
        results = list(segmenter.segment_stream(images.frames))
        predicted = np.stack([r.mask for r in results])
        probabilities = np.stack([r.probability for r in results])
        prefix = out / view
        written = {
            "frames": write_sequence(f"{prefix}_frames.seq.nrrd", images, overwrite=overwrite),
            "masks": write_sequence(f"{prefix}_masks.seq.nrrd", FrameSequence(predicted, images.geometry, images.frame_times),
                                    kind="labelmap", overwrite=overwrite),
            "true_masks": write_sequence(f"{prefix}_true_masks.seq.nrrd", truth, kind="labelmap", overwrite=overwrite),
        }
        overlay = np.stack([draw_contour(draw_contour(f, t, (60, 220, 60)), p) for f, t, p in
                            zip(images.frames, truth.frames, predicted)])
        written["overlay"] = write_sequence(f"{prefix}_overlay.mp4", FrameSequence(overlay, images.geometry, images.frame_times),
                                            overwrite=overwrite)
        spacing = images.geometry.spacing
        consistency = analyze_consistency(images.frames, probabilities, predicted,
                                          ConsistencyTracker(pixel_area=spacing[0] * spacing[1]))
        dice = np.array([mask_dice(p, t) for p, t in zip(predicted, truth.frames)])
        written["plot"] = per_frame_plot(
            f"{prefix}_consistency.png",
            {"Dice vs truth": dice, "consistency 1-|p_t - p_t-1|": consistency.raw,
             "flow-compensated consistency": consistency.flow, "flow-compensated mask Dice": consistency.flow_dice},
            title=f"{view} sweep (seed {seed + offset}): per-frame accuracy and temporal consistency",
            overwrite=overwrite)
        try:
            from DTCSegmentationLib.mrml import bundle_recording  # needs the [mrml] extra

            written["scene"] = bundle_recording(
                f"{prefix}_scene.mrb", images,
                [FrameSequence(predicted, images.geometry, images.frame_times), truth], ["DTC masks", "true masks"],
                overwrite=overwrite)
        except DTCError as error:  # no MRML libraries: everything else is still useful
            written["scene"] = f"not written: {error}"
        report[view] = {key: str(value) for key, value in written.items()}
        report[view].update({"mean_dice": round(float(dice.mean()), 4),
                             **{k: round(v, 4) for k, v in consistency.summary().items()}})
    return report
