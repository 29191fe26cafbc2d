"""Correct-and-retrain on real TRUS sweeps, end to end through the scene: does fine-tuning on a few corrected
frames fix the rest of the recording, and what does it cost elsewhere? Prints JSON.

1. The model (default: the shipped one) segments each candidate training-split sweep; the sweep it scores
   worst on (mean per-frame Dice, empty frames included) is the one a user would correct (or ``--case``).
2. That sweep is segmented into a headless scene as a segmentation (``masks_as="segmentation"``); its
   ``--corrected`` worst gland frames and the ``--corrected-empty`` frames beyond the gland with the
   largest false masks are "corrected": the true mask is painted into the frame's Prostate segment
   through the segmentation logic, as a Segment Editor effect does.
3. ``write_correction_data`` exports it (corrected frames labelled, the rest unlabelled) with the
   validation cases ``--val-cases`` and, unless ``--replay-cases`` is empty, the training sweeps of
   those patients; ``dtc train STAGE`` fine-tunes from the model (``fine_tune_settings``, at most
   ``--steps-per-epoch`` steps an epoch) in a child process.
4. Before and after: Dice on the gland frames and specificity on the empty frames of the corrected
   sweep's *uncorrected* frames, and of the held-out sweeps ``--eval-cases`` (mean over sweeps).

Only cases obs000-obs071 of the real data are used: candidates from the training split, validation and
evaluation from the validation split (obs064-obs071), disjoint.

    python bench/bench_corrections.py --data /work/data/real_sweeps [--corrected 5] [--epochs 5]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "DTCSegmentation"), str(ROOT / "DTCTraining")]

from DTCSegmentationLib.inference.segmenter import Segmenter  # noqa: E402
from DTCSegmentationLib.networks.default_model import default_model_path  # noqa: E402
from DTCSegmentationLib.sequence_io import read_sequence  # noqa: E402
from DTCTrainingLib.data.manifest import Manifest, load_manifest, write_manifest  # noqa: E402
from DTCTrainingLib.evaluation.metrics import mask_dice, overlap_metrics  # noqa: E402

ALLOWED = {f"obs{number:03d}" for number in range(72)}


def copied_folder(cases, folder, split):
    """A training-data folder holding copies of ``cases`` in ``split`` (copies: a link would lead outside it)."""
    for case in cases:
        shutil.copytree(case.frames.parent, folder / case.frames.parent.name)
    write_manifest(Manifest(root=folder, name=folder.name, cases=[
        type(case)(id=case.id, patient=case.patient, view=case.view, split=split,
                   frames=folder / case.frames.parent.name / case.frames.name,
                   masks=folder / case.masks.parent.name / case.masks.name) for case in cases]))
    return folder


def load(case):
    return read_sequence(case.frames), read_sequence(case.masks).frames


def masks_of(model, frames):
    return np.stack([result.mask for result in Segmenter.from_file(model, device="cpu").segment(list(frames))])


def scores(predicted, truth, frames=None):
    """Mean Dice on gland frames and specificity on empty frames, over ``frames`` (default all)."""
    indices = range(len(truth)) if frames is None else frames
    rows = [overlap_metrics(predicted[i], truth[i]) for i in indices]
    gland = [row["gland_dice"] for row in rows if not np.isnan(row["gland_dice"])]
    empty = [row["empty_specificity"] for row in rows if not np.isnan(row["empty_specificity"])]
    return {"gland_dice": float(np.mean(gland)) if gland else None,
            "empty_specificity": float(np.mean(empty)) if empty else None, "frames": len(rows)}


def mean_over(sweeps):
    keys = ("gland_dice", "empty_specificity")
    return {key: float(np.mean([s[key] for s in sweeps if s[key] is not None])) for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="real sweeps folder (dataset.json)")
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--candidates", nargs="+", default=[f"obs{n:03d}" for n in range(8)],
                        help="training-split patients whose sweeps may be corrected")
    parser.add_argument("--replay-cases", nargs="*", default=[f"obs{n:03d}" for n in range(8, 24)],
                        help="training-split patients whose sweeps train alongside the corrections (none: corrections only)")
    parser.add_argument("--val-cases", nargs="+", default=["obs064", "obs065", "obs066", "obs067"])
    parser.add_argument("--eval-cases", nargs="+", default=["obs068", "obs069", "obs070", "obs071"])
    parser.add_argument("--case", help="the sweep to correct (default: the candidates' worst)")
    parser.add_argument("--corrected", type=int, default=3, help="gland frames the user corrects (the worst)")
    parser.add_argument("--corrected-empty", type=int, default=2,
                        help="frames beyond the gland the user clears (the model's largest false masks)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps-per-epoch", type=int, default=20, help="0: a whole pass")
    parser.add_argument("--stage", choices=("all", "teacher"), default="all")
    args = parser.parse_args()
    for patient in args.candidates + args.replay_cases + args.val_cases + args.eval_cases:
        if patient not in ALLOWED:
            raise SystemExit(f"{patient} is outside obs000-obs071")
    groups = [set(args.candidates), set(args.replay_cases), set(args.val_cases), set(args.eval_cases)]
    if sum(len(group) for group in groups) != len(set().union(*groups)):
        raise SystemExit("candidate, replay, validation and evaluation patients must be disjoint")

    import slicer
    from DTCSegmentationLib.mrml import (
        add_sequence_browser,
        add_volume_sequence,
        correct_frame,
        corrected_frames,
        new_scene,
        segment_recording,
    )
    from DTCTrainingLib.fine_tuning import fine_tune_settings
    from DTCTrainingLib.mrml import write_correction_data
    from DTCTrainingLib.training_process import TrainingProcess

    manifest = load_manifest(args.data)
    by_patient = lambda patients, split: [c for c in manifest.cases if c.patient in patients and c.split == split]  # noqa: E731
    candidates = by_patient(args.candidates, "train")
    if args.case:
        candidates = [case for case in candidates if case.id == args.case]
        if not candidates:
            raise SystemExit(f"{args.case} is not a training sweep of the candidates")
    before = {}
    for case in candidates:
        frames, truth = load(case)
        predicted = masks_of(args.model, frames.frames)
        before[case.id] = float(np.mean([mask_dice(predicted[i], truth[i]) for i in range(len(truth))]))
    worst = min(candidates, key=lambda case: before[case.id])
    frames, truth = load(worst)

    work = Path(tempfile.mkdtemp(prefix="dtc-bench-corrections-"))
    scene = new_scene()
    images = add_volume_sequence(scene, frames, worst.id)
    run = segment_recording(scene, add_sequence_browser(scene, [images]), Segmenter.from_file(args.model, device="cpu"),
                            masks_as="segmentation")
    model_masks = np.stack([slicer.util.arrayFromVolume(run.masks.GetNthDataNode(i))[0] for i in range(len(truth))])
    gland = [i for i in range(len(truth)) if truth[i].any()]
    empty = [i for i in range(len(truth)) if not truth[i].any()]
    worst_gland = sorted(gland, key=lambda i: mask_dice(model_masks[i], truth[i]))[:args.corrected]
    worst_empty = sorted(empty, key=lambda i: -int(model_masks[i].sum()))[:args.corrected_empty]
    chosen = sorted(worst_gland + worst_empty)
    for index in chosen:
        correct_frame(scene, run, index, truth[index])
    found = corrected_frames(scene, run)

    val_cases = by_patient(args.val_cases, "val")
    validation = copied_folder(val_cases, work / "validation", "val")
    replay_cases = by_patient(args.replay_cases, "train")
    training = copied_folder(replay_cases, work / "replay", "train") if replay_cases else None
    data = write_correction_data(scene, work / "data", validation=validation, training=training).parent

    start = time.perf_counter()
    extra = {"device": "cpu", "optim.steps_per_epoch": args.steps_per_epoch}
    process = TrainingProcess(args.stage, data, work / "run", fine_tune_settings(args.model, args.epochs, extra=extra))
    process.start()
    process.wait()
    seconds = time.perf_counter() - start
    if process.state != "finished":
        raise SystemExit("\n".join(list(process.log)[-20:]))

    models = {"before": args.model, "teacher": work / "run" / "teacher.safetensors"}
    if args.stage == "all":
        models["student"] = process.model_path()
    rest = [i for i in range(len(truth)) if i not in chosen]
    evaluation = by_patient(args.eval_cases, "val")
    eval_data = [load(case) for case in evaluation]
    report = {"data": f"real sweeps {args.data}", "model": str(args.model), "corrected_case": worst.id,
              "candidate_mean_dice": before, "corrected_frames": chosen, "found_corrected": found,
              "replay_cases": [c.id for c in replay_cases], "validation_cases": [c.id for c in val_cases],
              "evaluation_cases": [c.id for c in evaluation], "stage": args.stage, "epochs": args.epochs,
              "steps_per_epoch": args.steps_per_epoch, "settings": fine_tune_settings(args.model, args.epochs, extra=extra),
              "fine_tune_seconds": round(seconds, 1), "results": {}}
    for label, path in models.items():
        predicted = masks_of(path, frames.frames)
        held_out = [scores(masks_of(path, f.frames), t) for f, t in eval_data]
        report["results"][label] = {"corrected_sweep_other_frames": scores(predicted, truth, rest),
                                    "corrected_sweep_corrected_frames": scores(predicted, truth, chosen),
                                    "held_out_sweeps": mean_over(held_out)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
