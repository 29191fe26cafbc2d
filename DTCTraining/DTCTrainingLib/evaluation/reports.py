"""Evaluation reports: JSON summary, per-frame CSV, Markdown table in the paper's column order, PNG curves.

One writer serves a single model (``dtc evaluate``) and several side by side
(``dtc compare``, ``dtc ablation``): ``results`` maps a method name to its evaluated
recordings, all methods on the same recordings.  The report folder appears whole or not at all
(:func:`report_folder`).
"""

import contextlib
import csv
import json
import math
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

import numpy as np
from DTCSegmentationLib.atomic import atomic_output, output_folder
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.sequence_io.naming import safe_name
from DTCSegmentationLib.temporal.consistency import TEMPORAL_SUMMARY

from DTCTrainingLib.evaluation.metrics import METRIC_LABELS, METRICS
from DTCTrainingLib.evaluation.scoring import RecordingEvaluation, summarize

# flicker_rate is flicker_events over the frame pairs, which the frame counts already give
TEMPORAL_LABELS = {key: label for key, label in TEMPORAL_SUMMARY.items() if key != "flicker_rate"}


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.{digits}f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(summaries: Mapping[str, Mapping[str, float]], accuracy: bool = True) -> str:
    """Markdown: one row per method; accuracy columns in the paper's order, then the temporal scores."""
    metric_columns = [m for m in METRICS if accuracy and any(m in s for s in summaries.values())]
    extra = sorted({k for s in summaries.values() for k in s} - set(METRICS) - set(TEMPORAL_LABELS)
                   - {"cases", "frames", "annotated_frames", "flicker_rate"})
    extra = [k for k in extra if not k.endswith("_undefined")]
    columns = metric_columns + list(TEMPORAL_LABELS) + extra
    header = ["method"] + [METRIC_LABELS.get(c, TEMPORAL_LABELS.get(c, c)) for c in columns]
    rows = [[name] + [_number(summary.get(c), 2 if c in ("hd95_mm", "assd_mm") else 3) for c in columns]
            for name, summary in summaries.items()]
    return _markdown_table(header, rows)


def _csv(path: Path, rows: List[Dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["case"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()})


def _curves_plot(path: Path, case: str, per_method: Mapping[str, RecordingEvaluation]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_truth = any(e.accuracy for e in per_method.values())
    panels = [("flow_consistency", "flow-compensated consistency"), ("flow_dice", "flow-compensated mask Dice"),
              ("area", "mask area (mm^2)")] + ([("dice", "Dice vs truth")] if has_truth else [])
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 2.1 * len(panels)), dpi=100, sharex=True)
    for (key, label), axis in zip(panels, np.atleast_1d(axes)):
        for method, evaluation in per_method.items():
            if key == "dice":
                frames = sorted(evaluation.accuracy)
                axis.plot(frames, [evaluation.accuracy[f]["dice"] for f in frames], marker=".", linewidth=1.2, label=method)
            else:
                axis.plot(evaluation.consistency.curves()[key], linewidth=1.2, label=method)
            if key == "flow_dice":
                flicker = np.flatnonzero(evaluation.consistency.flicker)
                axis.plot(flicker, evaluation.consistency.flow_dice[flicker], "x", color="red", markersize=5)
        axis.set_ylabel(label, fontsize=8)
        axis.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_title(f"{case}: per-frame temporal consistency" + (" and accuracy" if has_truth else "")
                                     + " (x: flicker events)", fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower left")
    np.atleast_1d(axes)[-1].set_xlabel("frame")
    figure.tight_layout()
    figure.savefig(str(path), format="png")
    plt.close(figure)


SUMMARY_NAME = "summary.json"


@contextlib.contextmanager
def report_folder(out: PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder that becomes the report folder ``out`` only if the block succeeds.

    A report is all or nothing: a failure half-way (or Ctrl-C) leaves no summary without its
    report.  An existing empty ``out`` is used; a non-empty one is refused, or with ``overwrite``
    replaced as a whole - but only if it holds an earlier report (a ``summary.json``), so that
    ``--overwrite`` never deletes a folder of other files.
    """
    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DTCError("already exists and would be overwritten.", out, "Choose another --out or pass --overwrite.")
        if not (out / SUMMARY_NAME).is_file():
            raise DTCError(f"holds files but no {SUMMARY_NAME}, so it is not an earlier report to replace.", out,
                           "Choose a new or empty --out folder.")
    with output_folder(out.parent):
        with atomic_output(out, overwrite=out.is_dir(), directory=True) as temporary:
            yield temporary


def write_report(out: PathLike, results: Mapping[str, Sequence[RecordingEvaluation]], title: str,
                 metadata: Optional[Dict] = None, overwrite: bool = False) -> Dict[str, Path]:
    """Write the report folder ``out`` as a whole (see :func:`report_folder` and :func:`write_report_files`).

    Returns:
        The final paths by kind (``curves`` entries as ``curves:<case>``).
    """
    out = Path(out)
    with report_folder(out, overwrite) as folder:
        paths = write_report_files(folder, results, title, metadata)
    return {kind: out / path.name for kind, path in paths.items()}


def write_report_files(folder: PathLike, results: Mapping[str, Sequence[RecordingEvaluation]], title: str,
                       metadata: Optional[Dict] = None) -> Dict[str, Path]:
    """Write ``summary.json``, ``frames.csv``, ``report.md`` and ``curves_<case>.png`` into the new ``folder``.

    Args:
        folder: an empty folder (the temporary one of :func:`report_folder`).
        results: method name -> its evaluated recordings (the same recordings for every method).
        title: heading of the Markdown report.
        metadata: anything to record with the summary (command, models, settings).

    Returns:
        The written paths by kind (``curves`` entries as ``curves:<case>``).
    """
    folder = Path(folder)
    summaries = {method: summarize(evaluations) for method, evaluations in results.items()}
    paths: Dict[str, Path] = {"summary": folder / SUMMARY_NAME, "frames": folder / "frames.csv",
                              "report": folder / "report.md"}
    cases = list(dict.fromkeys(e.name for evaluations in results.values() for e in evaluations))
    files: Dict[str, str] = {}
    for case in cases:
        name = f"curves_{safe_name(case)}.png"
        if name in files:
            raise DTCError(f"the cases {files[name]!r} and {case!r} would share the file {name}.",
                           fix="Give the recordings names that differ in letters or digits.")
        files[name] = case
        paths[f"curves:{case}"] = folder / name
    document = {"title": title, **(metadata or {}), "methods": summaries}
    paths["summary"].write_text(json.dumps(plain_json(document), indent=2) + "\n")
    rows = [{"method": method, **row} for method, evaluations in results.items() for e in evaluations for row in e.rows()]
    _csv(paths["frames"], rows)
    for case in cases:
        per_method = {m: e for m, evaluations in results.items() for e in evaluations if e.name == case}
        _curves_plot(paths[f"curves:{case}"], case, per_method)
    paths["report"].write_text(markdown_report(title, summaries, metadata) + "\n")
    return paths


def markdown_report(title: str, summaries: Mapping[str, Dict], metadata: Optional[Dict] = None) -> str:
    """The Markdown text of :func:`write_report`: dataset table, then one table per case."""
    dataset = {method: s["dataset"] for method, s in summaries.items()}
    annotated = any(s.get("annotated_frames") for s in dataset.values())
    first = next(iter(dataset.values()), {})
    parts = [f"# {title}", ""]
    if metadata and metadata.get("command"):
        parts += [f"`{metadata['command']}`", ""]
    parts += [f"{first.get('cases', 0)} recordings, {first.get('frames', 0)} frames, "
              f"{first.get('annotated_frames', 0)} with ground truth. Accuracy: mean over each recording's annotated "
              "frames, then over recordings (SUN-SEG convention). Temporal scores need no ground truth: consistency "
              "`1 - mean|p_t - p_t-1|`, the same after optical-flow compensation, the flow-compensated Dice of "
              "consecutive masks, flicker events (frames whose flow-compensated Dice < 0.9; total) and area jitter "
              "(RMS of the area's second difference / mean area).", "",
              summary_table(dataset, annotated), ""]
    cases = list(dict.fromkeys(c for s in summaries.values() for c in s["cases"]))
    if len(cases) > 1:
        for case in cases:
            parts += [f"## {case}", "",
                      summary_table({m: s["cases"][case] for m, s in summaries.items() if case in s["cases"]}, annotated), ""]
    return "\n".join(parts).rstrip()


def plain_json(value):
    """``value`` with numpy scalars as Python numbers, paths as strings and NaN / inf as null (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value
