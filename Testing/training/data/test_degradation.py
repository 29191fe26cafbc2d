"""Screen-capture degradation: what it changes (detail, compression, overlays) and what it keeps (masks, size)."""

import json

import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.sequence_io import read_sequence
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.degradation import Degradation, degrade_frame
from DTCTrainingLib.data.layouts import load_dataset
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset


def stripes(height=96, width=160, period=4):
    """Vertical stripes ``period`` pixels apart: detail a capture narrower than the frame cannot hold."""
    frame = np.zeros((height, width), np.uint8)
    frame[:, (np.arange(width) // (period // 2)) % 2 == 0] = 200
    return frame


def test_capture_width_removes_finer_detail_and_keeps_the_size():
    frame = stripes()
    kept = degrade_frame(frame, Degradation(width=160, jpeg_quality=0, overlays=False), np.random.default_rng(0))
    np.testing.assert_array_equal(kept, frame)  # a capture at full width without JPEG changes nothing
    lost = degrade_frame(frame, Degradation(width=40, jpeg_quality=0, overlays=False), np.random.default_rng(0))
    assert lost.shape == frame.shape
    # 2-pixel stripes averaged over 4-pixel capture pixels: the contrast is gone
    assert lost[:, 20:140].std() < 0.1 * frame.std()


def test_jpeg_changes_pixels_and_lower_quality_changes_more():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (64, 96)).astype(np.uint8)
    errors = [np.abs(degrade_frame(frame, Degradation(width=96, jpeg_quality=q, overlays=False),
                                   np.random.default_rng(0)).astype(int) - frame).mean() for q in (95, 20)]
    assert 0 < errors[0] < errors[1]


def test_overlays_are_bright_marks_at_the_edges_not_in_the_middle():
    frame = np.full((120, 200), 40, np.uint8)
    marked = degrade_frame(frame, Degradation(width=200, jpeg_quality=0, overlays=True), np.random.default_rng(2))
    changed = marked != frame
    assert changed[:20].any() and changed[:, -12:].any()  # text at the top, the scale at the right
    assert not changed[40:100, 40:160].any()


def test_bad_settings_are_refused():
    with pytest.raises(DTCError):
        Degradation(width=8)
    with pytest.raises(DTCError):
        Degradation(jpeg_quality=101)


def test_degraded_dataset_keeps_masks_and_split(tmp_path, capsys):
    source = make_simulated_dataset(tmp_path / "src", cases=3, frames=4, height=48, width=64, val_cases=1,
                                    seed=5).parent
    assert main(["dataset", "degrade", str(source), "--out", str(tmp_path / "deg"), "--split", "val",
                 "--width", "32"]) == 0
    degraded = load_dataset(tmp_path / "deg")
    assert [case.id for case in degraded.cases] == ["case002_axial"] and degraded.cases[0].split == "val"
    original = read_sequence(source / "case002_axial" / "masks.seq.nrrd").frames
    np.testing.assert_array_equal(read_sequence(degraded.cases[0].masks).frames, original)
    frames = read_sequence(degraded.cases[0].frames).frames
    assert frames.shape == read_sequence(source / "case002_axial" / "images.seq.nrrd").frames.shape
    document = json.loads((tmp_path / "deg" / "dataset.json").read_text())
    assert document["degradation"]["width"] == 32
    assert main(["dataset", "degrade", str(source), "--out", str(tmp_path / "none"), "--split", "test"]) == 2
    assert not (tmp_path / "none").exists()
