"""``dtc demo``: the whole inference story on a held-out simulated sweep, with nothing to download."""

import json
from pathlib import Path

from .segment import default_model_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="segment a held-out simulated TRUS sweep with the default model",
        description="Simulate held-out TRUS sweeps (seeds never used in training), segment them with the default "
                    "model, and write frames, predicted and true masks, an overlay video, a consistency plot and a "
                    "Slicer scene bundle (.mrb, with the [mrml] extra) that opens with playback ready.",
    )
    parser.add_argument("--out", type=Path, default=Path("dtc_demo"), help="output folder (default ./dtc_demo)")
    parser.add_argument("--model", type=Path, help="model file (default: the model shipped with DTC)")
    parser.add_argument("--view", choices=("axial", "sagittal", "both"), default="both")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=9000, help="simulation seed (default 9000, held out from training)")
    parser.add_argument("--backend", default="onnx", choices=("eager", "torchscript", "onnx"))
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..consistency import ConsistencyTracker, analyze_consistency, mask_dice
    from ..errors import DTCError
    from ..overlay import draw_contour
    from ..plots import per_frame_plot
    from ..segmenter import Segmenter
    from ..sequence import FrameSequence
    from ..sequence_io import write_sequence
    from ..simulation import SimulationConfig, simulate

    model_path = args.model or default_model_path()
    if not model_path.is_file():
        raise DTCError("no model to run.", model_path, "Pass --model FILE (train one with `dtc train`).")
    segmenter = Segmenter.from_file(model_path, device="cpu", backend=args.backend)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"model": str(model_path)}
    views = ("axial", "sagittal") if args.view == "both" else (args.view,)
    for offset, view in enumerate(views):
        recording = simulate(SimulationConfig(view=view, num_frames=args.frames, seed=args.seed + offset))
        images, truth = recording.images, recording.masks
        results = list(segmenter.segment_stream(images.frames))
        predicted = np.stack([r.mask for r in results])
        probabilities = np.stack([r.probability for r in results])
        prefix = args.out / view
        written = {
            "frames": write_sequence(f"{prefix}_frames.seq.nrrd", images, overwrite=args.overwrite),
            "masks": write_sequence(f"{prefix}_masks.seq.nrrd", FrameSequence(predicted, images.geometry, images.frame_times),
                                    kind="labelmap", overwrite=args.overwrite),
            "true_masks": write_sequence(f"{prefix}_true_masks.seq.nrrd", truth, kind="labelmap", overwrite=args.overwrite),
        }
        overlay = np.stack([draw_contour(draw_contour(f, t, (60, 220, 60)), p) for f, t, p in
                            zip(images.frames, truth.frames, predicted)])
        written["overlay"] = write_sequence(f"{prefix}_overlay.mp4", FrameSequence(overlay, images.geometry, images.frame_times),
                                            overwrite=args.overwrite)
        spacing = images.geometry.spacing
        consistency = analyze_consistency(images.frames, probabilities, predicted,
                                          ConsistencyTracker(pixel_area=spacing[0] * spacing[1]))
        dice = np.array([mask_dice(p, t) for p, t in zip(predicted, truth.frames)])
        written["plot"] = per_frame_plot(
            f"{prefix}_consistency.png",
            {"Dice vs truth": dice, "consistency 1-|p_t - p_t-1|": consistency.raw,
             "flow-compensated consistency": consistency.flow, "flow-compensated mask Dice": consistency.flow_dice},
            title=f"{view} sweep (seed {args.seed + offset}): per-frame accuracy and temporal consistency",
            overwrite=args.overwrite)
        try:
            from ..mrml import bundle_recording

            written["scene"] = bundle_recording(
                f"{prefix}_scene.mrb", images,
                [FrameSequence(predicted, images.geometry, images.frame_times), truth], ["DTC masks", "true masks"],
                overwrite=args.overwrite)
        except DTCError as error:  # no MRML libraries: everything else is still useful
            written["scene"] = f"not written: {error}"
        report[view] = {key: str(value) for key, value in written.items()}
        report[view].update({"mean_dice": round(float(dice.mean()), 4),
                             **{k: round(v, 4) for k, v in consistency.summary().items()}})
    print(json.dumps(report, indent=2))
    return 0
