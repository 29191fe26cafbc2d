"""Per-frame curves as PNG files (matplotlib, no display needed)."""

from pathlib import Path
from typing import Dict, Sequence

import numpy as np
from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import PathLike


def per_frame_plot(path: PathLike, curves: Dict[str, Sequence[float]], title: str = "", ylabel: str = "score",
                   overwrite: bool = False) -> Path:
    """Write one line per curve against the frame index.

    Curves between neighbouring frames (length T-1) are drawn at frames 1..T-1, so they
    line up with per-frame curves (length T).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    longest = max(len(values) for values in curves.values())
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=110)
    for label, values in curves.items():
        values = np.asarray(values, float)
        start = longest - len(values)
        axes.plot(np.arange(start, start + len(values)), values, label=label, linewidth=1.4)
    axes.set_xlabel("frame")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    with atomic_output(path, overwrite=overwrite) as temporary:
        figure.savefig(str(temporary), format="png")
    plt.close(figure)
    return Path(path)
