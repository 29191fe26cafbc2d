"""The TRUS simulator: reproducible, anatomically sensible, moving, with exact masks."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.sequence_io import read_sequence
from DTCSegmentationLib.simulation import DIFFICULTIES, SimulationConfig, iter_simulation, simulate
from DTCSegmentationLib.simulation.image_formation import shadow_map
from DTCTrainingLib.cli import main

SMALL = dict(height=128, width=224, num_frames=24)
STILL = replace(DIFFICULTIES["default"], motion_mm=0.0, rotation_deg=0.0, pressure=0.0, sweep=0.0,
                gain_flicker_db=0.0, drop_probability=0.0, duplicate_probability=0.0, calcifications=0.0)


@pytest.fixture(scope="module", params=["axial", "sagittal"])
def recording(request):
    return simulate(SimulationConfig(view=request.param, seed=5, **{**SMALL, "num_frames": 40}))


def test_same_seed_same_bits_other_seed_differs():
    a = simulate(SimulationConfig(seed=11, **SMALL))
    b = simulate(SimulationConfig(seed=11, **SMALL))
    c = simulate(SimulationConfig(seed=12, **SMALL))
    np.testing.assert_array_equal(a.images.frames, b.images.frames)
    np.testing.assert_array_equal(a.masks.frames, b.masks.frames)
    assert not np.array_equal(a.images.frames, c.images.frames)
    streamed = [frame.image for frame in iter_simulation(SimulationConfig(seed=11, **SMALL))]
    np.testing.assert_array_equal(np.stack(streamed), a.images.frames)


def test_shapes_types_and_geometry(recording):
    images, masks = recording.images, recording.masks
    assert images.frames.shape == masks.frames.shape == (40, 128, 224)
    assert images.frames.dtype == masks.frames.dtype == np.uint8
    assert set(np.unique(masks.frames)) <= {0, 1}
    spacing = images.geometry.spacing
    assert spacing[0] == spacing[1] and 0.2 < spacing[0] < 0.6  # mm per pixel at 128 x 224
    assert np.all(np.diff(images.frame_times) > 0)


def ring(mask, inner, outer):
    kernel = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask, kernel(outer)).astype(bool) & ~cv2.dilate(mask, kernel(inner)).astype(bool)


def test_gland_is_hypoechoic_with_a_bright_rim(recording):
    inside, rim, around = [], [], []
    for image, mask in zip(recording.images.frames, recording.masks.frames):
        if mask.sum() < 200:
            continue
        core = cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)
        inside.append(image[core].mean())
        rim.append(image[ring(mask, 0, 2) | (mask.astype(bool) & ~core)].mean())
        around.append(image[ring(mask, 6, 14)].mean())
    assert len(inside) > 5
    assert np.mean(inside) < np.mean(around) - 15  # slightly (not absurdly) darker gland
    assert np.mean(rim) > np.mean(inside) + 10


def test_mask_moves_smoothly_and_the_sweep_grows_and_shrinks_it(recording):
    areas = recording.masks.frames.reshape(40, -1).sum(axis=1).astype(float)
    assert areas.max() > 1.3 * max(areas.min(), 1.0)  # the cross-section changes size
    masks = recording.masks.frames.astype(bool)
    dice = [2 * (a & b).sum() / max(a.sum() + b.sum(), 1) for a, b in zip(masks[:-1], masks[1:]) if a.sum() > 200]
    assert np.median(dice) > 0.9 and min(dice) < 0.999  # smooth, but really moving


def test_speckle_decorrelates_partially_and_more_when_asked():
    def consecutive_correlation(decorrelation):
        settings = replace(STILL, decorrelation=decorrelation)
        frames = simulate(SimulationConfig(seed=2, overrides=settings, **SMALL)).images.frames.astype(float)
        region = (slice(60, 100), slice(80, 150))
        a, b = frames[10][region].ravel(), frames[11][region].ravel()
        return np.corrcoef(a, b)[0, 1]

    slow, fast = consecutive_correlation(0.05), consecutive_correlation(0.6)
    assert 0 < fast < slow < 0.999


def test_duplicated_and_dropped_frames():
    settings = replace(DIFFICULTIES["default"], drop_probability=0.3, duplicate_probability=0.3)
    recording = simulate(SimulationConfig(seed=4, overrides=settings, **SMALL))
    period = 1 / 20.0
    for index, events in enumerate(recording.events):
        if events["duplicated"]:
            np.testing.assert_array_equal(recording.images.frames[index], recording.images.frames[index - 1])
            np.testing.assert_array_equal(recording.masks.frames[index], recording.masks.frames[index - 1])
        if index:
            gap = recording.images.frame_times[index] - recording.images.frame_times[index - 1]
            assert gap == pytest.approx(2 * period if events["dropped_before"] else period)
    assert any(e["duplicated"] for e in recording.events) and any(e["dropped_before"] for e in recording.events)


def test_shadow_map_darkens_only_behind_the_calcification():
    depth = np.repeat(np.arange(0, 40, 0.5, dtype=np.float32)[:, None], 9, axis=1)
    offsets = np.arange(-4, 5, dtype=np.float32)
    transmission = shadow_map(depth, [(10.0, offsets, 1.0)])
    assert transmission[depth[:, 0] < 10].min() == pytest.approx(1.0)
    assert transmission[depth[:, 0] > 12, 4].max() < 0.2
    assert transmission[:, 0].min() > 0.95


def test_calcifications_cast_shadows_in_hard_recordings():
    recording = simulate(SimulationConfig(seed=8, difficulty="hard", **{**SMALL, "num_frames": 60}))
    shadowed = [i for i, e in enumerate(recording.events) if e["shadows"]]
    assert shadowed, "a hard recording of 60 frames should show calcification shadows"


def test_command_writes_readable_sequences_and_a_preview(tmp_path, capsys):
    assert main(["simulate", "--view", "both", "--frames", "6", "--size", "96x160", "--out", str(tmp_path),
                 "--preview", "--seed", "3"]) == 0
    images = read_sequence(tmp_path / "sagittal_images.seq.nrrd")
    masks = read_sequence(tmp_path / "sagittal_masks.seq.nrrd")
    assert images.frames.shape == masks.frames.shape == (6, 96, 160)
    assert masks.metadata["data_node_class"] == "vtkMRMLLabelMapVolumeNode"
    expected = simulate(SimulationConfig(view="sagittal", seed=4, num_frames=6, height=96, width=160))
    np.testing.assert_array_equal(masks.frames, expected.masks.frames)
    assert cv2.imread(str(tmp_path / "axial_preview.png")).shape[1] == 4 * 160
    assert main(["simulate", "--frames", "2", "--size", "96x160", "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="view"):
        SimulationConfig(view="coronal")
    with pytest.raises(SystemExit):
        main(["simulate", "--size", "big", "--out", "x"])


def test_command_refuses_before_writing_anything(tmp_path, capsys):
    assert main(["simulate", "--size", "20x20", "--out", str(tmp_path / "small")]) == 2
    assert "too small" in capsys.readouterr().err and not (tmp_path / "small").exists()
    a_file = tmp_path / "file"
    a_file.write_text("mine")
    assert main(["simulate", "--out", str(a_file)]) == 2
    assert "must be a folder" in capsys.readouterr().err and a_file.read_text() == "mine"
    # Only the sagittal preview exists: nothing at all may be written, not even the axial outputs.
    (tmp_path / "sagittal_preview.png").write_bytes(b"keep")
    assert main(["simulate", "--view", "both", "--frames", "2", "--size", "64x96", "--preview",
                 "--out", str(tmp_path)]) == 2
    assert "sagittal_preview.png" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "sagittal_preview.png"]
    assert (tmp_path / "sagittal_preview.png").read_bytes() == b"keep"
