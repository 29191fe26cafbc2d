"""Evaluation: ``metrics`` (the paper's accuracy metrics per frame), ``scoring`` (a recording's
metrics and temporal consistency), ``recordings`` (what to evaluate: dataset splits or files),
``smoothing`` (post-hoc EMA baseline), ``reports`` (summary.json, frames.csv, report.md),
``plots`` (per-frame curves) and ``ablation`` (the paper's ablation rows and the claim check).
"""
