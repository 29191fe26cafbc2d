"""Paired Wilcoxon p-values and the rank-biserial effect size, against values worked out by hand from the definitions."""

import math

import pytest
from DTCTrainingLib.evaluation.paired_tests import paired_comparison, rank_biserial


@pytest.mark.parametrize("differences, expected", [
    ([1, 2, 3, -4], (1 + 2 + 3 - 4) / 10),  # ranks 1..4: R+ = 6, R- = 4
    ([1, -1, 2], (1.5 + 3 - 1.5) / 6),  # |1| tie shares rank 1.5
    ([0, 1, -2], (1 - 2) / 3),  # the zero is dropped before ranking
    ([0.5, 0.25], 1.0),  # every pair moved up
    ([0, 0], float("nan")),
])
def test_rank_biserial_by_hand(differences, expected):
    value = rank_biserial(differences)
    assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected)


# Exact null distribution of the signed-rank statistic: each of the 2**n sign patterns of the
# ranks 1..n is equally likely; two-sided p = 2 P(W- <= w) for the smaller sum w.
@pytest.mark.parametrize("differences, p_value", [
    ([1, 2, 3, 4, 5, 6], 2 * 1 / 2**6),  # all six up: only the all-plus pattern has W- = 0
    ([1, 2, 3, 4, 5], 2 * 1 / 2**5),  # five pairs can never reach p < 0.05
    ([-1, 2, 3, 4, 5, 6], 2 * 2 / 2**6),  # W- = 1: patterns with W- in {0, 1}
    ([-1, -2, 3, 4, 5, 6], 2 * 5 / 2**6),  # W- = 3: {}, {1}, {2}, {3}, {1, 2}
    ([0, -1, 2, 3, 4, 5, 6], 2 * 2 / 2**6),  # a recording that did not change carries no sign: dropped
])
def test_wilcoxon_p_value_is_the_exact_two_sided_one(differences, p_value):
    reference = [10.0] * len(differences)
    result = paired_comparison(reference, [r + d for r, d in zip(reference, differences)])
    assert result["p_value"] == pytest.approx(p_value)
    assert result["n"] == len(differences) and result["n_nonzero"] == sum(d != 0 for d in differences)


def test_direction_median_and_missing_pairs():
    reference = [5, 6, 7, 8, float("nan"), 9]
    other = [4, 4, 7, 5, 1, 8.5]  # the NaN pair is left out, the zero difference kept in the median only
    result = paired_comparison(reference, other)
    assert result["n"] == 5 and result["n_nonzero"] == 4
    assert result["median_difference"] == -1.0  # sorted differences -3, -2, -1, -0.5, 0
    assert result["rank_biserial"] == -1.0
    assert result["mean_reference"] == pytest.approx(7.0) and result["mean_other"] == pytest.approx(5.7)


def test_identical_methods_have_no_p_value_and_mismatched_lengths_fail():
    assert math.isnan(paired_comparison([1, 2], [1, 2])["p_value"])
    with pytest.raises(ValueError, match="one value per recording"):
        paired_comparison([1, 2, 3], [1, 2])
