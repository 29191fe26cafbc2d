"""Virtual TRUS sweeps through 3D volumes (volume_sweeps, `dtc dataset from-volumes`), on analytic volumes.

The volumes hold an ellipsoid with known semi-axes along the patient's L, P and S axes, on a
grid with anisotropic spacing and oblique direction cosines; expected cross-section areas
and positions come from the ellipsoid equation and the documented probe convention.
"""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from DTCSegmentationLib.sequence_io import read_sequence
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.volume_sweeps import (
    SweepSettings,
    VolumeImportError,
    choose_splits,
    direction_vector,
    find_volume_pairs,
    import_volumes,
    make_sweep,
    read_label,
    read_volume,
)

L, P, S = np.eye(3)  # LPS unit vectors: patient left, posterior, superior
A = -P
SEMI = np.array([15.0, 10.0, 13.0])  # semi-axes (mm) along L, P, S
CENTRE = np.array([12.0, -30.0, 45.0])
SPACING = (0.7, 1.1, 1.4)
DIRECTION = np.asarray(sitk.VersorTransform((0.3, -0.5, 0.8), 0.7).GetMatrix()).reshape(3, 3)
PIXEL = 0.8
STANDOFF, RADIUS = 6.0, 10.0
STILL = dict(tremor_mm=0.0, tremor_deg=0.0, rotation_deg=0.0, pressure=0.0, tilt_deg=0.0)


def analytic_volumes(spacing=SPACING, direction=DIRECTION, markers=True):
    """(image, label) sitk volumes: ellipsoid (label 1, intensity 100) and bright markers around it."""
    spacing = np.asarray(spacing, float)
    size = np.ceil(52.0 / spacing).astype(int)
    # Off-centre by a fraction of a voxel so the grid is not symmetric about the ellipsoid.
    origin = CENTRE - direction @ (spacing * (size - 1) / 2) + np.array([0.31, -0.17, 0.23])
    k, j, i = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    index = np.stack([i, j, k], axis=-1).astype(float)
    points = origin + index @ (direction * spacing[None, :]).T
    relative = points - CENTRE
    inside = (((relative @ np.stack([L, P, S]).T) / SEMI) ** 2).sum(-1) <= 1.0
    values = np.where(inside, 100, 40).astype(np.uint8)
    if markers:
        for where in (CENTRE + (SEMI[1] + 3.0) * P, CENTRE + (SEMI[0] + 4.0) * L, CENTRE + (SEMI[2] + 4.0) * S):
            values[np.linalg.norm(points - where, axis=-1) <= 2.2] = 250
    image, label = sitk.GetImageFromArray(values), sitk.GetImageFromArray(inside.astype(np.uint8))
    for volume in (image, label):
        volume.SetSpacing(tuple(spacing))
        volume.SetOrigin(tuple(origin))
        volume.SetDirection(tuple(direction.ravel()))
    return image, label


@pytest.fixture(scope="module")
def volumes():
    return analytic_volumes()


def read_label_of(label, image):
    """The 0/1 label as read_label returns it, without a file round trip."""
    label = sitk.Cast(label, sitk.sitkUInt8)
    label.CopyInformation(image)
    return label


def ellipse_area(normal, point):
    """Area (mm^2) of the ellipsoid's section by the plane through ``point`` with ``normal``.

    For x^2/a^2 + y^2/b^2 + z^2/c^2 <= 1 cut by n.x = d (unit n): pi abc / m (1 - d^2 / m^2),
    m^2 = a^2 n_x^2 + b^2 n_y^2 + c^2 n_z^2.
    """
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    n_axes = np.array([n @ L, n @ P, n @ S])
    m = np.sqrt(np.sum((SEMI * n_axes) ** 2))
    d = n @ (np.asarray(point) - CENTRE)
    return max(0.0, np.pi * np.prod(SEMI) / m * (1 - d ** 2 / m ** 2))


def mask_areas(sweep):
    return sweep.masks.reshape(len(sweep.masks), -1).sum(1) * PIXEL ** 2


def check_areas(measured, expected):
    large = expected > 0.2 * expected.max()
    assert large.sum() >= 5
    np.testing.assert_allclose(measured[large], expected[large], rtol=0.04)
    np.testing.assert_allclose(measured[~large], expected[~large], atol=0.2 * 0.2 * expected.max())


def test_axial_sweep_cuts_the_ellipses_the_ellipsoid_equation_gives(volumes):
    image, label = volumes
    positions = np.linspace(-16.0, 16.0, 17)
    settings = SweepSettings(kind="axial", frames=17, height=64, width=80, pixel_mm=PIXEL, standoff_mm=STANDOFF,
                             probe_radius_mm=RADIUS, sweep_range=(-16.0, 16.0), **STILL)
    sweep = make_sweep(image, read_label_of(label, image), settings)
    expected = np.array([np.pi * SEMI[0] * SEMI[1] * max(0.0, 1 - (s / SEMI[2]) ** 2) for s in positions])
    check_areas(mask_areas(sweep), expected)
    assert not sweep.masks[0].any() and not sweep.masks[-1].any()  # |s| > c: beyond the gland
    # Centre frame: the ellipse (2a x 2b) is centred laterally, its posterior edge STANDOFF above the bottom row.
    rows, columns = np.nonzero(sweep.masks[8])
    assert abs(columns.mean() - (80 - 1) / 2) < 0.5
    assert abs((columns.max() - columns.min() + 1) * PIXEL - 2 * SEMI[0]) < 2 * PIXEL
    assert abs((rows.max() - rows.min() + 1) * PIXEL - 2 * SEMI[1]) < 2 * PIXEL
    assert abs((63 - rows.max()) * PIXEL - STANDOFF) < 1.5 * PIXEL


def test_rotational_sweep_cuts_the_ellipses_the_ellipsoid_equation_gives(volumes):
    image, label = volumes
    angles = np.linspace(-50.0, 50.0, 21)
    settings = SweepSettings(kind="rotational", frames=21, height=64, width=80, pixel_mm=PIXEL,
                             standoff_mm=STANDOFF, probe_radius_mm=RADIUS, sweep_range=(-50.0, 50.0), **STILL)
    sweep = make_sweep(image, read_label_of(label, image), settings)
    # The probe axis runs along S, STANDOFF + RADIUS posterior of the ellipsoid's posterior pole.
    axis_point = CENTRE + (SEMI[1] + STANDOFF + RADIUS) * P
    expected = []
    for angle in np.radians(angles):
        up = np.cos(angle) * A + np.sin(angle) * np.cross(S, A)
        expected.append(ellipse_area(np.cross(S, up), axis_point))
    check_areas(mask_areas(sweep), np.array(expected))
    assert not sweep.masks[0].any() and not sweep.masks[-1].any()
    # Positive angles turn towards the patient's left: the left marker shows at its angle, not at the mirrored one.
    marker_angle = np.degrees(np.arctan2(SEMI[0] + 4.0, SEMI[1] + STANDOFF + RADIUS))
    marked = (sweep.images > 200).reshape(21, -1).sum(1)
    assert marked[np.argmin(abs(angles - marker_angle))] >= 3 and marked[angles < -20].sum() == 0


def test_probe_side_is_at_the_bottom_anterior_up_and_the_sides_follow_the_convention(volumes):
    image, label = volumes
    mask = read_label_of(label, image)
    common = dict(frames=3, height=64, width=80, pixel_mm=PIXEL, standoff_mm=STANDOFF, probe_radius_mm=RADIUS, **STILL)
    axial = make_sweep(image, mask, SweepSettings(kind="axial", sweep_range=(-1.0, 1.0), **common))
    rows, columns = np.nonzero(axial.masks[1])
    marker_rows, marker_columns = np.nonzero(axial.images[1] > 200)
    posterior = marker_rows > rows.max()  # the posterior marker: below the gland, on the midline
    assert posterior.sum() >= 5 and abs(marker_columns[posterior].mean() - columns.mean()) < 2
    assert (63 - marker_rows[posterior].mean()) * PIXEL < STANDOFF  # between the gland and the transducer
    left = ~posterior  # the patient-left marker: on the image's right (radiological view)
    assert left.sum() >= 5 and marker_columns[left].min() > columns.max()
    rotational = make_sweep(image, mask, SweepSettings(kind="rotational", sweep_range=(-1.0, 1.0), **common))
    rows, columns = np.nonzero(rotational.masks[1])
    marker_rows, marker_columns = np.nonzero(rotational.images[1] > 200)
    superior = marker_columns < columns.min()  # the superior marker: the probe tip's side, on the left
    assert superior.sum() >= 5 and marker_rows[~superior].min() > rows.max()
    top = make_sweep(image, mask, SweepSettings(kind="axial", sweep_range=(-1.0, 1.0), probe_at="top", **common))
    np.testing.assert_array_equal(top.masks, axial.masks[:, ::-1, :])


def flipped(volume, axes=(0, 2)):
    """The same physical object with the array reversed along ITK axes ``axes`` and their direction negated."""
    array = sitk.GetArrayFromImage(volume)
    for axis in axes:
        array = np.flip(array, axis=2 - axis)
    spacing = np.asarray(volume.GetSpacing())
    direction = np.asarray(volume.GetDirection()).reshape(3, 3)
    last = np.zeros(3)
    for axis in axes:
        last[axis] = volume.GetSize()[axis] - 1
    origin = np.asarray(volume.GetOrigin()) + direction @ (spacing * last)
    sign = np.ones(3)
    sign[list(axes)] = -1
    out = sitk.GetImageFromArray(np.ascontiguousarray(array))
    out.SetSpacing(tuple(spacing))
    out.SetOrigin(tuple(origin))
    out.SetDirection(tuple((direction * sign[None, :]).ravel()))
    return out


@pytest.mark.parametrize("kind", ["rotational", "axial"])
def test_flipped_direction_cosines_give_the_same_sweeps(volumes, kind):
    image, label = volumes
    settings = SweepSettings(kind=kind, frames=12, height=48, width=64, pixel_mm=1.0)
    sweep = make_sweep(image, read_label_of(label, image), settings, seed=3)
    flipped_image = flipped(image)
    other = make_sweep(flipped_image, read_label_of(flipped(label), flipped_image), settings, seed=3)
    np.testing.assert_allclose(other.frame_to_volume, sweep.frame_to_volume, atol=1e-6)
    assert (other.masks != sweep.masks).sum() <= 0.001 * sweep.masks.size
    assert np.abs(other.images.astype(int) - sweep.images.astype(int)).max() <= 1


def test_auto_range_has_empty_frames_before_and_after_the_gland_and_motion_is_smooth_and_seeded(volumes):
    image, label = volumes
    mask = read_label_of(label, image)
    for kind in ("rotational", "axial"):
        settings = SweepSettings(kind=kind, frames=20, height=64, width=80, pixel_mm=PIXEL, margin=0.15)
        sweep = make_sweep(image, mask, settings, seed=7)
        filled = sweep.masks.reshape(20, -1).any(1)
        assert not filled[:2].any() and not filled[-2:].any() and filled[4:16].all(), (kind, filled)
        still = make_sweep(image, mask, SweepSettings(kind=kind, frames=20, height=64, width=80, pixel_mm=PIXEL,
                                                      **STILL), seed=7)
        # The hand's motion: where the transducer centre (bottom row, middle) goes, against a still hand.
        transducer = np.array([(79 / 2, 63, 0, 1)]).T
        motion = (sweep.frame_to_volume @ transducer - still.frame_to_volume @ transducer)[:, :3, 0]
        size = np.linalg.norm(motion, axis=1)
        assert 0.2 < size.max() < 3.0, size
        # Smooth, not jitter: frame-to-frame changes of the motion change slowly in turn.
        first, second = np.diff(motion, axis=0), np.diff(motion, n=2, axis=0)
        assert np.linalg.norm(second, axis=1).mean() < 0.5 * np.linalg.norm(first, axis=1).mean()
        again = make_sweep(image, mask, settings, seed=7)
        np.testing.assert_array_equal(again.images, sweep.images)
        assert not np.array_equal(make_sweep(image, mask, settings, seed=8).images, sweep.images)
    np.testing.assert_allclose(sweep.times, np.arange(20) / settings.frame_rate)


def write_pair(folder, name, image, label, image_suffix=".nii.gz", label_suffix=".nii.gz"):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(folder / "images" / f"{name}{image_suffix}"))
    sitk.WriteImage(label, str(folder / "labels" / f"{name}{label_suffix}"))
    return folder / "images" / f"{name}{image_suffix}", folder / "labels" / f"{name}{label_suffix}"


def test_label_channel_of_4d_and_vector_label_maps(tmp_path, volumes):
    image, label = volumes
    sphere = sitk.Cast(sitk.GetImageFromArray(np.zeros(label.GetSize()[::-1], np.uint8)), sitk.sitkFloat64)
    sphere.CopyInformation(label)
    sphere[5:9, 5:9, 5:9] = 1.0
    ellipsoid = sitk.Cast(label, sitk.sitkFloat64)
    image_path = tmp_path / "case.nii.gz"
    sitk.WriteImage(image, str(image_path))
    sitk.WriteImage(sitk.JoinSeries([sphere, ellipsoid, sphere * 0]), str(tmp_path / "series.nii.gz"))
    sitk.WriteImage(sitk.Compose(sphere, ellipsoid), str(tmp_path / "vector.nrrd"))
    read_image = read_volume(image_path)
    expected = sitk.GetArrayFromImage(label)
    for name in ("series.nii.gz", "vector.nrrd"):
        chosen = read_label(tmp_path / name, read_image, channel=1)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(chosen), expected)
        assert sitk.GetArrayFromImage(read_label(tmp_path / name, read_image, channel=0)).sum() == 64
    with pytest.raises(VolumeImportError, match=r"3 channels.*--label-channel \(0 to 2\)"):
        read_label(tmp_path / "series.nii.gz", read_image)
    with pytest.raises(VolumeImportError, match="channel 3 was asked for.*3 channel"):
        read_label(tmp_path / "series.nii.gz", read_image, channel=3)
    with pytest.raises(VolumeImportError, match=r"no voxel is labelled \(all <= 0.5\) in channel 2; values present: 0\."):
        read_label(tmp_path / "series.nii.gz", read_image, channel=2)


def test_bad_inputs_are_one_error_naming_the_file_and_the_fix(tmp_path, volumes):
    image, label = volumes
    image_path, label_path = write_pair(tmp_path, "p1", image, label)
    read_image = read_volume(image_path)
    with pytest.raises(VolumeImportError, match=r"missing\.nii\.gz: the image volume does not exist"):
        read_volume(tmp_path / "missing.nii.gz")
    small = sitk.RegionOfInterest(label, [20, 20, 20], [0, 0, 0])
    sitk.WriteImage(small, str(tmp_path / "small.nrrd"))
    with pytest.raises(VolumeImportError, match=r"small\.nrrd: the label map's size .* Fix: .*resample it"):
        read_label(tmp_path / "small.nrrd", read_image)
    other = sitk.Image(label)
    other.SetSpacing((1.0, 1.0, 1.0))
    sitk.WriteImage(other, str(tmp_path / "spacing.mha"))
    with pytest.raises(VolumeImportError, match="spacing"):
        read_label(tmp_path / "spacing.mha", read_image)
    with pytest.raises(VolumeImportError, match=r"no voxel has label value 2; values present: 0, 1\. Fix: .*--label-value"):
        read_label(label_path, read_image, value=2)
    assert sitk.GetArrayFromImage(read_label(label_path, read_image, value=1)).sum() > 1000
    with pytest.raises(VolumeImportError, match="does not fit.*--pixel-mm"):
        make_sweep(read_image, read_label(label_path, read_image), SweepSettings(height=32, width=32, pixel_mm=0.5))
    (tmp_path / "images" / "p2.mha").write_bytes(b"not an image")
    with pytest.raises(VolumeImportError, match=r"p2\.mha: no label map named 'p2'"):
        find_volume_pairs([tmp_path / "images"], [tmp_path / "labels"])
    with pytest.raises(VolumeImportError, match="cannot be read"):
        read_volume(tmp_path / "images" / "p2.mha")
    sitk.WriteImage(image, str(tmp_path / "images" / "a b.nii.gz"))
    with pytest.raises(VolumeImportError, match="cannot name a case folder"):
        find_volume_pairs([tmp_path / "images" / "a b.nii.gz"], [tmp_path / "labels"])
    with pytest.raises(VolumeImportError, match="--val names case"):
        choose_splits(["p1", "p2"], val=["obs064"])
    with pytest.raises(VolumeImportError, match="probe side 'S' is"):
        make_sweep(read_image, read_label(label_path, read_image), SweepSettings(probe_side="S"))


def test_directions_are_anatomical_letters_in_physical_space_or_voxel_axes(volumes):
    image, _ = volumes
    np.testing.assert_array_equal(direction_vector("a", image), A)
    np.testing.assert_array_equal(direction_vector("R", image), -L)
    np.testing.assert_allclose(direction_vector("+k", image), DIRECTION[:, 2])
    np.testing.assert_allclose(direction_vector("i-", image), -DIRECTION[:, 0])
    np.testing.assert_allclose(direction_vector("-i", image), -DIRECTION[:, 0])
    with pytest.raises(VolumeImportError, match="'x' is not understood"):
        direction_vector("x", image)


def test_val_fraction_split_is_by_patient_and_seeded():
    cases = [f"p{i:02d}" for i in range(10)]
    splits = choose_splits(cases, test=["p09"], val_fraction=0.25, seed=1)
    assert splits["p09"] == "test" and sum(s == "val" for s in splits.values()) == 2
    assert splits == choose_splits(cases, test=["p09"], val_fraction=0.25, seed=1)


def test_from_volumes_command_writes_a_folder_dataset_check_accepts(tmp_path, capsys):
    image, label = analytic_volumes(spacing=(1.2, 1.5, 1.3), markers=False)
    write_pair(tmp_path / "in", "obs000", image, label)
    image2, label2 = analytic_volumes(spacing=(1.4, 1.1, 1.6), direction=np.eye(3), markers=False)
    write_pair(tmp_path / "in", "obs001", image2, label2, ".mha", ".nrrd")
    out = tmp_path / "data"
    argv = ["dataset", "from-volumes", "--images", str(tmp_path / "in" / "images"),
            "--labels", str(tmp_path / "in" / "labels"), "--out", str(out), "--val", "obs001",
            "--frames", "8", "--size", "48x64", "--pixel-mm", "1.0"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cases"] == 4 and report["frames"] == 32 and report["val_patients"] == ["obs001"]
    document = json.loads((out / "dataset.json").read_text())
    assert {(c["id"], c["view"], c["split"]) for c in document["cases"]} == {
        ("obs000_rotational", "sagittal", "train"), ("obs000_axial", "axial", "train"),
        ("obs001_rotational", "sagittal", "val"), ("obs001_axial", "axial", "val")}
    masks = read_sequence(out / "obs000_axial" / "masks.seq.nrrd")
    assert masks.frames.shape == (8, 48, 64) and masks.geometry.spacing == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(masks.frame_times, np.arange(8) / 20.0)
    assert main(["dataset", "check", str(out)]) == 0
    check = json.loads(capsys.readouterr().out)
    assert check["problems"] == [] and check["train_labelled_cases"] == 2 and check["val_labelled_cases"] == 2
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--sweeps", "axial"]) == 0
    capsys.readouterr()
    assert len(json.loads((out / "dataset.json").read_text())["cases"]) == 2
    assert not (out / "obs000_rotational").exists()  # replaced whole, not mixed with the old folder


def test_a_failed_import_leaves_nothing_and_overwrite_replaces_only_a_dataset_folder(tmp_path, volumes):
    image, label = volumes
    good = write_pair(tmp_path / "in", "p1", image, label)
    bad_label = sitk.RegionOfInterest(label, [20, 20, 20], [0, 0, 0])
    bad = write_pair(tmp_path / "in", "p2", image, bad_label)
    settings = [SweepSettings(kind="axial", frames=4, height=48, width=64)]
    splits = {"p1": "train", "p2": "val"}
    with pytest.raises(VolumeImportError, match=r"p2\.nii\.gz: the label map's size"):
        import_volumes([("p1",) + good, ("p2",) + bad], tmp_path / "data", splits, settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output, no temporary folder
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(VolumeImportError, match="not a training-data folder"):
        import_volumes([("p1",) + good], tmp_path / "other", {"p1": "train"}, settings, overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"
