"""Render real_sweep_montage.png: frames of the rotational and axial sweeps of one real 3D TRUS volume.

Usage: python Resources/Screenshots/render_real_sweep_montage.py DATA CASE [OUT]
(DATA: a folder written by `dtc dataset from-volumes`; CASE: a patient id in it).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from DTCSegmentationLib.sequence_io import read_sequence  # noqa: E402

FRAMES_SHOWN = 5


def render(data: Path, case: str, out: Path) -> None:
    kinds = ("rotational", "axial")
    figure, axes = plt.subplots(len(kinds), FRAMES_SHOWN, figsize=(2.0 * FRAMES_SHOWN, 3.9), squeeze=False,
                               gridspec_kw={"hspace": 0.18, "wspace": 0.04})
    for row, kind in enumerate(kinds):
        images = read_sequence(data / f"{case}_{kind}" / "images.seq.nrrd")
        masks = read_sequence(data / f"{case}_{kind}" / "masks.seq.nrrd").frames
        # The first shown frame lies before the gland (empty mask); the rest spread over it.
        filled = np.nonzero(masks.reshape(len(masks), -1).any(1))[0]
        chosen = [max(0, filled[0] - 3)] + list(np.linspace(filled[0] + 2, filled[-1] - 2, FRAMES_SHOWN - 1).astype(int))
        for column, index in enumerate(chosen):
            axis = axes[row, column]
            axis.imshow(images.frames[index], cmap="gray", vmin=0, vmax=255, interpolation="bilinear")
            if masks[index].any():
                axis.contour(masks[index], levels=[0.5], colors="#ff3030", linewidths=1.0)
            axis.set_title(f"{kind}, frame {index} ({images.frame_times[index]:.2f} s)", fontsize=7)
            axis.set_xticks([])
            axis.set_yticks([])
    spacing = images.geometry.spacing[0]
    figure.suptitle(f"{case}: real 3D TRUS volume, virtual sweeps ({spacing:g} mm pixels, transducer at the bottom), "
                    "exact masks in red", fontsize=8)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.89)
    figure.savefig(out, dpi=80)


if __name__ == "__main__":
    target = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(__file__).with_name("real_sweep_montage.png")
    render(Path(sys.argv[1]), sys.argv[2], target)
