"""Seconds per training step: plain supervised 2D vs the full DTC student. Prints JSON.

(a) plain supervised 2D: BCE + Dice on the clip's frames, one forward and backward;
(b) the full student with flow from the cache (as the trainer runs it);
(c) the full student computing Farneback flow inside the step, pair by pair, as the
    reference code does;
(d) the full student with the frozen teacher's pseudo-labels, cached like its logits
    (``student.pseudo_label_source=teacher``, the shipped model's recipe).
All three use the same network and the same images per step (clips x frames).
Target (issue #4): (b) at most 1.25 x (a).

    python bench/bench_training.py [--size 256x448] [--clips 2] [--steps 6]
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch
from DTCSegmentationLib.networks.model_file import save_model
from DTCSegmentationLib.temporal.flow import (
    FlowSettings,
    flow_to_previous,
    photometric_confidence,
    valid_mask,
    warp_previous,
)
from DTCTrainingLib.config import load_config
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from DTCTrainingLib.trainer import Trainer


def timed(variants, repeats):
    """Mean seconds per step of each ``name: (step, batches)``, taken in interleaved rounds.

    Interleaving keeps a change in machine load from favouring whichever variant ran first.
    """
    totals = {name: 0.0 for name in variants}
    for step, batches in variants.values():
        step(batches[0])  # warm-up
    for index in range(repeats):
        for name, (step, batches) in variants.items():
            start = time.perf_counter()
            step(batches[index % len(batches)])
            totals[name] += time.perf_counter() - start
    return {name: total / repeats for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="256x448")
    parser.add_argument("--clips", type=int, default=2, help="clips per step (x 3 frames)")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    folder = tempfile.mkdtemp(prefix="dtc-bench-")
    make_simulated_dataset(folder, cases=3, frames=12, height=height, width=width, val_cases=1, progress=False)
    overrides = [f"data.dataset={folder}", f"data.height={height}", f"data.width={width}",
                 f"optim.batch_size={args.clips}", "device=cpu"]
    config = load_config(overrides=overrides)
    teacher_trainer = Trainer("teacher", config, os.path.join(folder, "run"))
    teacher_path = save_model(os.path.join(folder, "teacher.safetensors"), teacher_trainer.model,
                              teacher_trainer.info)
    student = Trainer("student", config, os.path.join(folder, "run"), teacher=teacher_path)
    loader = student._batches(0)
    batches = [batch for _, batch in zip(range(args.steps), loader)]

    def optimise(loss):
        student.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters, 1.0)
        student.optimizer.step()

    def plain_step(batch):
        images = batch["frames"].flatten(0, 1)
        masks = batch["masks"].flatten(0, 1)
        optimise(student._teacher_loss({"image": images, "mask": masks})["total"])

    def student_step(batch):
        optimise(student._student_loss(batch)["total"])

    settings = FlowSettings()
    raw_frames = student.dataset.cases[0].frames

    def student_step_with_inline_flow(batch):
        # What the reference code does: flow for every pair inside the step, on the CPU.
        frames = raw_frames[: batch["frames"].shape[1]]
        flows, confidences, valids = [], [], []
        for _ in range(batch["frames"].shape[0]):
            for t in range(1, len(frames)):
                flow = flow_to_previous(frames[t], frames[t - 1], settings)
                flows.append(flow)
                confidences.append(photometric_confidence(frames[t], warp_previous(frames[t - 1], flow)))
                valids.append(valid_mask(flow))
        clips, pairs = batch["frames"].shape[0], batch["frames"].shape[1] - 1
        batch = dict(batch)
        batch["flow"] = torch.from_numpy(np.stack(flows).transpose(0, 3, 1, 2).reshape(clips, pairs, 2, height, width))
        batch["confidence"] = torch.from_numpy(np.stack(confidences)).reshape(clips, pairs, 1, height, width)
        batch["valid"] = torch.from_numpy(np.stack(valids)).reshape(clips, pairs, 1, height, width)
        student_step(batch)

    teacher_labelled = Trainer("student", load_config(overrides=overrides + ["student.pseudo_label_source=teacher"]),
                               os.path.join(folder, "run"), teacher=teacher_path)
    teacher_batches = [batch for _, batch in zip(range(args.steps), teacher_labelled._batches(0))]

    def teacher_labelled_step(batch):
        loss = teacher_labelled._student_loss(batch)["total"]
        teacher_labelled.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        teacher_labelled.optimizer.step()

    seconds = timed({"plain": (plain_step, batches), "cached": (student_step, batches),
                     "inline": (student_step_with_inline_flow, batches),
                     "teacher_labels": (teacher_labelled_step, teacher_batches)}, args.steps)
    plain, cached, inline, cached_teacher_labels = (seconds[k] for k in ("plain", "cached", "inline", "teacher_labels"))
    print(json.dumps({
        "benchmark": "training_step", "size": [height, width], "clips_per_step": args.clips, "frames_per_clip": 3,
        "network": config.network.name, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "seconds_per_step": {"plain_supervised": round(plain, 4), "student_cached_flow": round(cached, 4),
                             "student_flow_in_step": round(inline, 4),
                             "student_teacher_pseudo_labels_cached": round(cached_teacher_labels, 4)},
        "ratio_cached_to_plain": round(cached / plain, 3), "ratio_inline_to_plain": round(inline / plain, 3),
        "ratio_teacher_labels_to_plain": round(cached_teacher_labels / plain, 3),
        "target_ratio": 1.25, "meets_target_with_student_labels": cached / plain <= 1.25,
        "meets_target_with_teacher_labels": cached_teacher_labels / plain <= 1.25,
    }, indent=2))


if __name__ == "__main__":
    main()
