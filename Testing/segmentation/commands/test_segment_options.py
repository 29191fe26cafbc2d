"""`dtc segment` options, each with an outcome that depends on it, through a model whose probability is the pixel value."""

import json

import numpy as np
import pytest
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.cli import main
from stand_in_models import pixel_model

HEIGHT, WIDTH = 48, 64


def drawn_frame():
    """Background 100 (p 0.39), a 20 x 20 gland at 200 (p 0.78) with a 4 x 4 hole at 30 (p 0.12), a 6 x 6 island at 200."""
    frame = np.full((HEIGHT, WIDTH), 100, np.uint8)
    frame[10:30, 10:30] = 200
    frame[18:22, 18:22] = 30
    frame[35:41, 45:51] = 200
    return frame


def regions():
    gland, hole, island = (np.zeros((HEIGHT, WIDTH), bool) for _ in range(3))
    gland[10:30, 10:30] = True
    hole[18:22, 18:22] = True
    island[35:41, 45:51] = True
    return gland, hole, island


@pytest.fixture()
def recording(tmp_path):
    model = pixel_model(tmp_path / "pixel.pt", (HEIGHT, WIDTH))
    path = write_sequence(tmp_path / "rec.seq.nrrd", FrameSequence(np.stack([drawn_frame()] * 3)))
    return model, path


def segment(capsys, recording, out, *options):
    model, path = recording
    status = main(["segment", str(path), "--model", str(model), "--out", str(out), *options])
    output = capsys.readouterr().out
    return status, (read_sequence(json.loads(output)["masks"]).frames if status == 0 else None)


@pytest.mark.parametrize("options, expected", [
    ([], "gland"),  # model threshold 0.5: the gland, hole filled, island dropped
    (["--keep-all-components"], "gland + island"),
    (["--keep-holes"], "gland - hole"),
    (["--keep-all-components", "--keep-holes"], "gland - hole + island"),
    (["--threshold", "0.3"], "all"),  # the background (0.39) too, and then the hole is enclosed: filled
    (["--threshold", "0.1", "--keep-holes"], "all"),
    (["--threshold", "0.8"], "none"),  # above the gland's 0.78
])
def test_mask_follows_threshold_component_and_hole_options(tmp_path, capsys, recording, options, expected):
    gland, hole, island = regions()
    masks = {"gland": gland, "gland + island": gland | island, "gland - hole": gland & ~hole,
             "gland - hole + island": (gland & ~hole) | island, "all": np.ones_like(gland), "none": np.zeros_like(gland)}
    status, got = segment(capsys, recording, tmp_path / "out", *options)
    assert status == 0
    for frame in got:
        np.testing.assert_array_equal(frame, masks[expected].astype(np.uint8))


def test_probabilities_are_the_model_output_in_255ths(tmp_path, capsys, recording):
    status, _ = segment(capsys, recording, tmp_path / "out", "--probabilities")
    assert status == 0
    probabilities = read_sequence(tmp_path / "out" / "rec_probabilities.seq.nrrd").frames
    np.testing.assert_array_equal(probabilities, np.stack([drawn_frame()] * 3))


def test_overwrite_replaces_the_masks_and_without_it_they_are_kept(tmp_path, capsys, recording):
    out = tmp_path / "out"
    assert segment(capsys, recording, out)[0] == 0
    first = read_sequence(out / "rec_masks.seq.nrrd").frames
    assert first.any()
    assert main(["segment", str(recording[1]), "--model", str(recording[0]), "--out", str(out), "--threshold", "0.8"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    np.testing.assert_array_equal(read_sequence(out / "rec_masks.seq.nrrd").frames, first)
    status, replaced = segment(capsys, recording, out, "--threshold", "0.8", "--overwrite")
    assert status == 0 and not replaced.any()
