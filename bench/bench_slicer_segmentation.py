"""What the Slicer panel's Apply costs beyond the library, on a headless MRML scene. Prints JSON.

* ``library``: segment a simulated 256 x 448 sweep with the shipped model and score its temporal
  consistency (optical flow per frame pair) - the work ``dtc segment`` and the panel share;
* ``mrml``: the scene work of a run without the model and the flow: read every frame from the
  browser's sequence, write the mask and flicker-map sequences (each item with its frame's
  geometry), the table and the charts, and synchronise both sequences with the browser;
* ``scene``: the whole ``segment_recording`` call.

Target: the MRML work adds at most 10 % to the library's time per frame.  Variants alternate and
the best of ``--repeats`` counts, so machine load hits all alike.

    python bench/bench_slicer_segmentation.py [--frames 60] [--repeats 3] [--backend eager]
"""

import argparse
import json
import os
import time

import numpy as np
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, new_scene, segment_recording
from DTCSegmentationLib.mrml.consistency_nodes import consistency_chart, consistency_table
from DTCSegmentationLib.mrml.frame_source import frame_source
from DTCSegmentationLib.mrml.output_volumes import OutputVolumes
from DTCSegmentationLib.mrml.volume_sequences import add_to_browser
from DTCSegmentationLib.networks.default_model import default_model_path
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from DTCSegmentationLib.temporal.consistency import ConsistencyTracker, analyze_consistency


def recording_scene(images):
    scene = new_scene()
    return scene, add_sequence_browser(scene, [add_volume_sequence(scene, images, "sweep")])


def library(segmenter, images):
    start = time.perf_counter()
    results = list(segmenter.segment_stream(images.frames))
    report = analyze_consistency(images.frames, [r.probability for r in results], [r.mask for r in results],
                                 ConsistencyTracker(threshold=segmenter.threshold))
    return time.perf_counter() - start, results, report


def mrml(images, results, report) -> float:
    scene, browser = recording_scene(images)
    start = time.perf_counter()
    source = frame_source(scene, browser)
    outputs = [OutputVolumes(scene, source, "masks", "vtkMRMLLabelMapVolumeNode", "masks"),
               OutputVolumes(scene, source, "flicker", "vtkMRMLScalarVolumeNode", "flicker")]
    for index, result in enumerate(results):
        np.asarray(source[index]).sum()  # touch the frame's voxels, as the segmenter does
        outputs[0].append(result.mask)
        outputs[1].append((result.probability * 255).astype(np.uint8))
        outputs[0][index]  # the tracker reads the stored mask back
    for output in outputs:
        output.finish()
    table = consistency_table(scene, "table", report, source.times(), source.time_unit())
    consistency_chart(scene, "chart", table, source.time_label())
    add_to_browser(scene, browser, [output.node for output in outputs])
    return time.perf_counter() - start


def scene_run(segmenter, images) -> float:
    scene, browser = recording_scene(images)
    start = time.perf_counter()
    segment_recording(scene, browser, segmenter)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", default="eager", choices=("eager", "torchscript", "onnx"))
    args = parser.parse_args()
    images = simulate(SimulationConfig(num_frames=args.frames, seed=1)).images
    segmenter = Segmenter.from_file(default_model_path(), device="cpu", backend=args.backend)
    library(segmenter, images)  # warm-up
    times = {"library": [], "mrml": [], "scene": []}
    for _ in range(args.repeats):
        seconds, results, report = library(segmenter, images)
        times["library"].append(seconds)
        times["mrml"].append(mrml(images, results, report))
        times["scene"].append(scene_run(segmenter, images))
    best = {key: min(values) for key, values in times.items()}
    share = best["mrml"] / best["library"]
    print(json.dumps({
        "benchmark": "slicer_segmentation", "size": list(images.frame_shape), "frames": args.frames,
        "backend": args.backend, "cpu_count": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
        "ms_per_frame": {key: round(1000 * value / args.frames, 2) for key, value in best.items()},
        "library_fps": round(args.frames / best["library"], 1), "scene_fps": round(args.frames / best["scene"], 1),
        "mrml_share": round(share, 3), "target_share": 0.10, "meets_target": bool(share <= 0.10),
        "all_seconds": {key: [round(value, 3) for value in values] for key, values in times.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
