"""Simulator speed: frames per second per view and difficulty at 256 x 448. Prints JSON.

Target (issue #2): at least 20 frames/s on 2 CPU cores.
    python bench/bench_simulator.py [--frames 60]
"""

import argparse
import json
import os
import time

from DTCSegmentationLib.simulation import DIFFICULTIES, VIEWS, SimulationConfig, iter_simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    results = []
    for view in VIEWS:
        for difficulty in DIFFICULTIES:
            config = SimulationConfig(view=view, difficulty=difficulty, num_frames=args.frames, seed=1)
            start = time.perf_counter()
            for _ in iter_simulation(config):
                pass
            seconds = time.perf_counter() - start
            results.append({"view": view, "difficulty": difficulty, "frames": args.frames,
                            "frames_per_second": round(args.frames / seconds, 1)})
    slowest = min(r["frames_per_second"] for r in results)
    print(json.dumps({"benchmark": "simulator", "size": [256, 448], "cpu_count": os.cpu_count(),
                      "results": results, "slowest_fps": slowest, "target_fps": 20, "meets_target": slowest >= 20},
                     indent=2))


if __name__ == "__main__":
    main()
