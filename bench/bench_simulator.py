"""Simulator speed: frames per second per style, view and difficulty at 256 x 448. Prints JSON.

Target (issue #2): at least 20 frames/s on 2 CPU cores, for both styles (``classic``, the
default, and ``clinical``, whose machine, screen and video path are drawn per recording, so
several seeds are timed and the slowest counts).
    python bench/bench_simulator.py [--frames 60] [--style classic|clinical|both]
"""

import argparse
import json
import os
import time

from DTCSegmentationLib.simulation import DIFFICULTIES, STYLES, VIEWS, SimulationConfig, iter_simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--style", choices=(*STYLES, "both"), default="both")
    args = parser.parse_args()
    styles = STYLES if args.style == "both" else (args.style,)
    results = []
    for style in styles:
        # One classic seed is representative; clinical machines differ (sector, lines, JPEG), so three.
        seeds = (1,) if style == "classic" else (1, 2, 3)
        for view in VIEWS:
            for difficulty in DIFFICULTIES:
                for seed in seeds:
                    config = SimulationConfig(view=view, difficulty=difficulty, num_frames=args.frames, seed=seed,
                                              style=style)
                    start = time.perf_counter()
                    for _ in iter_simulation(config):
                        pass
                    seconds = time.perf_counter() - start
                    results.append({"style": style, "view": view, "difficulty": difficulty, "seed": seed,
                                    "frames": args.frames, "frames_per_second": round(args.frames / seconds, 1)})
    slowest = {style: min(r["frames_per_second"] for r in results if r["style"] == style) for style in styles}
    print(json.dumps({"benchmark": "simulator", "size": [256, 448], "cpu_count": os.cpu_count(),
                      "results": results, "slowest_fps": slowest, "target_fps": 20,
                      "meets_target": all(fps >= 20 for fps in slowest.values())}, indent=2))


if __name__ == "__main__":
    main()
