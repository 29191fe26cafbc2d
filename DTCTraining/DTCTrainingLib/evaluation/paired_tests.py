"""Paired comparison of two methods over the same recordings: Wilcoxon signed-rank test and effect sizes.

Used by ``dtc ablation --seeds`` to say whether one row differs from another beyond the
recording-to-recording spread (a difference of dataset means from one seed can be noise).
"""

from typing import Dict, Sequence

import numpy as np


def rank_biserial(differences: Sequence[float]) -> float:
    """Matched-pairs rank-biserial correlation of paired differences, in [-1, 1].

    ``(R+ - R-) / (R+ + R-)``, where ``R+`` / ``R-`` are the sums of the ranks of ``|d|``
    (ties share their mean rank) over the positive / negative differences; zero differences
    are dropped, as in the Wilcoxon test. +1: every pair moved up; -1: every pair moved down;
    NaN when every difference is zero (or there are none).
    """
    d = np.asarray(differences, float)
    d = d[np.isfinite(d) & (d != 0)]
    if not len(d):
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.abs(d))
    positive, negative = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((positive - negative) / (positive + negative))


def paired_comparison(reference: Sequence[float], other: Sequence[float]) -> Dict[str, float]:
    """``other`` vs ``reference`` on the same recordings (pairs with a NaN on either side are left out).

    Returns ``n`` (pairs used), ``n_nonzero`` (pairs that differ), ``mean_reference``,
    ``mean_other``, ``median_difference`` (median of ``other - reference``),
    ``rank_biserial`` (:func:`rank_biserial` of ``other - reference``: its sign is the
    direction) and ``p_value``: two-sided Wilcoxon signed-rank test (SciPy, zero differences
    dropped; exact for small samples without ties, else the normal approximation); NaN when
    fewer than one pair differs.
    """
    a, b = np.asarray(reference, float), np.asarray(other, float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need one value per recording on both sides: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    d = b - a
    nonzero = int(np.count_nonzero(d))
    p_value = float("nan")
    if nonzero:
        from scipy.stats import wilcoxon

        p_value = float(wilcoxon(b, a, zero_method="wilcox", alternative="two-sided").pvalue)
    return {"n": int(len(d)), "n_nonzero": nonzero,
            "mean_reference": float(a.mean()) if len(a) else float("nan"),
            "mean_other": float(b.mean()) if len(b) else float("nan"),
            "median_difference": float(np.median(d)) if len(d) else float("nan"),
            "rank_biserial": rank_biserial(d), "p_value": p_value}
