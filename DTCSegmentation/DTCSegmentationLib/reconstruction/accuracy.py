"""How close a reconstructed gland is to a reference label: volume error and surface distance.

Both labelmaps are SimpleITK 0/1 images in LPS mm.  The reconstruction is compared on the
reference's grid: where the grids differ it is resampled onto it (nearest neighbour), so
reconstruct on the reference grid (``compound_masks(..., reference=label)``) for an exact comparison.
"""

import warnings
from typing import Dict

import numpy as np
import SimpleITK as sitk


def label_volume_ml(label: sitk.Image) -> float:
    """Volume in mL of a 0/1 labelmap: labelled voxels x voxel volume."""
    count = int(np.count_nonzero(sitk.GetArrayViewFromImage(label)))
    return count * float(np.prod(label.GetSpacing())) / 1000.0


def on_grid(labelmap: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """``labelmap`` on ``reference``'s grid (itself if the grids already match; nearest neighbour otherwise)."""
    same = (labelmap.GetSize() == reference.GetSize()
            and np.allclose(labelmap.GetSpacing(), reference.GetSpacing())
            and np.allclose(labelmap.GetOrigin(), reference.GetOrigin())
            and np.allclose(labelmap.GetDirection(), reference.GetDirection()))
    if same:
        return labelmap
    return sitk.Resample(labelmap, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def compare_to_label(labelmap: sitk.Image, reference: sitk.Image) -> Dict[str, float]:
    """Volume error (%, signed) and symmetric surface distance (mean and 95th percentile, mm) and Dice.

    Keys: ``volume_ml``, ``label_volume_ml``, ``volume_error_percent``, ``dice``, ``mean_surface_mm``
    (average symmetric surface distance), ``hd95_mm`` (95th percentile symmetric Hausdorff distance).
    Surface distances come from MONAI on voxel boundaries, in mm (the grid's spacing).
    """
    reference_array = sitk.GetArrayViewFromImage(reference) > 0
    array = sitk.GetArrayViewFromImage(on_grid(labelmap, reference)) > 0
    volume, label_volume = label_volume_ml(labelmap), label_volume_ml(reference)
    result = {"volume_ml": volume, "label_volume_ml": label_volume,
              "volume_error_percent": 100.0 * (volume / label_volume - 1.0) if label_volume else float("nan"),
              "dice": 2.0 * np.count_nonzero(array & reference_array) / max(array.sum() + reference_array.sum(), 1)}
    if not array.any() or not reference_array.any():
        return dict(result, mean_surface_mm=float("nan"), hd95_mm=float("nan"))
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    # numpy's (z, y, x) order: spacing reversed to match
    spacing = [float(s) for s in reference.GetSpacing()[::-1]]
    prediction, target = array[None, None].astype(np.float32), reference_array[None, None].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        hd95 = compute_hausdorff_distance(prediction, target, include_background=True, percentile=95, spacing=spacing)
        mean = compute_average_surface_distance(prediction, target, include_background=True, symmetric=True,
                                                spacing=spacing)
    return dict(result, mean_surface_mm=float(mean.reshape(-1)[0]), hd95_mm=float(hd95.reshape(-1)[0]))
