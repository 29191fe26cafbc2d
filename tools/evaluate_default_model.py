"""The numbers of the shipped model's card: the student, its teacher (the plain 2D network) and the
model it replaces, on the real validation sweeps (clean and degraded like screen captures) and on
held-out simulated sweeps; results to WORK/results.json and a markdown table on stdout.

Usage: python tools/evaluate_default_model.py WORK [--previous NAME=MODEL ...]
WORK is the folder of tools/train_default_model.sh. Each evaluation is skipped when its
summary.json exists, so a rerun only does what is missing.
"""

import argparse
import json
from pathlib import Path

from DTCTrainingLib.cli import main as dtc

# The teacher is the plain 2D network: the same architecture trained without any temporal term.
ROWS = {"student": "run/student.safetensors", "teacher (plain 2D)": "run/teacher.safetensors"}
COLUMNS = ("gland_dice", "empty_specificity", "far_empty_specificity", "dice", "hd95_mm", "flow_dice",
           "flicker_rate")


def evaluate(model: Path, data: Path, split: str, out: Path) -> dict:
    if not (out / "summary.json").is_file():
        code = dtc(["evaluate", "--model", str(model), "--data", str(data), "--split", split, "--out", str(out),
                    "--device", "cpu", "--overwrite"])
        if code:
            raise SystemExit(f"dtc evaluate failed ({code}) for {model} on {data}")
    methods = json.loads((out / "summary.json").read_text())["methods"]
    return next(iter(methods.values()))["dataset"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--previous", action="append", default=[], metavar="NAME=MODEL",
                        help="an earlier model to score beside the new ones (repeatable)")
    args = parser.parse_args()
    work = args.work
    real = work / "real" if (work / "real").exists() else work / "mix"
    degraded = work / "real_val_degraded"
    if not (degraded / "dataset.json").is_file():
        dtc(["dataset", "degrade", str(real), "--split", "val", "--out", str(degraded), "--width", "130",
             "--jpeg", "50", "--seed", "0"])
    simulated = work / "simulated_test"
    if not (simulated / "dataset.json").is_file():  # held out: seeds far from every training seed
        dtc(["dataset", "simulate", "--cases", "6", "--frames", "60", "--val-cases", "0", "--test-cases", "6",
             "--seed", "9000", "--out", str(simulated)])
    rows = dict(ROWS)
    for entry in args.previous:
        name, _, model = entry.partition("=")
        if not model:
            parser.error(f"--previous {entry!r}: write it as NAME=MODEL")
        rows[name] = str(Path(model).resolve())
    results = {}
    for name, model in rows.items():
        model = work / model
        if not model.is_file():
            continue
        slug = name.split(" (")[0].replace(" ", "_")
        results[name] = {
            "real val": evaluate(model, real, "val", work / "eval" / slug / "real_val"),
            "real val, screen-capture degraded": evaluate(model, degraded, "val", work / "eval" / slug / "degraded"),
            "simulated test": evaluate(model, simulated, "test", work / "eval" / slug / "simulated"),
        }
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print("| model | data | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for name, sets in results.items():
        for data, values in sets.items():
            cells = ["-" if values.get(c) is None else f"{values[c]:.3f}" for c in COLUMNS]  # JSON null: undefined
            print(f"| {name} | {data} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
