"""Render gland_3d.png: a real 3D TRUS validation volume swept, segmented and compounded back into the gland in 3D.

A rotational sweep of the importer (the shipped model's real-sweep settings, 80 frames) through one
validation case: a few frames with the true (red) and the shipped model's (yellow) outline, then the
closed surfaces (Slicer's smoothing) compounded from the true masks and from the model's masks, each
with its volume beside the label's own.

Usage: python Resources/Screenshots/render_gland_3d.py MRUS_DIR [CASE] [OUT]
(MRUS_DIR holds fixed_images/ and fixed_labels/; CASE one of the validation cases obs064-obs071.)
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from DTCSegmentationLib.inference.segmenter import Segmenter  # noqa: E402
from DTCSegmentationLib.networks.default_model import default_model_path  # noqa: E402
from DTCSegmentationLib.reconstruction.accuracy import compare_to_label  # noqa: E402
from DTCSegmentationLib.reconstruction.compounding import compound_masks  # noqa: E402
from DTCSegmentationLib.reconstruction.surface import LPS, closed_surface  # noqa: E402
from DTCTrainingLib.data.volume_sweeps import SweepSettings, case_seed, make_sweep, read_label, read_volume  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402
from vtk.util import numpy_support  # noqa: E402

VALIDATION = tuple(f"obs{n:03d}" for n in range(64, 72))
FRAMES_SHOWN = 4


def triangles(surface) -> np.ndarray:
    """``(N, 3, 3)`` triangle corners (mm) of a vtkPolyData of triangles."""
    points = numpy_support.vtk_to_numpy(surface.GetPoints().GetData())
    cells = numpy_support.vtk_to_numpy(surface.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    return points[cells]


def shaded(corners: np.ndarray, colour) -> np.ndarray:
    """``(N, 4)`` RGBA per triangle: Lambert shading from a light over the viewer's shoulder."""
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    light = np.array([-0.4, -0.6, 0.7]) / np.linalg.norm([-0.4, -0.6, 0.7])
    brightness = 0.35 + 0.65 * np.abs(normals @ light)
    rgba = np.tile(matplotlib.colors.to_rgba(colour), (len(corners), 1))
    rgba[:, :3] *= brightness[:, None]
    return rgba


def render(data: Path, case: str, out: Path) -> None:
    if case not in VALIDATION:
        raise SystemExit(f"use a validation case ({VALIDATION[0]}-{VALIDATION[-1]}), not {case}")
    image = read_volume(data / "fixed_images" / f"{case}.nii.gz")
    label = read_label(data / "fixed_labels" / f"{case}.nii.gz", image, channel=0)
    settings = SweepSettings(kind="rotational", frames=80, height=128, width=160, pixel_mm=1.1,
                             probe_axis="+k", probe_side="+i")
    sweep = make_sweep(image, label, settings, seed=case_seed(0, case, "rotational"))
    segmenter = Segmenter.from_file(default_model_path(), device="cpu")
    predicted = np.stack([result.mask for result in segmenter.segment_stream(sweep.images)])
    figure = plt.figure(figsize=(11.0, 6.4))
    grid = figure.add_gridspec(2, FRAMES_SHOWN, height_ratios=[1.0, 2.2], hspace=0.28, wspace=0.04)
    filled = np.flatnonzero(sweep.masks.reshape(len(sweep.masks), -1).any(1))
    for column, index in enumerate(np.linspace(filled[0] + 3, filled[-1] - 3, FRAMES_SHOWN).astype(int)):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(sweep.images[index], cmap="gray", interpolation="bilinear")
        axis.contour(sweep.masks[index], levels=[0.5], colors="#ff3030", linewidths=1.0)
        if predicted[index].any():
            axis.contour(predicted[index], levels=[0.5], colors="#ffd000", linewidths=1.0)
        axis.set_title(f"frame {index} of 80", fontsize=7)
        axis.set_xticks([])
        axis.set_yticks([])
    label_volume = compare_to_label(label, label)["label_volume_ml"]
    for position, (name, masks, colour) in enumerate((("true masks", sweep.masks, "#e07050"),
                                                      ("shipped model's masks", predicted, "#e0b030"))):
        reconstruction = compound_masks(masks, sweep.frame_to_volume, reference=label)
        scores = compare_to_label(reconstruction.labelmap, label)
        corners = triangles(closed_surface(reconstruction.labelmap, space=LPS))
        axis = figure.add_subplot(grid[1, 2 * position: 2 * position + 2], projection="3d")
        axis.add_collection3d(Poly3DCollection(corners, facecolors=shaded(corners, colour), edgecolors="none"))
        low, high = corners.reshape(-1, 3).min(0), corners.reshape(-1, 3).max(0)
        middle, half = (low + high) / 2, (high - low).max() / 2 + 2
        for setter, centre in zip((axis.set_xlim, axis.set_ylim, axis.set_zlim), middle):
            setter(centre - half, centre + half)
        axis.set_box_aspect((1, 1, 1))
        axis.view_init(elev=20, azim=-60)
        axis.tick_params(labelsize=6)
        axis.set_title(f"from the {name}: {reconstruction.volume_ml:.1f} mL (label {label_volume:.1f} mL, "
                       f"{scores['volume_error_percent']:+.1f} %)\nDice {scores['dice']:.2f}, mean surface distance "
                       f"{scores['mean_surface_mm']:.1f} mm, {reconstruction.frames_with_gland} frames with gland",
                       fontsize=8)
    figure.suptitle(f"{case} (validation): rotational sweep of the real 3D TRUS volume, true outline red, "
                    "model yellow; the gland compounded in 3D (LPS mm)", fontsize=9)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.9)
    figure.savefig(out, dpi=80)
    print(out, out.stat().st_size // 1024, "KB")


if __name__ == "__main__":
    case = sys.argv[2] if len(sys.argv) > 2 else "obs064"
    target = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(__file__).with_name("gland_3d.png")
    render(Path(sys.argv[1]), case, target)
