"""``dtc train teacher|student|all``: the two DTC training stages."""

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the teacher, the temporally distilled student, or both",
        description="Train DTC models. The teacher learns from labelled frames; the student starts from the "
                    "teacher and learns temporal consistency from video (no video labels needed). Progress is "
                    "written as JSON lines to OUT/events.jsonl (and to stdout with --json).",
    )
    parser.add_argument("stage", choices=("teacher", "student", "all"))
    parser.add_argument("--data", help="training-data folder (dataset.json, TRUS-V or SUN-SEG layout)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, models, events)")
    parser.add_argument("--config", type=Path, help="JSON configuration file (defaults: METHOD.md)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override a setting, e.g. --set optim.epochs=10 (repeatable)")
    parser.add_argument("--teacher", type=Path, help="teacher model file for the student stage (default OUT/teacher.safetensors)")
    parser.add_argument("--resume", action="store_true", help="continue from the stage's last checkpoint in OUT")
    parser.add_argument("--json", action="store_true", help="print progress events as JSON lines on stdout")
    parser.set_defaults(func=run)


def event_printer(as_json: bool):
    """A training-event callback: every event as a JSON line on stdout, or a line per epoch on stderr."""
    from tqdm import tqdm

    from DTCTrainingLib.training_process import event_summary

    def emit(event):
        if as_json:
            print(json.dumps(event), flush=True)
        elif event["event"] == "epoch":
            tqdm.write(event_summary(event), file=sys.stderr)

    return emit


def progress_bar(iterable, **options):
    """tqdm on stderr, silent when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(iterable, disable=None, file=sys.stderr, **options)


def run(args) -> int:
    from DTCSegmentationLib.atomic import output_folder

    from DTCTrainingLib import run_folder
    from DTCTrainingLib.config import load_config
    from DTCTrainingLib.trainer import train

    overrides = list(args.set) + ([f"data.dataset={args.data}"] if args.data else [])
    config = load_config(args.config, overrides)
    if not config.data.dataset:
        from DTCSegmentationLib.errors import DTCError

        raise DTCError("no training data given.", fix="Pass --data FOLDER (or set data.dataset in the config).")
    emit = event_printer(args.json)
    stages = ("teacher", "student") if args.stage == "all" else (args.stage,)
    result = {}
    with output_folder(args.out):
        for stage in stages:
            teacher = args.teacher or run_folder.finished_model_path(args.out, "teacher")
            result[stage] = str(train(stage, config, args.out, teacher if stage == "student" else None,
                                      args.resume, emit, progress_bar))
    if not args.json:
        print(json.dumps(result, indent=2))
    return 0
