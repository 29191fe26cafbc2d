"""Render the clinical-style simulator montage for the README (``simulated_clinical_montage.png``).

One frame from each of eight simulated recordings in the ``clinical`` style: axial (top row)
and sagittal (bottom row), four patients / machines each, the exact mask's outline in yellow.

    python Resources/Screenshots/render_simulated_montage.py [--out PATH]
"""

import argparse
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "DTCSegmentation"), str(ROOT / "DTCTraining")]

from DTCSegmentationLib.simulation import SimulationConfig  # noqa: E402
from DTCSegmentationLib.simulation.preview import gallery  # noqa: E402

SEEDS = {"axial": (101, 102, 103, 104), "sagittal": (201, 202, 203, 204)}
SIZE = (256, 448)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("simulated_clinical_montage.png"))
    args = parser.parse_args()
    configs = [SimulationConfig(view=view, style="clinical", seed=seed, num_frames=20, height=SIZE[0], width=SIZE[1])
               for view, seeds in SEEDS.items() for seed in seeds]
    picture = gallery(configs, columns=4)
    # Three-quarter size and 64 grey levels keep the file under 250 KB; the frames stay legible.
    picture = cv2.resize(picture, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    picture = (picture // 4) * 4
    cv2.imwrite(str(args.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(args.out, args.out.stat().st_size // 1024, "KB")


if __name__ == "__main__":
    main()
