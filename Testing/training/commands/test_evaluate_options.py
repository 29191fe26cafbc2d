"""`dtc evaluate --flicker-dice` and `--split`: outcomes that depend on the option."""

import json

import numpy as np
import pytest
from DTCSegmentationLib.sequence_io import write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from stand_in_models import pixel_model


def summary(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])


@pytest.mark.parametrize("threshold, events", [(None, 0), ("0.95", 1), ("0.85", 0)])
def test_flicker_dice_sets_which_frame_pairs_count_as_flicker(tmp_path, capsys, threshold, events):
    # 10 x 10, 10 x 10, 10 x 12, 10 x 12 on blank frames (no motion): the Dice of frames 1 and 2 is 200 / 220 = 0.91.
    masks = np.zeros((4, 40, 60), np.uint8)
    for t, width in enumerate([10, 10, 12, 12]):
        masks[t, 10:20, 20:20 + width] = 1
    write_sequence(tmp_path / "pred.seq.nrrd", FrameSequence(masks), kind="labelmap")
    option = [] if threshold is None else ["--flicker-dice", threshold]
    scores = summary(capsys, ["evaluate", "--pred", str(tmp_path / "pred.seq.nrrd"), "--out", str(tmp_path / "r"), *option])
    assert scores["methods"]["masks"]["flicker_events"] == events
    assert scores["methods"]["masks"]["flow_dice"] == pytest.approx((1 + 200 / 220 + 1) / 3)


def test_split_chooses_the_cases_that_are_scored(tmp_path, capsys):
    data = tmp_path / "data"
    make_simulated_dataset(data, cases=5, frames=3, height=64, width=96, val_cases=1, test_cases=2, seed=4, progress=False)
    splits = {}
    for case in json.loads((data / "dataset.json").read_text())["cases"]:
        splits.setdefault(case["split"], []).append(case["id"])
    model = pixel_model(tmp_path / "pixel.pt", (64, 96))
    for split in ("val", "test"):
        summary(capsys, ["evaluate", "--model", str(model), "--data", str(data), "--split", split,
                         "--out", str(tmp_path / split)])
        document = json.loads((tmp_path / split / "summary.json").read_text())
        assert sorted(document["methods"]["pixel.pt"]["cases"]) == sorted(splits[split])
        assert document["split"] == split


def test_flicker_dice_reaches_the_scoring_of_a_model(tmp_path, capsys):
    frames = np.full((4, 40, 60), 20, np.uint8)
    frames[:, 10:20, 20:30] = 200
    for t in range(4):  # a 10 x 4 strip beside the square flips across the mask threshold: Dice 100 / 120 each pair
        frames[t, 10:20, 30:34] = 140 if t % 2 else 115
    write_sequence(tmp_path / "rec.seq.nrrd", FrameSequence(frames))
    model = pixel_model(tmp_path / "pixel.pt", (40, 60))
    for threshold, events in (("0.8", 0), ("0.85", 3)):
        scores = summary(capsys, ["evaluate", "--model", str(model), str(tmp_path / "rec.seq.nrrd"),
                                  "--flicker-dice", threshold, "--out", str(tmp_path / threshold)])
        assert scores["methods"]["pixel.pt"]["flicker_events"] == events
