"""``dtc compare``: two or more models (and post-hoc temporal smoothing) on the same recordings."""

from pathlib import Path

from DTCTrainingLib.commands.evaluate import (
    add_source_arguments,
    check_sources,
    frame_progress,
    load_model,
    load_recordings,
    write_evaluation,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="several models, and EMA smoothing of the first, side by side on the same recordings",
        description="Run every --model on the same recordings (a dataset split or INPUT files) and write one report "
                    "with a side-by-side table and overlaid per-frame curves. --ema W adds the first model's "
                    "probabilities smoothed over time (s_t = W s_t-1 + (1-W) p_t), the post-hoc alternative to DTC, "
                    "with its measured lag in frames.",
    )
    parser.add_argument("--model", type=Path, action="append", required=True,
                        help="model file (repeat; 'default' = the model shipped with DTC)")
    parser.add_argument("--name", action="append", default=[], help="display name per --model, in order")
    parser.add_argument("--ema", type=float, action="append", default=[], metavar="W",
                        help="EMA weight on the past, in [0, 1) (repeatable)")
    add_source_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCSegmentationLib.errors import DTCError

    from DTCTrainingLib.evaluation.recordings import evaluate_models

    if len(args.model) + len(args.ema) < 2:
        raise DTCError("nothing to compare.", fix="Pass two or more --model, or one --model and --ema W.")
    if args.name and len(args.name) != len(args.model):
        raise DTCError(f"{len(args.name)} --name for {len(args.model)} --model.", fix="Give one --name per --model.")
    for weight in args.ema:
        if not 0.0 <= weight < 1.0:
            raise DTCError(f"--ema {weight} is outside [0, 1).", fix="Use a weight like 0.5 (0 = no smoothing).")
    paths = [None if str(p) == "default" else p for p in args.model]
    names = args.name or [("default" if p is None else p.name.replace(".safetensors", "")) for p in paths]
    if len(set(names)) != len(names):
        raise DTCError(f"two models share the name {names}.", fix="Give distinct --name values.")
    check_sources(args)

    def compare(flicker_maps):
        models = {name: load_model(path, args) for name, path in zip(names, paths)}
        recordings = load_recordings(args)
        results = evaluate_models(models, recordings, args.ema, frame_progress, args.flicker_dice, flicker_maps)
        source = f"{args.data} ({args.split})" if args.data else ", ".join(str(p) for p in args.inputs)
        return results, f"Comparison on {source}", {"models": {n: str(p or "default") for n, p in zip(names, paths)},
                                                     "ema": args.ema, "data": str(args.data or ""), "split": args.split}

    return write_evaluation(args, compare)
