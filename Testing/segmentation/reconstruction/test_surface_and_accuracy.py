"""The gland's closed surface outside Slicer, and the accuracy measures against a reference label."""

import numpy as np
import pytest
import SimpleITK as sitk
from DTCSegmentationLib.reconstruction.accuracy import compare_to_label, label_volume_ml
from samples import require_mrml


def labelmap(array, spacing=(0.5, 0.5, 0.5), origin=(10.0, 20.0, 30.0)):
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


def cube(shift=0, side=10, size=20):
    array = np.zeros((size, size, size), np.uint8)
    array[5:5 + side, 5:5 + side, 5 + shift:5 + side + shift] = 1
    return array


def test_volume_dice_and_surface_distance_by_hand():
    label = labelmap(cube())
    assert label_volume_ml(label) == pytest.approx(1000 * 0.125 / 1000)  # 1000 voxels of 0.125 mm^3
    same = compare_to_label(labelmap(cube()), label)
    assert same["dice"] == 1.0 and same["volume_error_percent"] == 0.0 and same["mean_surface_mm"] == 0.0
    shifted = compare_to_label(labelmap(cube(shift=1)), label)  # one voxel along x: 900 of 1000 voxels shared
    assert shifted["dice"] == pytest.approx(0.9) and shifted["volume_error_percent"] == pytest.approx(0.0)
    grown = np.zeros((20, 20, 20), np.uint8)
    grown[4:16, 4:16, 4:16] = 1  # the cube grown by one voxel on every side: 1728 voxels
    scores = compare_to_label(labelmap(grown), label)
    assert scores["volume_error_percent"] == pytest.approx(72.8)
    # every surface voxel of one is 1 voxel (face) to sqrt(3) voxels (corner) from the other's surface
    assert 0.5 <= scores["mean_surface_mm"] <= 0.5 * np.sqrt(3) and 0.5 <= scores["hd95_mm"] <= 0.5 * np.sqrt(3)
    assert compare_to_label(labelmap(cube()), labelmap(grown))["volume_error_percent"] == pytest.approx(100 * (1000 / 1728 - 1))


def test_closed_surface_of_a_ball_encloses_its_volume_where_it_is():
    require_mrml()  # VTK comes with Slicer (or the slicer-core wheel)
    from DTCSegmentationLib.reconstruction.surface import LPS, RAS, closed_surface, enclosed_volume_ml
    from vtk.util import numpy_support

    z, y, x = np.mgrid[:40, :40, :40]
    ball = ((x - 19.5) ** 2 + (y - 19.5) ** 2 + (z - 19.5) ** 2 <= 12 ** 2).astype(np.uint8)  # radius 6 mm
    image = labelmap(ball)
    for space, sign in ((LPS, np.array([1, 1, 1])), (RAS, np.array([-1, -1, 1]))):
        surface = closed_surface(image, space=space)
        assert enclosed_volume_ml(surface) == pytest.approx(label_volume_ml(image), rel=0.02)
        points = numpy_support.vtk_to_numpy(surface.GetPoints().GetData())
        centre = np.array([10.0, 20.0, 30.0]) + 19.5 * 0.5  # LPS of the ball's centre
        np.testing.assert_allclose(points.mean(0), sign * centre, atol=0.05)
        np.testing.assert_allclose(np.linalg.norm(points - sign * centre, axis=1).mean(), 6.0, atol=0.25)
    with pytest.raises(ValueError, match="empty"):
        closed_surface(labelmap(np.zeros((4, 4, 4))))
