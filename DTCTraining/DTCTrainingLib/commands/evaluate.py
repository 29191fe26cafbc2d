"""``dtc evaluate``: accuracy and temporal consistency of a model, or of masks already made."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import BACKENDS


def add_source_arguments(parser) -> None:
    """What to evaluate on: a dataset split, or recordings given as files (shared with ``dtc compare``)."""
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                        help="recording(s) to segment (any readable format); consistency needs no ground truth")
    parser.add_argument("--gt", type=Path, action="append", default=[],
                        help="ground-truth mask sequence, one per INPUT (or for --pred)")
    parser.add_argument("--data", type=Path, help="training-data folder (dataset.json, TRUS-V or SUN-SEG): use its --split")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="dataset split (default test)")
    parser.add_argument("--val", action="append", default=[], help="validation patient/case (TRUS-V, SUN-SEG)")
    parser.add_argument("--test", action="append", default=[], help="test patient/case (TRUS-V, SUN-SEG)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="onnx", choices=BACKENDS)
    parser.add_argument("--flicker-dice", type=float, default=0.9,
                        help="flow-compensated Dice of consecutive masks below which a frame flickers (default 0.9)")
    parser.add_argument("--flicker-maps", action="store_true",
                        help="also write per-pixel flicker maps (OUT/flicker_<model>_<case>.seq.nrrd) for a Slicer overlay")
    parser.add_argument("--overwrite", action="store_true")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="accuracy (paper's metrics) and temporal consistency of a model or of masks",
        description="Score a model on a dataset split (--model --data) or on recordings (--model INPUT...; no ground "
                    "truth needed for the temporal scores), or score existing masks (--pred MASKS --gt MASKS "
                    "[--frames FRAMES]). Writes summary.json, frames.csv, report.md and per-recording curves.",
    )
    parser.add_argument("--model", type=Path, help="model file (default: the model shipped with DTC)")
    parser.add_argument("--pred", type=Path, help="predicted mask sequence to score instead of running a model")
    parser.add_argument("--probabilities", type=Path, help="with --pred: probability sequence (0-255 or 0-1)")
    parser.add_argument("--frames", type=Path,
                        help="with --pred: the recording, for flow compensation (without it: no motion compensation)")
    add_source_arguments(parser)
    parser.set_defaults(func=run)


def load_recordings(args):
    """The recordings named by the source arguments."""
    from DTCSegmentationLib.errors import DTCError

    from DTCTrainingLib.evaluation.recordings import dataset_recordings, file_recording

    if args.data and args.inputs:
        raise DTCError("give either --data or INPUT recordings, not both.", fix="Drop one of them.")
    if args.data:
        return dataset_recordings(args.data, args.split, args.val, args.test)
    if not args.inputs:
        raise DTCError("nothing to evaluate.", fix="Pass --data FOLDER or one or more INPUT recordings.")
    if args.gt and len(args.gt) != len(args.inputs):
        raise DTCError(f"{len(args.gt)} --gt for {len(args.inputs)} inputs.", fix="Give one --gt per INPUT, in order.")
    truths = args.gt or [None] * len(args.inputs)
    return [file_recording(path, truth) for path, truth in zip(args.inputs, truths)]


def load_model(path, args):
    """A segmenter for ``path`` (None: the shipped default model)."""
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.inference.segmenter import Segmenter
    from DTCSegmentationLib.networks.default_model import model_or_default

    path = model_or_default(path)
    if not path.is_file():
        raise DTCError("does not exist.", path, "Check the model path (or train one with `dtc train`).")
    return Segmenter.from_file(path, device=args.device, backend=args.backend)


def flicker_map_options(args) -> dict:
    """``evaluate_models`` keyword arguments for ``--flicker-maps`` (the report folder is created first)."""
    if not args.flicker_maps:
        return {}
    args.out.mkdir(parents=True, exist_ok=True)
    return {"flicker_maps": args.out, "overwrite": args.overwrite}


def frame_progress(iterable, **options):
    """Per-recording progress bar (frames)."""
    from DTCTrainingLib.commands.train import progress_bar

    return progress_bar(iterable, unit="frame", leave=False, **options)


def finish(args, results, title, metadata) -> int:
    """Write the report and print the dataset-level summary as JSON."""
    from DTCTrainingLib.evaluation.reports import plain_json, write_report

    metadata = {"command": args.command_line, **metadata}
    paths = write_report(args.out, results, title, metadata, args.overwrite)
    summary = json.loads((paths["summary"]).read_text())
    print(json.dumps(plain_json({"report": str(paths["report"]),
                                 "methods": {m: s["dataset"] for m, s in summary["methods"].items()}}), indent=2))
    return 0


def _score_masks(args):
    import numpy as np
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.sequence_io import read_sequence

    from DTCTrainingLib.evaluation.recordings import flicker_map_recorder
    from DTCTrainingLib.evaluation.scoring import evaluate_recording

    if len(args.gt) > 1 or args.inputs or args.data:
        raise DTCError("--pred scores one mask sequence against at most one --gt.", fix="Drop INPUT/--data.")
    masks = read_sequence(args.pred)
    if masks.frames.ndim != 3:
        raise DTCError("is not a mask sequence (it has colour frames).", args.pred, "Pass a labelmap sequence.")
    count = len(masks)

    def same_length(path):
        sequence = read_sequence(path)
        if len(sequence) != count:
            raise DTCError(f"has {len(sequence)} frames but {args.pred} has {count}.", path,
                           "Give sequences of the same recording.")
        return sequence

    truth = dict(enumerate(same_length(args.gt[0]).frames)) if args.gt else {}
    probabilities = None
    if args.probabilities:
        values = same_length(args.probabilities).frames.astype(np.float32)
        probabilities = values / 255.0 if values.max() > 1.0 else values
    # Without the recording there is no motion to compensate: blank frames give zero flow.
    frames = same_length(args.frames).frames if args.frames else np.zeros(masks.frames.shape, np.uint8)
    name = args.pred.name.split(".")[0]
    score = lambda on_frame=None: evaluate_recording(name, frames, masks.frames > 0, probabilities, truth, masks.geometry,
                                                     masks.frame_times, args.flicker_dice, on_frame)
    if args.flicker_maps:
        args.out.mkdir(parents=True, exist_ok=True)
        with flicker_map_recorder(args.out / f"flicker_{name}.seq.nrrd", masks.geometry, masks.frame_times,
                                  args.overwrite) as record:
            evaluation = score(record)
    else:
        evaluation = score()
    return {"masks": [evaluation]}, {"pred": str(args.pred), "gt": [str(g) for g in args.gt],
                                     "flow_compensation": bool(args.frames)}


def run(args) -> int:
    from DTCTrainingLib.evaluation.recordings import evaluate_models

    if args.pred:
        if args.model:
            from DTCSegmentationLib.errors import DTCError

            raise DTCError("give either --model or --pred, not both.", fix="Drop one of them.")
        results, metadata = _score_masks(args)
        return finish(args, results, f"Evaluation of {args.pred.name}", metadata)
    recordings = load_recordings(args)
    segmenter = load_model(args.model, args)
    name = (args.model.name if args.model else "default model").replace(".safetensors", "")
    results = evaluate_models({name: segmenter}, recordings, progress=frame_progress, flicker_dice=args.flicker_dice,
                              **flicker_map_options(args))
    source = f"{args.data} ({args.split})" if args.data else ", ".join(str(p) for p in args.inputs)
    return finish(args, results, f"Evaluation of {name} on {source}",
                  {"model": str(args.model or "default"), "data": str(args.data or ""), "split": args.split})
