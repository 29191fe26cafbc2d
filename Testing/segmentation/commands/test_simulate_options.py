"""`dtc simulate --format` and `--difficulty`: what is written is the simulator's sweep for that difficulty, in that format."""

import json

import numpy as np
import pytest
from DTCSegmentationLib.sequence_io import read_sequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from DTCTrainingLib.cli import main

FRAMES, SIZE = 3, (64, 96)


def expected(difficulty):
    return simulate(SimulationConfig(num_frames=FRAMES, height=SIZE[0], width=SIZE[1], seed=0, difficulty=difficulty))


@pytest.mark.parametrize("format, images_name", [("seq.nrrd", "axial_images.seq.nrrd"), ("nii.gz", "axial_images.nii.gz"),
                                                 ("png", "axial_images")])
@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_written_sweep_is_the_simulation_for_the_difficulty_in_the_format(tmp_path, capsys, format, images_name, difficulty):
    assert main(["simulate", "--frames", str(FRAMES), "--size", "64x96", "--format", format, "--difficulty", difficulty,
                 "--out", str(tmp_path)]) == 0
    written = json.loads(capsys.readouterr().out)["axial"]
    assert written["images"] == str(tmp_path / images_name)
    images, masks = read_sequence(written["images"]), read_sequence(written["masks"])
    reference = expected(difficulty)
    np.testing.assert_array_equal(images.frames, reference.images.frames)  # lossless formats: bit for bit
    np.testing.assert_array_equal(masks.frames, reference.masks.frames)
    other = expected("hard" if difficulty == "easy" else "easy")
    assert not np.array_equal(images.frames, other.images.frames)  # the difficulty changes the sweep


def test_mp4_images_come_with_lossless_masks(tmp_path, capsys):
    assert main(["simulate", "--frames", str(FRAMES), "--size", "64x96", "--format", "mp4", "--out", str(tmp_path)]) == 0
    written = json.loads(capsys.readouterr().out)["axial"]
    assert written["images"].endswith("axial_images.mp4") and written["masks"].endswith("axial_masks.seq.nrrd")
    reference = expected("default")
    images = read_sequence(written["images"]).frames
    assert images.shape[0] == FRAMES and np.abs(images.astype(float) - reference.images.frames).mean() < 8  # lossy video
    np.testing.assert_array_equal(read_sequence(written["masks"]).frames, reference.masks.frames)
