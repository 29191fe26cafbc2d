"""Seed statistics of the ablation: mean +- std over seeds, per-recording pairing, and the claim decided on them."""

import math

import pytest
from DTCTrainingLib.evaluation.ablation import (
    BASELINE,
    FULL,
    check_claim_seeds,
    paired_statistics,
    recording_scores,
    seed_table,
)

CASES = [f"case{i}" for i in range(6)]


def summaries(dice, events, frames=11):
    """recording -> summary with the given per-recording Dice and flicker events (10 frame pairs each)."""
    return {case: {"frames": frames, "dice": d, "flicker_events": e, "area_jitter": 0.1}
            for case, d, e in zip(CASES, dice, events)}


def test_flicker_per_100_frames_counts_frame_pairs():
    assert recording_scores({"frames": 41, "flicker_events": 6})["flicker_per_100"] == pytest.approx(15.0)


def test_seed_table_is_the_mean_and_sample_std_of_the_seeds_dataset_means():
    scores = {1: {BASELINE: summaries([0.7] * 6, [1] * 6)}, 2: {BASELINE: summaries([0.8] * 6, [3] * 6)},
              3: {BASELINE: summaries([0.6, 0.6, 0.6, 1.0, 1.0, 1.0], [2] * 6)}}
    row = seed_table(scores)[BASELINE]
    assert row["dice"]["seeds"] == {1: pytest.approx(0.7), 2: pytest.approx(0.8), 3: pytest.approx(0.8)}
    assert row["dice"]["mean"] == pytest.approx(2.3 / 3)
    assert row["dice"]["std"] == pytest.approx(math.sqrt(((0.7 - 2.3 / 3) ** 2 + 2 * (0.8 - 2.3 / 3) ** 2) / 2))
    assert row["flicker_per_100"]["mean"] == pytest.approx(20.0) and row["flicker_per_100"]["std"] == pytest.approx(10.0)


def two_seeds(full_dice, full_events_1, full_events_2):
    baseline = [5, 6, 7, 8, 9, 10]
    return {1: {BASELINE: summaries([0.80] * 6, baseline), FULL: summaries([full_dice] * 6, full_events_1)},
            2: {BASELINE: summaries([0.80] * 6, baseline), FULL: summaries([full_dice] * 6, full_events_2)}}


def test_pairs_are_recordings_averaged_over_seeds():
    # seed 1 flickers more on case0 than the baseline (5), seed 2 less: averaged over the seeds,
    # every recording drops, by 1..6 events (10..60 per 100 frames)
    scores = two_seeds(0.80, [6, 4, 4, 4, 4, 4], [2, 4, 4, 4, 4, 4])
    flicker = paired_statistics(scores, BASELINE, FULL)["flicker_per_100"]
    assert flicker["n"] == 6 and flicker["median_difference"] == pytest.approx(-35.0)
    assert flicker["p_value"] == pytest.approx(2 / 2**6)  # all six recordings down: exact two-sided p
    assert flicker["p_value_per_seed"][1] == pytest.approx(2 * 2 / 2**6)  # seed 1 alone: +1, -2..-6: W+ = 1


@pytest.mark.parametrize("full_dice, events, holds, failed", [
    (0.795, [3, 4, 5, 6, 7, 8], True, []),
    (0.785, [3, 4, 5, 6, 7, 8], False, ["dice_within_0.01"]),  # 0.015 less Dice is not within 0.01
    (0.80, [3, 4, 5, 6, 7, 9], True, []),
    (0.80, [3, 4, 5, 6, 7, 11], False, ["fewer_flicker_events_p<0.05"]),  # one recording up: p = 4/64
    (0.80, [5, 6, 7, 8, 9, 10], False, ["fewer_flicker_events_p<0.05"]),  # no difference at all
    (0.80, [6, 8, 10, 12, 14, 16], False, ["fewer_flicker_events_p<0.05"]),  # significantly *more* flicker
])
def test_claim_needs_a_significant_flicker_drop_and_dice_within_the_margin(full_dice, events, holds, failed):
    claim = check_claim_seeds(two_seeds(full_dice, events, events))
    assert claim["holds"] is holds
    assert [k for k in ("fewer_flicker_events_p<0.05", "dice_within_0.01") if not claim[k]] == failed
    assert claim["dice_difference"] == pytest.approx(full_dice - 0.80)
    assert claim["seeds"] == [1, 2]
