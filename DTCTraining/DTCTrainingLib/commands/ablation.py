"""``dtc ablation``: train the paper's ablation rows on one dataset and seed, score them, check the claim."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import BACKENDS


def register(subparsers) -> None:
    from DTCTrainingLib.evaluation.ablation import VARIANTS

    parser = subparsers.add_parser(
        "ablation", help="train and score the plain 2D baseline, +KD, +KD+prototypes, +KD+consistency and full DTC",
        description="Train the teacher (the plain 2D baseline) and one student per ablation row with the same data, "
                    "configuration and seed, score every row on the held-out split (accuracy and temporal "
                    "consistency), and check the paper's claim (full DTC more consistent than the baseline, Dice no "
                    "more than 0.01 lower). Finished runs in OUT are reused, interrupted ones resumed.",
    )
    parser.add_argument("--data", type=Path, required=True, help="training-data folder with train, val and test splits")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and the report (OUT/report)")
    parser.add_argument("--config", type=Path, help="JSON configuration file (defaults: METHOD.md)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override a setting for every row, e.g. --set optim.epochs=6 (repeatable)")
    parser.add_argument("--teacher-set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override a setting for the teacher (the baseline row) only, after --set")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated rows (default all: {', '.join(VARIANTS)})")
    parser.add_argument("--split", default="test", choices=("val", "test"), help="split to score on (default test)")
    parser.add_argument("--backend", default="onnx", choices=BACKENDS)
    parser.add_argument("--json", action="store_true", help="print training events as JSON lines on stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCSegmentationLib.atomic import atomic_output, output_folder
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.inference.segmenter import Segmenter

    from DTCTrainingLib.commands.evaluate import frame_progress
    from DTCTrainingLib.commands.train import event_printer
    from DTCTrainingLib.commands.train import progress_bar as training_progress
    from DTCTrainingLib.config import load_config
    from DTCTrainingLib.evaluation.ablation import (
        BASELINE,
        FULL,
        VARIANTS,
        check_claim,
        train_variants,
    )
    from DTCTrainingLib.evaluation.recordings import dataset_recordings, evaluate_models
    from DTCTrainingLib.evaluation.reports import (
        plain_json,
        summary_table,
        write_report,
    )

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise DTCError(f"unknown ablation row(s) {unknown}.", fix=f"Choose from: {', '.join(VARIANTS)}.")
    config = load_config(args.config, list(args.set) + [f"data.dataset={args.data}"])
    recordings = dataset_recordings(args.data, args.split, config.data.val, config.data.test)  # fail before training
    teacher_config = load_config(args.config, list(args.set) + list(args.teacher_set) + [f"data.dataset={args.data}"])
    with output_folder(args.out):
        models = train_variants(config, args.out, variants, event_printer(args.json), training_progress, teacher_config)
    segmenters = {name: Segmenter.from_file(path, device="cpu", backend=args.backend) for name, path in models.items()}
    results = evaluate_models(segmenters, recordings, progress=frame_progress)
    paths = write_report(args.out / "report", results, f"Ablation on {args.data} ({args.split} split)",
                         {"command": args.command_line, "models": {n: str(p) for n, p in models.items()},
                          "config": config.to_dict()}, overwrite=True)
    dataset = {name: json.loads(paths["summary"].read_text())["methods"][name]["dataset"] for name in results}
    claim = check_claim(dataset) if BASELINE in dataset and FULL in dataset else None
    with atomic_output(args.out / "report" / "claim.json", overwrite=True) as temporary:
        temporary.write_text(json.dumps(plain_json(claim), indent=2) + "\n")
    print(summary_table(dataset))
    print(json.dumps(plain_json({"report": str(paths["report"]), "claim": claim}), indent=2))
    return 0

