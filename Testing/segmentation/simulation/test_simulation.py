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


# ---------------------------------------------------------------- the clinical style
CLINICAL = dict(style="clinical", height=128, width=224)


def central_row_profile(images):
    """Mean brightness of each row in the central 7 % of columns, over all frames."""
    width = images.shape[2]
    band = slice(width // 2 - width // 28, width // 2 + width // 28 + 1)
    return images[:, :, band].astype(float).mean(axis=(0, 2))


def probe_surface_row(images):
    """The brightest row of the centre columns: the transducer's ring."""
    return int(np.argmax(central_row_profile(images)))


def fan_region(image):
    """``(H, W)`` bool: convex hull of the image area of a frame drawn without the screen."""
    points = cv2.findNonZero((image > 12).astype(np.uint8))
    hull = np.zeros(image.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return hull.astype(bool)


@pytest.mark.parametrize("view", ["axial", "sagittal"])
def test_clinical_probe_is_at_the_bottom_and_the_gland_just_above_it(view):
    for seed in (1, 2, 3):
        recording = simulate(SimulationConfig(view=view, seed=seed, num_frames=12, **CLINICAL))
        images, masks = recording.images.frames, recording.masks.frames
        height = images.shape[1]
        surface = probe_surface_row(images)
        assert surface > 0.75 * height, f"seed {seed}: brightest centre row {surface} is not near the bottom"
        for mask in masks:
            rows = np.flatnonzero(mask.any(axis=1))
            if rows.size:
                # Above the probe (anterior up), separated from it only by the rectal wall and fat.
                assert rows[-1] < surface and surface - rows[-1] < 0.2 * height
    classic = simulate(SimulationConfig(view=view, seed=1, num_frames=12, height=128, width=224))
    assert probe_surface_row(classic.images.frames) < 0.25 * 128  # the classic look keeps its probe at the top


@pytest.mark.parametrize("view", ["axial", "sagittal"])
def test_clinical_gland_fills_15_to_40_percent_of_the_frame_width(view):
    through_the_middle = replace(STILL, decorrelation=0.05)  # the plane through the gland's widest section
    fractions = []
    for seed in range(20):
        frame = next(iter_simulation(SimulationConfig(view=view, seed=seed, num_frames=1, overrides=through_the_middle,
                                                      **CLINICAL)))
        columns = np.flatnonzero(frame.mask.any(axis=0))
        fractions.append((columns[-1] - columns[0] + 1) / frame.mask.shape[1])
    assert 0.15 <= min(fractions) and max(fractions) <= 0.40, fractions
    assert max(fractions) - min(fractions) > 0.05  # patients and depths differ


@pytest.mark.parametrize("view", ["axial", "sagittal"])
def test_clinical_screen_lies_outside_the_image_and_the_mask(view):
    for seed in (4, 5):
        config = SimulationConfig(view=view, seed=seed, num_frames=3, **CLINICAL)
        on, off = simulate(config), simulate(replace(config, screen=False))
        np.testing.assert_array_equal(on.masks.frames, off.masks.frames)
        for shown, bare, mask in zip(on.images.frames, off.images.frames, on.masks.frames):
            overlay = shown != bare
            assert overlay.mean() > 0.005, "the screen (text, depth scale, markers) is missing"
            assert not (overlay & mask.astype(bool)).any()
            assert not (overlay & fan_region(bare)).any()


def darkest_ray_drop(image, row, column, direction):
    """How much darker the darkest ray from (row, column) is than the median ray, over +-35 degrees
    around straight up (``direction`` +1) or straight down (-1); rays from 5 to 20 pixels long."""
    steps = np.arange(5, 21)
    means = []  # per ray
    for angle in np.deg2rad(np.arange(-35, 36, 5)):
        rows = np.rint(row - direction * steps * np.cos(angle)).astype(int)
        columns = np.rint(column + steps * np.sin(angle)).astype(int)
        if rows.min() < 0 or rows.max() >= image.shape[0] or columns.min() < 0 or columns.max() >= image.shape[1]:
            return None
        means.append(np.median(image[rows, columns]))  # median: another calcification on the ray does not hide it
    return float(np.median(means) - np.min(means))


def test_clinical_calcifications_shadow_the_tissue_beyond_them():
    """Away from the probe (up on the clinical screen) a calcification leaves a dark streak; towards it, none."""
    settings = replace(DIFFICULTIES["default"], calcifications=30.0, drop_probability=0.0, duplicate_probability=0.0)
    beyond, before = [], []
    for view, seed in (("axial", 21), ("sagittal", 22), ("axial", 23)):
        recording = simulate(SimulationConfig(view=view, seed=seed, num_frames=30, overrides=settings, screen=False,
                                              style="clinical", height=192, width=336))
        for image, mask in zip(recording.images.frames, recording.masks.frames):
            core = cv2.erode(mask, np.ones((7, 7), np.uint8)).astype(bool)
            if core.sum() < 100:
                continue
            smooth = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0)
            values = smooth[core]
            if values.max() < values.mean() + 3 * values.std():
                continue  # no calcification in this plane (it would be the one outlier)
            row, column = np.argwhere(core & (smooth == values.max()))[0]
            up, down = darkest_ray_drop(image, row, column, +1), darkest_ray_drop(image, row, column, -1)
            if up is not None and down is not None:
                beyond.append(up)
                before.append(down)
    assert len(beyond) >= 10
    assert np.median(beyond) > np.median(before) + 15, (np.median(beyond), np.median(before))


@pytest.mark.parametrize("view", ["axial", "sagittal"])
def test_clinical_flip_mirrors_image_and_mask_together(view):
    orientations = set()
    for seed in range(6, 14):
        config = SimulationConfig(view=view, seed=seed, num_frames=2, screen=False, **CLINICAL)
        plain, flipped, drawn = (simulate(replace(config, flip=flip)) for flip in (False, True, None))
        np.testing.assert_array_equal(flipped.masks.frames, plain.masks.frames[:, :, ::-1])
        fan = plain.images.frames > 0
        mirrored = plain.images.frames[:, :, ::-1].astype(float)
        assert np.abs(flipped.images.frames - mirrored)[fan[:, :, ::-1]].mean() < 1.0
        # Not trivially so: the speckle itself is not mirror-symmetric.
        assert np.abs(flipped.images.frames - plain.images.frames.astype(float))[fan].mean() > 10
        # The mask lies on the gland in the mirrored frames too: darker inside than in its bright rim.
        for image, mask in zip(flipped.images.frames, flipped.masks.frames):
            core = cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)
            assert image[ring(mask, 1, 4)].mean() > image[core].mean() + 5
        orientations.add(bool(np.array_equal(drawn.images.frames, flipped.images.frames)))
        assert np.array_equal(drawn.images.frames, flipped.images.frames) or np.array_equal(drawn.images.frames,
                                                                                            plain.images.frames)
    assert orientations == {True, False}, "a random flip should come up both ways over these seeds"


def test_clinical_machines_differ_between_recordings_classic_ones_do_not():
    def measures(style, seed):
        config = SimulationConfig(view="axial", seed=seed, num_frames=2, style=style, screen=False, height=128, width=224)
        image = simulate(config).images.frames[-1].astype(float)
        fan = image > 0
        lateral = np.corrcoef(image[:, :-1][fan[:, :-1] & fan[:, 1:]], image[:, 1:][fan[:, :-1] & fan[:, 1:]])[0, 1]
        return image[fan].mean(), np.flatnonzero(fan.any(axis=0)).size, np.flatnonzero(fan.any(axis=1)).size, lateral

    clinical = np.array([measures("clinical", seed) for seed in range(8)])
    classic = np.array([measures("classic", seed) for seed in range(8)])
    assert clinical[:, 0].std() > 5  # gain, dynamic range, TGC, grey map
    assert clinical[:, 1].max() - clinical[:, 1].min() > 8 or clinical[:, 2].max() - clinical[:, 2].min() > 8  # sector, depth
    assert clinical[:, 3].max() - clinical[:, 3].min() > 0.05  # speckle size, blur, resolution
    assert np.ptp(classic[:, 1]) == 0 and np.ptp(classic[:, 2]) == 0  # one fixed probe


def test_clinical_is_deterministic_per_seed():
    config = SimulationConfig(view="sagittal", seed=31, num_frames=6, **CLINICAL)
    a, b = simulate(config), simulate(config)
    np.testing.assert_array_equal(a.images.frames, b.images.frames)
    np.testing.assert_array_equal(a.masks.frames, b.masks.frames)
    streamed = [frame.image for frame in iter_simulation(config)]
    np.testing.assert_array_equal(np.stack(streamed), a.images.frames)
    other = simulate(replace(config, seed=32))
    assert not np.array_equal(a.images.frames, other.images.frames)
    assert a.images.metadata["style"] == "clinical"


def test_bad_style_is_refused():
    with pytest.raises(ValueError, match="style"):
        SimulationConfig(style="vintage")
    with pytest.raises(SystemExit):
        main(["simulate", "--style", "vintage", "--out", "x"])
