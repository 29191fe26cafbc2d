"""`dtc ablation --teacher-set` and `--split`, and the claim computed from the rows' own scores."""

import json
from pathlib import Path

import pytest
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from DTCTrainingLib.evaluation.ablation import check_claim

ARGS = {"features": [8, 8, 16, 16]}


def tiny_ablation(data, out, variants, *options):
    """``dtc ablation`` argv on a tiny network, one step per epoch, the teacher trained for 2 epochs."""
    return ["ablation", "--data", str(data), "--out", str(out), "--variants", variants, *options, "--backend", "eager",
            "--set", "data.height=64", "--set", "data.width=96", "--set", "optim.epochs=1", "--set", "optim.batch_size=2",
            "--set", "optim.steps_per_epoch=1", "--set", f"network.arguments={json.dumps(ARGS)}",
            "--teacher-set", "optim.epochs=2"]


def row(dice, consistency, events):
    return {"dice": dice, "flow_consistency": consistency, "flow_dice": 0.9, "flicker_events": events}


@pytest.mark.parametrize("full, holds, failed", [
    (row(0.795, 0.97, 3), True, []),  # 0.005 less Dice is within 0.01
    (row(0.785, 0.97, 3), False, ["dice_within_0.01"]),  # 0.015 less is not
    (row(0.80, 0.95, 3), False, ["flow_consistency_higher"]),  # equally consistent is not more consistent
    (row(0.82, 0.97, 5), False, ["fewer_flicker_events"]),
])
def test_claim_by_hand(full, holds, failed):
    claim = check_claim({"2D baseline": row(0.80, 0.95, 5), "full DTC": full})
    assert claim["holds"] is holds
    assert [key for key in ("flow_consistency_higher", "fewer_flicker_events", "dice_within_0.01") if not claim[key]] == failed
    assert claim["baseline"]["dice"] == 0.80 and claim["full"] == full


@pytest.mark.slow
def test_teacher_set_trains_only_the_baseline_differently_and_split_picks_the_scored_cases(tmp_path, capsys):
    data = tmp_path / "data"
    make_simulated_dataset(data, cases=4, frames=4, height=64, width=96, labelled_every=2, val_cases=1, test_cases=1,
                           seed=7, progress=False)
    out = tmp_path / "abl"
    assert main(tiny_ablation(data, out, "2D baseline,full DTC", "--split", "val")) == 0
    printed = capsys.readouterr().out
    claim = json.loads(printed[printed.index('{\n  "report"'):])["claim"]
    epochs = {}
    for folder in ("teacher", "student_full_dtc"):
        events = [json.loads(line) for line in (out / folder / "events.jsonl").read_text().splitlines()]
        epochs[folder] = [e["epoch"] for e in events if e["event"] == "epoch"]
    assert epochs == {"teacher": [1, 2], "student_full_dtc": [1]}
    val_cases = [c["id"] for c in json.loads((data / "dataset.json").read_text())["cases"] if c["split"] == "val"]
    summary = json.loads((out / "report" / "summary.json").read_text())["methods"]
    assert sorted(summary["full DTC"]["cases"]) == val_cases
    for side, name in (("baseline", "2D baseline"), ("full", "full DTC")):  # the claim is about these two rows' scores
        scores = summary[name]["dataset"]
        assert claim[side] == {key: scores[key] for key in ("dice", "flow_consistency", "flow_dice", "flicker_events")}
    assert json.loads((out / "report" / "claim.json").read_text()) == claim


@pytest.mark.slow
def test_seeds_train_each_row_per_seed_and_the_claim_is_computed_from_the_seed_reports(tmp_path, capsys):
    import numpy as np

    data = tmp_path / "data"
    make_simulated_dataset(data, cases=4, frames=5, height=64, width=96, labelled_every=1, val_cases=1, test_cases=1,
                           seed=8, progress=False)
    out = tmp_path / "abl"
    rows = "2D baseline,2D same schedule,full DTC"
    argv = tiny_ablation(data, out, rows, "--seeds", "3,4", "--ema", "0.5", "--flow-average", "2")
    assert main(argv) == 0
    claims = json.loads((out / "report" / "claim.json").read_text())
    claim = claims["full DTC vs 2D baseline"]
    for seed in (3, 4):
        folder = out / f"seed_{seed}"
        tuned = json.loads((folder / "supervised_same_schedule" / "teacher_config.json").read_text())
        assert tuned["seed"] == seed and tuned["optim"]["epochs"] == 1  # the students' schedule...
        assert tuned["teacher"]["init"] == str(folder / "teacher" / "teacher.safetensors")  # ...from the teacher
        teacher = json.loads((folder / "teacher" / "teacher_config.json").read_text())
        assert teacher["seed"] == seed and teacher["optim"]["epochs"] == 2
    # the paired flicker numbers, recomputed from the two seed reports
    per_seed = [json.loads((out / f"seed_{s}" / "report" / "summary.json").read_text())["methods"] for s in (3, 4)]
    assert set(per_seed[0]) == {"2D baseline", "2D same schedule", "full DTC", "2D baseline + EMA 0.5",
                                "2D baseline + flow-warped mean 2"}

    def per_100(methods, name):
        return {case: 100 * s["flicker_events"] / (s["frames"] - 1) for case, s in methods[name]["cases"].items()}

    difference = [np.mean([per_100(m, "full DTC")[c] - per_100(m, "2D baseline")[c] for m in per_seed])
                  for c in per_100(per_seed[0], "2D baseline")]
    assert claim["paired"]["flicker_per_100"]["median_difference"] == pytest.approx(float(np.median(difference)))
    dice = {name: np.mean([m[name]["dataset"]["dice"] for m in per_seed]) for name in ("full DTC", "2D baseline")}
    assert claim["dice_difference"] == pytest.approx(dice["full DTC"] - dice["2D baseline"])
    assert claim["seeds"] == [3, 4] and "full DTC vs 2D same schedule" in claims
    assert "2D baseline + EMA 0.5 vs 2D baseline" in claims
    ema = per_seed[0]["2D baseline + EMA 0.5"]["cases"]
    assert all("lag_frames" in s and "response_lag_frames" in s for s in ema.values())  # truth on every frame
    # a second run reuses every seed's runs and reports: no training event is added
    events = {p: p.read_text() for p in out.rglob("events.jsonl")}
    capsys.readouterr()
    assert main(argv) == 0
    assert {p: p.read_text() for p in out.rglob("events.jsonl")} == events
    assert "| full DTC |" in capsys.readouterr().out


def test_row_names_survive_the_comma_separated_variants_option():
    from DTCTrainingLib.evaluation.ablation import VARIANTS, variant_folder

    assert all("," not in name for name in VARIANTS)  # --variants splits on commas
    folders = {variant_folder(Path("out"), name) for name in VARIANTS}
    assert len(folders) == len(VARIANTS)  # no two rows share a run folder


@pytest.mark.parametrize("seeds, message", [("1,x", "whole numbers"), ("2,2", "distinct"), ("-1", "distinct")])
def test_bad_seed_lists_are_refused_by_the_parser(seeds, message, capsys):
    with pytest.raises(SystemExit):
        main(["ablation", "--data", "d", "--out", "o", "--seeds", seeds])
    assert message in capsys.readouterr().err
