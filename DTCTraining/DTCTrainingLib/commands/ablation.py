"""``dtc ablation``: train the paper's ablation rows on one dataset and one or more seeds, score them, check the claim.

With ``--seeds`` every seed trains and scores all rows in ``OUT/seed_<n>`` (its own report), and
``OUT/report`` holds the rows' mean +- std over seeds, paired Wilcoxon tests per recording and
the claim decided on them (``claim.json``).
"""

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
    parser.add_argument("--seeds", type=seed_list, metavar="N,N,...",
                        help="train and score every row once per seed (OUT/seed_<n>), then report mean +- std over "
                             "seeds and paired Wilcoxon tests per recording; overrides the configuration's seed")
    parser.add_argument("--ema", type=float, action="append", default=[], metavar="W",
                        help="also score the 2D baseline's probabilities smoothed by an EMA with weight W (repeatable)")
    parser.add_argument("--flow-average", type=int, action="append", default=[], metavar="N",
                        help="also score the 2D baseline's probabilities averaged over N frames along optical flow "
                             "(repeatable)")
    parser.add_argument("--backend", default="onnx", choices=BACKENDS)
    parser.add_argument("--json", action="store_true", help="print training events as JSON lines on stdout")
    parser.set_defaults(func=run)


def seed_list(text: str):
    """``"1,2,3"`` -> ``[1, 2, 3]`` (distinct whole numbers from 0 to 2**32 - 1)."""
    import argparse

    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers, e.g. 1,2,3") from None
    if not seeds or len(set(seeds)) != len(seeds) or not all(0 <= s < 2**32 for s in seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: give distinct seeds from 0 to 2**32 - 1, e.g. 1,2,3")
    return seeds


def run(args) -> int:
    from DTCSegmentationLib.atomic import atomic_output, output_folder
    from DTCSegmentationLib.errors import DTCError

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
    from DTCTrainingLib.evaluation.recordings import dataset_recordings
    from DTCTrainingLib.evaluation.reports import (
        plain_json,
        summary_table,
        write_report,
    )

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise DTCError(f"unknown ablation row(s) {unknown}.", fix=f"Choose from: {', '.join(VARIANTS)}.")
    if (args.ema or args.flow_average) and BASELINE not in variants:
        raise DTCError("--ema and --flow-average smooth the 2D baseline, which --variants leaves out.",
                       fix=f"Add {BASELINE!r} to --variants.")
    for weight in args.ema:
        if not 0.0 <= weight < 1.0:
            raise DTCError(f"--ema {weight} is outside [0, 1).", fix="Use a weight like 0.5 (0 = no smoothing).")
    if any(window < 2 for window in args.flow_average):
        raise DTCError(f"--flow-average {min(args.flow_average)} averages nothing.", fix="Use 2 frames or more, e.g. 3.")
    if args.seeds:
        return run_seeds(args, variants)
    config = load_config(args.config, list(args.set) + [f"data.dataset={args.data}"])
    recordings = dataset_recordings(args.data, args.split, config.data.val, config.data.test)  # fail before training
    teacher_config = load_config(args.config, list(args.set) + list(args.teacher_set) + [f"data.dataset={args.data}"])
    with output_folder(args.out):
        models = train_variants(config, args.out, variants, event_printer(args.json), training_progress, teacher_config)
    results = score_rows(models, recordings, args)
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


def score_rows(models, recordings, args):
    """Every row's model (the baseline first, so the post-hoc smoothing applies to it) on ``recordings``,
    with the response lags at the sweep ends where the truth covers every frame."""
    from DTCSegmentationLib.inference.segmenter import Segmenter

    from DTCTrainingLib.commands.evaluate import frame_progress
    from DTCTrainingLib.evaluation.ablation import BASELINE
    from DTCTrainingLib.evaluation.recordings import evaluate_models
    from DTCTrainingLib.evaluation.responsiveness import add_response_lags

    order = sorted(models, key=lambda name: name != BASELINE)
    segmenters = {name: Segmenter.from_file(models[name], device="cpu", backend=args.backend) for name in order}
    results = evaluate_models(segmenters, recordings, args.ema, frame_progress, flow_windows=args.flow_average)
    add_response_lags(results, recordings)
    return results


def run_seeds(args, variants) -> int:
    """``--seeds``: every seed's rows in OUT/seed_<n> (reports reused when complete), then the seed statistics."""
    from DTCSegmentationLib.atomic import atomic_output, output_folder
    from DTCSegmentationLib.errors import DTCError

    from DTCTrainingLib.commands.train import event_printer
    from DTCTrainingLib.commands.train import progress_bar as training_progress
    from DTCTrainingLib.config import load_config
    from DTCTrainingLib.evaluation.ablation import (
        BASELINE,
        FULL,
        seed_folder,
        train_variants,
    )
    from DTCTrainingLib.evaluation.recordings import dataset_recordings
    from DTCTrainingLib.evaluation.reports import plain_json, write_report

    config = load_config(args.config, list(args.set) + [f"data.dataset={args.data}"])
    recordings = dataset_recordings(args.data, args.split, config.data.val, config.data.test)  # fail before training
    methods = list(variants) + [f"{BASELINE} + EMA {w:g}" for w in args.ema] + [
        f"{BASELINE} + flow-warped mean {n}" for n in args.flow_average]
    scores = {}
    with output_folder(args.out):
        for seed in args.seeds:
            out = seed_folder(args.out, seed)
            seeded = [f"seed={seed}", f"data.dataset={args.data}"]
            config = load_config(args.config, list(args.set) + seeded)
            teacher_config = load_config(args.config, list(args.set) + list(args.teacher_set) + seeded)
            summary_path = out / "report" / "summary.json"
            previous = json.loads(summary_path.read_text())["methods"] if summary_path.is_file() else {}
            if not all(method in previous for method in methods):
                models = train_variants(config, out, variants, event_printer(args.json), training_progress,
                                        teacher_config)
                results = score_rows(models, recordings, args)
                write_report(out / "report", results, f"Ablation on {args.data} ({args.split} split), seed {seed}",
                             {"command": args.command_line, "seed": seed,
                              "models": {n: str(p) for n, p in models.items()}, "config": config.to_dict()},
                             overwrite=True)
                previous = json.loads(summary_path.read_text())["methods"]
            scores[seed] = {method: previous[method]["cases"] for method in methods}
    if not scores:
        raise DTCError("no seed was scored.", fix="Pass --seeds 1,2,3.")
    document = seed_report(scores, args, methods)
    report = args.out / "report"
    report.mkdir(exist_ok=True)
    for name, text in (("summary.json", json.dumps(plain_json(document), indent=2) + "\n"),
                       ("claim.json", json.dumps(plain_json(document["claims"]), indent=2) + "\n"),
                       ("report.md", seed_markdown(document) + "\n")):
        with atomic_output(report / name, overwrite=True) as temporary:
            temporary.write_text(text)
    print(seed_markdown(document))
    verdict = document["claims"].get(f"{FULL} vs {BASELINE}")
    print(json.dumps(plain_json({"report": str(report), "claim_holds": None if verdict is None else verdict["holds"]})))
    return 0


def seed_report(scores, args, methods):
    """The seed table, the paired statistics of every row against the 2D rows, and the claims."""
    from DTCTrainingLib.evaluation.ablation import (
        BASELINE,
        SAME_SCHEDULE,
        check_claim_seeds,
        paired_statistics,
        seed_table,
    )

    references = [r for r in (BASELINE, SAME_SCHEDULE) if r in methods]
    paired = {f"{m} vs {r}": paired_statistics(scores, r, m) for r in references for m in methods if m != r}
    claims = {f"{m} vs {r}": check_claim_seeds(scores, r, m) for r in references for m in methods
              if m != r and m not in references}
    return {"title": f"Ablation on {args.data} ({args.split} split), seeds {', '.join(map(str, scores))}",
            "command": args.command_line, "seeds": list(scores), "table": seed_table(scores), "paired": paired,
            "claims": claims}


def seed_markdown(document) -> str:
    """The report: mean +- std over seeds per row, then the paired tests against the 2D baseline."""
    from DTCTrainingLib.evaluation.ablation import PAIRED_METRICS, SEED_METRICS

    table = document["table"]
    columns = [m for m in SEED_METRICS if any(m in row for row in table.values())]

    def cell(entry, digits=3):
        if entry is None:
            return "-"
        mean, std = entry["mean"], entry["std"]
        return f"{mean:.{digits}f}" + ("" if std != std else f" +- {std:.{digits}f}")

    lines = [f"# {document['title']}", "", "Mean +- standard deviation over seeds of each seed's mean over recordings.", "",
             "| method | " + " | ".join(SEED_METRICS[c] for c in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for method, row in table.items():
        lines.append(f"| {method} | " + " | ".join(cell(row.get(c), 2 if "frames" in c or "100" in c else 3)
                                                   for c in columns) + " |")
    lines += ["", "Paired over recordings (each recording's value averaged over seeds): median difference "
              "(row - reference), matched-pairs rank-biserial r, two-sided Wilcoxon signed-rank p.", "",
              "| comparison | " + " | ".join(SEED_METRICS[m] for m in PAIRED_METRICS) + " |",
              "|---" * (len(PAIRED_METRICS) + 1) + "|"]
    for name, statistics in document["paired"].items():
        cells = []
        for metric in PAIRED_METRICS:
            s = statistics[metric]
            cells.append("-" if s["n"] == 0 else
                         f"{s['median_difference']:+.3f}, r {s['rank_biserial']:+.2f}, p {s['p_value']:.3g}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Claims (fewer flicker events, p < 0.05, and Dice at most 0.01 lower):", ""]
    for name, claim in document["claims"].items():
        flicker = claim["paired"]["flicker_per_100"]
        lines.append(f"- {name}: **{'holds' if claim['holds'] else 'does not hold'}** (Dice "
                     f"{claim['dice_difference']:+.3f}; flicker events / 100 frames median difference "
                     f"{flicker['median_difference']:+.2f}, p {flicker['p_value']:.3g})")
    return "\n".join(lines)
