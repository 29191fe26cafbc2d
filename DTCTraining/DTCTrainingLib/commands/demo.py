"""``dtc demo``: the whole inference story on a held-out simulated sweep, with nothing to download."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import BACKENDS
from DTCSegmentationLib.commands.arguments import seed


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
    parser.add_argument("--seed", type=seed, default=9000, help="simulation seed (default 9000, held out from training)")
    parser.add_argument("--backend", default="onnx", choices=BACKENDS)
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCTrainingLib.evaluation.demo import run_demo

    views = ("axial", "sagittal") if args.view == "both" else (args.view,)
    report = run_demo(args.out, args.model, views, args.frames, args.seed, args.backend, args.overwrite)
    print(json.dumps(report, indent=2))
    return 0
