"""The ablation on real TRUS sweeps, with seeds and paired statistics (the README's "Evaluation on real sweeps").

Usage: python bench/ablation_real.py REAL_SWEEPS_DIR [WORK_DIR] [--seeds 1,2,3]

REAL_SWEEPS_DIR is a `dtc dataset from-volumes` folder whose dataset.json splits patients into
train and val (the public 3D TRUS volumes: train obs000-obs063, val obs064-obs071). The val
patients are held out for scoring only: this script writes WORK_DIR/data, a manifest over the
same recordings (symbolic links, nothing copied) in which they become the *test* split and the
last 8 training patients (obs056-obs063) the *val* split that early stopping uses, so no
training decision ever sees a scored recording. Then `dtc ablation` trains every row with
each seed at 64 x 80, scores them on the test split (with EMA and flow-warped averaging of the
2D baseline as post-hoc rows), and writes WORK_DIR/abl/report/{summary.json,report.md,claim.json}
(each seed's own report in WORK_DIR/abl/seed_<n>/report). Re-running continues where it stopped
(finished runs and seed reports are reused, interrupted runs resumed).

On a shared CPU set OMP_NUM_THREADS=1: with other jobs on the 2 cores, PyTorch's default two
threads made a training step 8x slower than one thread.  On a GPU at the method's size, add
e.g. `--set data.height=256 --set data.width=448 --set network.name=unet_plus_plus
--set optim.steps_per_epoch=0` after the folders (extra arguments go to `dtc ablation` and
override the settings below; scoring stays on the CPU with ONNX Runtime).
"""

import json
import os
import sys
from pathlib import Path

EARLY_STOPPING_PATIENTS = 8  # the last 8 training patients become the val split

# Students (and the same-schedule 2D row): a short fine-tuning from the teacher at lr 1e-4.
COMMON = ["data.height=64", "data.width=80", "optim.lr=0.0001", "optim.epochs=3", "optim.patience=2",
          "optim.steps_per_epoch=100"]
# The teacher (the 2D baseline): whole passes over the labelled frames at lr 1e-3.
TEACHER = ["optim.lr=0.001", "optim.epochs=8", "optim.patience=3", "optim.steps_per_epoch=140"]


def early_stopping_split(source: Path, out: Path) -> Path:
    """``out/dataset.json``: ``source``'s val patients as test, its last training patients as val."""
    document = json.loads((source / "dataset.json").read_text())
    train = sorted({case["patient"] for case in document["cases"] if case["split"] == "train"})
    if len(train) <= EARLY_STOPPING_PATIENTS:
        sys.exit(f"{source}: {len(train)} training patients; need more than {EARLY_STOPPING_PATIENTS}.")
    val = set(train[-EARLY_STOPPING_PATIENTS:])
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for case in document["cases"]:
        split = {"train": "val" if case["patient"] in val else "train", "val": "test"}.get(case["split"])
        if split is None:
            sys.exit(f"{source}: case {case['id']} is in the {case['split']!r} split; expected train or val only.")
        folder = Path(case["frames"]).parts[0]
        link = out / folder
        if not link.exists():
            os.symlink((source / folder).resolve(), link)
        cases.append({**case, "split": split})
    manifest = out / "dataset.json"
    manifest.write_text(json.dumps({**document, "name": document.get("name", "real") + "-early-stopping-split",
                                    "cases": cases}, indent=2) + "\n")
    return manifest


def main(argv) -> int:
    positional = [a for a in argv[:2] if not a.startswith("-")]
    if not positional:
        sys.exit(__doc__)
    source = Path(positional[0])
    work = Path(positional[1] if len(positional) > 1 else "build/ablation_real")
    extra = argv[len(positional):]
    early_stopping_split(source, work / "data")
    from DTCTrainingLib.cli import main as dtc

    args = ["ablation", "--data", str(work / "data"), "--out", str(work / "abl"), "--seeds", "1,2,3", "--ema", "0.5",
            "--flow-average", "3"]
    for setting in COMMON:
        args += ["--set", setting]
    for setting in TEACHER:
        args += ["--teacher-set", setting]
    return dtc(args + extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
