"""Accuracy of a segmentation against ground truth, frame by frame, and how frames are aggregated.

Per frame (:func:`frame_metrics`):

* overlap, on the binary mask: ``dice``, ``iou``, ``sensitivity`` (recall), ``precision``;
  for sweeps whose ends show no gland, ``gland_dice`` (Dice on frames whose truth is not
  empty, NaN elsewhere) and ``empty_specificity`` (on frames whose truth is empty: 1 when the
  prediction is empty too, else 0; NaN elsewhere), so their means are the outline's Dice and
  the frame-level specificity; ``far_empty_specificity``, the same on empty frames at least
  :data:`END_MARGIN_FRAMES` frames from any frame with gland (set by the recording-level
  :func:`~.scoring.evaluate_recording`, which knows the neighbours): where a gland ends is
  uncertain by a few millimetres in any label, so this separates "the outline runs on a
  little past the apex" from "a gland where there is none";
* the SUN-SEG family, on the probability map when there is one (else on the mask), via
  pysodmetrics: ``s_measure`` (S-alpha, alpha 0.5), ``e_measure`` (mean E-phi over the 256
  thresholds), ``weighted_f`` (F-beta-w, beta^2 = 1), ``mean_f`` (mean F-beta over the 256
  thresholds, beta^2 = 0.3), ``mae``.  Maps are used as they are, in [0, 1]: unlike the
  SUN-SEG toolbox we do not min-max stretch each map, which would turn a near-empty
  probability map's noise into a full-contrast prediction;
* boundaries, on the binary mask, in millimetres through the pixel spacing (MONAI):
  ``hd95_mm`` (95th percentile symmetric Hausdorff distance) and ``assd_mm`` (average
  symmetric surface distance).

Empty masks, explicitly: both empty gives Dice = IoU = weighted F = mean F = 1 and
distances 0 (pysodmetrics would score the F-measures 0); exactly one empty gives
Dice = IoU = 0 and undefined (NaN) distances.  Sensitivity is undefined (NaN)
when the truth is empty, precision when the prediction is.  NaN values are left out of
means and counted (see :func:`mean_metrics`).

Aggregation (SUN-SEG convention): frame values are averaged per case (one recording),
and the dataset value is the mean of the case means, so a long recording does not
outweigh a short one; :func:`aggregate` also gives the mean over all frames pooled.
"""

import warnings
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from DTCSegmentationLib.temporal.consistency import mask_dice

# The paper's column order (SUN-SEG family, then Dice and sensitivity), then the rest.
METRICS = ("s_measure", "e_measure", "weighted_f", "dice", "sensitivity", "iou", "precision", "mean_f", "mae",
           "hd95_mm", "assd_mm", "gland_dice", "empty_specificity", "far_empty_specificity")
# Empty frames closer than this (in frames) to a frame with gland do not count for far_empty_specificity.
END_MARGIN_FRAMES = 3
METRIC_LABELS = {
    "s_measure": "S-alpha", "e_measure": "mean E-phi", "weighted_f": "F-beta-w", "dice": "Dice",
    "sensitivity": "Sen", "iou": "IoU", "precision": "Prec", "mean_f": "mean F-beta", "mae": "MAE",
    "hd95_mm": "HD95 (mm)", "assd_mm": "ASSD (mm)", "gland_dice": "Dice (gland frames)",
    "empty_specificity": "Spec (empty frames)",
    "far_empty_specificity": f"Spec (empty, >= {END_MARGIN_FRAMES} frames from gland)",
}


def overlap_metrics(mask: np.ndarray, truth: np.ndarray) -> Dict[str, float]:
    """Dice, IoU, sensitivity and precision of binary ``(H, W)`` masks (see the module notes on empties)."""
    mask, truth = np.asarray(mask).astype(bool), np.asarray(truth).astype(bool)
    tp = float(np.logical_and(mask, truth).sum())
    predicted, actual = float(mask.sum()), float(truth.sum())
    union = predicted + actual - tp
    return {
        "dice": mask_dice(mask, truth),
        "iou": tp / union if union else 1.0,
        "sensitivity": tp / actual if actual else float("nan"),
        "precision": tp / predicted if predicted else float("nan"),
        # A sweep's ends hold frames without gland; Dice there is 1 or 0 and says nothing about the
        # outline, so the outline is scored on gland frames and the empty frames as a detection.
        "gland_dice": mask_dice(mask, truth) if actual else float("nan"),
        "empty_specificity": float("nan") if actual else float(predicted == 0),
        # A lone frame has no neighbour with gland; scoring.evaluate_recording blanks the near ones.
        "far_empty_specificity": float("nan") if actual else float(predicted == 0),
    }


def map_metrics(prediction: np.ndarray, truth: np.ndarray) -> Dict[str, float]:
    """S-measure, mean E-measure, weighted F, mean F and MAE of a ``(H, W)`` map in [0, 1] against a binary truth."""
    from py_sod_metrics import MAE, Emeasure, FmeasureHandler, FmeasureV2, Smeasure, WeightedFmeasure

    prediction = np.clip(np.asarray(prediction, np.float64), 0.0, 1.0)
    truth = np.asarray(truth).astype(bool)
    s, e, w, m = Smeasure(), Emeasure(), WeightedFmeasure(), MAE()
    f = FmeasureV2({"fm": FmeasureHandler(with_dynamic=True, with_adaptive=False, beta=0.3)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in weighted F for empty truths, handled below
        for metric in (s, e, w, m, f):
            metric.step(prediction, truth, normalize=False)
        weighted = float(w.get_results()["wfm"])
    # pysodmetrics scores the F-measures of an empty truth 0 whatever the prediction; an
    # empty prediction of an empty truth is perfect.
    both_empty = not truth.any() and not (prediction > 0.5).any()
    return {
        "s_measure": float(s.get_results()["sm"]),
        "e_measure": float(np.mean(e.get_results()["em"]["curve"])),
        "weighted_f": 1.0 if both_empty else (weighted if np.isfinite(weighted) else 0.0),
        "mean_f": 1.0 if both_empty else float(np.mean(f.get_results()["fm"]["dynamic"])),
        "mae": float(m.get_results()["mae"]),
    }


def boundary_metrics(mask: np.ndarray, truth: np.ndarray, spacing: Tuple[float, float] = (1.0, 1.0)) -> Dict[str, float]:
    """HD95 and ASSD in mm of binary ``(H, W)`` masks; ``spacing`` = (row, column) pixel size in mm."""
    mask, truth = np.asarray(mask).astype(bool), np.asarray(truth).astype(bool)
    if not mask.any() and not truth.any():
        return {"hd95_mm": 0.0, "assd_mm": 0.0}
    if not mask.any() or not truth.any():
        return {"hd95_mm": float("nan"), "assd_mm": float("nan")}
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    prediction = mask[None, None].astype(np.float32)
    target = truth[None, None].astype(np.float32)
    spacing = [float(spacing[0]), float(spacing[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MONAI's own internal deprecation notice
        hd95 = compute_hausdorff_distance(prediction, target, include_background=True, percentile=95, spacing=spacing)
        assd = compute_average_surface_distance(prediction, target, include_background=True, symmetric=True,
                                                spacing=spacing)
    return {"hd95_mm": float(hd95.reshape(-1)[0]), "assd_mm": float(assd.reshape(-1)[0])}


def frame_metrics(mask: np.ndarray, truth: np.ndarray, probability: Optional[np.ndarray] = None,
                  spacing: Tuple[float, float] = (1.0, 1.0)) -> Dict[str, float]:
    """Every metric of :data:`METRICS` for one frame.

    Args:
        mask: predicted binary mask ``(H, W)``.
        truth: ground-truth mask ``(H, W)`` (nonzero = prostate).
        probability: predicted map ``(H, W)`` in [0, 1] for the SUN-SEG family (default: the mask).
        spacing: ``(row, column)`` pixel size in mm for the boundary distances.
    """
    if np.shape(mask) != np.shape(truth):
        raise ValueError(f"prediction {np.shape(mask)} and truth {np.shape(truth)} differ in size")
    result = overlap_metrics(mask, truth)
    result.update(map_metrics(np.asarray(mask, bool) if probability is None else probability, truth))
    result.update(boundary_metrics(mask, truth, spacing))
    return result


def mean_metrics(rows: Iterable[Dict[str, float]], names: Sequence[str] = METRICS) -> Dict[str, float]:
    """Means of ``names`` over ``rows`` ignoring NaN; ``<name>_undefined`` counts the NaN rows where any."""
    rows = list(rows)
    result: Dict[str, float] = {}
    for name in names:
        values = np.array([row[name] for row in rows if name in row], float)
        finite = values[np.isfinite(values)]
        result[name] = float(finite.mean()) if len(finite) else float("nan")
        if len(finite) < len(values):
            result[f"{name}_undefined"] = int(len(values) - len(finite))
    return result


def aggregate(case_rows: Dict[str, List[Dict[str, float]]], names: Sequence[str] = METRICS) -> Dict[str, Dict]:
    """Per-case means, the dataset mean of case means (SUN-SEG) and the mean of all frames pooled.

    Args:
        case_rows: per case id, its frames' metric dicts.

    Returns:
        ``{"cases": {id: means}, "dataset": mean of case means, "frames": pooled means}``.
    """
    cases = {case: mean_metrics(rows, names) for case, rows in case_rows.items()}
    dataset = mean_metrics(cases.values(), names)
    dataset = {name: value for name, value in dataset.items() if not name.endswith("_undefined")}
    pooled = mean_metrics([row for rows in case_rows.values() for row in rows], names)
    return {"cases": cases, "dataset": dataset, "frames": pooled}
