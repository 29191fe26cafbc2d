"""``dtc evaluate``: accuracy and temporal consistency of a model, or of masks already made."""

import json
from pathlib import Path
from typing import Callable, Optional, Tuple

from DTCSegmentationLib.choices import BACKENDS


def add_source_arguments(parser) -> None:
    """What to evaluate on: a dataset split, or recordings given as files (shared with ``dtc compare``)."""
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                        help="recording(s) to segment (any readable format); consistency needs no ground truth")
    parser.add_argument("--gt", type=Path, action="append", default=[],
                        help="ground-truth mask sequence, one per INPUT (or for --pred)")
    parser.add_argument("--label", type=int, metavar="N",
                        help="score only label N of multi-label ground truth (default: every non-zero label is prostate)")
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


def check_sources(args) -> None:
    """Refuse source arguments that do not fit together, before anything is read."""
    from DTCSegmentationLib.errors import DTCError

    if args.data and args.inputs:
        raise DTCError("give either --data or INPUT recordings, not both.", fix="Drop one of them.")
    if not args.data and not args.inputs:
        raise DTCError("nothing to evaluate.", fix="Pass --data FOLDER or one or more INPUT recordings.")
    if args.inputs and args.gt and len(args.gt) != len(args.inputs):
        raise DTCError(f"{len(args.gt)} --gt for {len(args.inputs)} inputs.", fix="Give one --gt per INPUT, in order.")
    if not 0.0 < args.flicker_dice <= 1.0:  # also false for NaN
        raise DTCError(f"--flicker-dice {args.flicker_dice} is not a Dice score in (0, 1].", fix="Use e.g. 0.9.")


def load_recordings(args):
    """The recordings named by the source arguments (see :func:`check_sources`)."""
    from DTCTrainingLib.evaluation.recordings import dataset_recordings, file_recordings

    if args.data:
        return dataset_recordings(args.data, args.split, args.val, args.test, args.label)
    return file_recordings(args.inputs, args.gt, args.label)


def load_model(path, args):
    """A segmenter for ``path`` (None: the shipped default model)."""
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.inference.segmenter import Segmenter
    from DTCSegmentationLib.networks.default_model import model_or_default

    path = model_or_default(path)
    if not path.is_file():
        raise DTCError("does not exist.", path, "Check the model path (or train one with `dtc train`).")
    return Segmenter.from_file(path, device=args.device, backend=args.backend)


def frame_progress(iterable, **options):
    """Per-recording progress bar (frames)."""
    from DTCTrainingLib.commands.train import progress_bar

    return progress_bar(iterable, unit="frame", leave=False, **options)


def write_evaluation(args, evaluate: Callable[[Optional[Path]], Tuple[dict, str, dict]]) -> int:
    """Run ``evaluate(flicker_map_folder or None) -> (results, title, metadata)`` into the report folder
    ``args.out``, which appears only when complete; print the dataset-level summary as JSON."""
    from DTCTrainingLib.evaluation.reports import plain_json, report_folder, write_report_files

    with report_folder(args.out, args.overwrite) as folder:
        results, title, metadata = evaluate(folder if args.flicker_maps else None)
        paths = write_report_files(folder, results, title, {"command": args.command_line, **metadata})
        summary = json.loads(paths["summary"].read_text())
    print(json.dumps(plain_json({"report": str(args.out / paths["report"].name),
                                 "methods": {m: s["dataset"] for m, s in summary["methods"].items()}}), indent=2))
    return 0


def _score_masks(args, flicker_maps: Optional[Path]):
    import numpy as np
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.sequence_io import read_sequence
    from DTCSegmentationLib.sequence_io.naming import recording_stem

    from DTCTrainingLib.evaluation.recordings import flicker_map_recorder, ground_truth
    from DTCTrainingLib.evaluation.scoring import evaluate_recording

    masks = read_sequence(args.pred)
    if masks.frames.ndim != 3:
        raise DTCError("is not a mask sequence (it has colour frames).", args.pred, "Pass a labelmap sequence.")
    count = len(masks)

    def same_recording(path):
        sequence = read_sequence(path)
        if len(sequence) != count:
            raise DTCError(f"has {len(sequence)} frames but {args.pred} has {count}.", path,
                           "Give sequences of the same recording.")
        if sequence.frames.shape[1:3] != masks.frames.shape[1:3]:
            raise DTCError(f"has {sequence.frames.shape[1]} x {sequence.frames.shape[2]} frames but {args.pred} has "
                           f"{masks.frames.shape[1]} x {masks.frames.shape[2]}.", path,
                           "Give sequences of the same recording, on the same pixel grid.")
        return sequence

    truth = ground_truth(dict(enumerate(same_recording(args.gt[0]).frames)), masks.frames, args.gt[0], args.label) \
        if args.gt else {}
    probabilities = None
    if args.probabilities:
        values = same_recording(args.probabilities).frames.astype(np.float32)
        if values.ndim != 3 or not np.isfinite(values).all() or values.min() < 0 or values.max() > 255:
            raise DTCError("is not a probability sequence (gray values in 0-1 or 0-255).", args.probabilities,
                           "Pass the probabilities `dtc segment --probabilities` wrote.")
        probabilities = values / 255.0 if values.max() > 1.0 else values
    # Without the recording there is no motion to compensate: blank frames give zero flow.
    frames = same_recording(args.frames).frames if args.frames else np.zeros(masks.frames.shape, np.uint8)
    name = recording_stem(args.pred)
    score = lambda on_frame=None: evaluate_recording(name, frames, masks.frames > 0, probabilities, truth, masks.geometry,
                                                     masks.frame_times, args.flicker_dice, on_frame)
    if flicker_maps is not None:
        with flicker_map_recorder(flicker_maps / f"flicker_{name}.seq.nrrd", masks.geometry, masks.frame_times) as record:
            evaluation = score(record)
    else:
        evaluation = score()
    return {"masks": [evaluation]}, {"pred": str(args.pred), "gt": [str(g) for g in args.gt],
                                     "flow_compensation": bool(args.frames)}


def run(args) -> int:
    from DTCSegmentationLib.errors import DTCError

    from DTCTrainingLib.evaluation.recordings import evaluate_models

    if args.pred:
        if args.model:
            raise DTCError("give either --model or --pred, not both.", fix="Drop one of them.")
        if len(args.gt) > 1 or args.inputs or args.data:
            raise DTCError("--pred scores one mask sequence against at most one --gt.", fix="Drop INPUT/--data.")

        def score_masks(flicker_maps):
            results, metadata = _score_masks(args, flicker_maps)
            return results, f"Evaluation of {args.pred.name}", metadata

        return write_evaluation(args, score_masks)
    check_sources(args)

    def evaluate(flicker_maps):
        segmenter = load_model(args.model, args)
        recordings = load_recordings(args)
        name = (args.model.name if args.model else "default model").replace(".safetensors", "")
        results = evaluate_models({name: segmenter}, recordings, progress=frame_progress, flicker_dice=args.flicker_dice,
                                  flicker_maps=flicker_maps)
        source = f"{args.data} ({args.split})" if args.data else ", ".join(str(p) for p in args.inputs)
        return results, f"Evaluation of {name} on {source}", {"model": str(args.model or "default"),
                                                                "data": str(args.data or ""), "split": args.split}

    return write_evaluation(args, evaluate)
