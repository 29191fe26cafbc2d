"""Live mode's throughput inside 3D Slicer's GUI process, emulated headless, at 256 x 448. Prints JSON.

Inside Slicer the main thread holds Python's GIL while Qt's event loop is idle in C++ code, and
gives it up only while it runs Python itself - here the panel's 10 ms poll timer and the image
node's observer.  A Python thread in the GUI process (the in-process live worker) therefore
advances only at those moments: every time its inference releases the GIL (ONNX Runtime, OpenCV,
large numpy calls) it has to wait for the next one to take it back.

The emulation: the main thread waits for its next event inside a C function called *with* the
GIL held and never released - libc ``usleep`` through ``ctypes.PyDLL`` (``ctypes.CDLL`` would
release the GIL around the call; a pure-Python busy loop would hand the GIL over every
``sys.getswitchinterval()`` seconds, which Qt's C++ loop never does).  Events are what Slicer
runs in Python: every 10 ms the panel's poll (``LiveSegmentation.poll``), and at the input rate
an image update (``updateVolumeFromArray`` -> the node's observer -> submit).  Rendering and
other C++ work of a real Slicer are left out, so real numbers can only be lower.

Modes (the shipped model, ONNX Runtime, the same headless MRML scene and loop):

* ``thread``: inference on a Python thread of the GUI process (``LiveWorker``);
* ``process``: inference in a child process (``dtc live`` bridge over loopback OpenIGTLink,
  ``BridgeWorker``), the GUI process only packs frames and unpacks masks in its own events;
* ``free`` (reference): ``thread`` with the main thread waiting in ``time.sleep`` (GIL
  released), as in a plain Python program - what the same worker reaches when nothing holds the GIL.

Target: at least 20 masks/s shown at 256 x 448.

    python bench/bench_live_in_slicer.py [--seconds 10] [--rate 100] [--modes thread,process,free]
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import shutil
import sys
import time

import numpy as np
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.mrml import LiveSegmentation, new_scene
from DTCSegmentationLib.mrml.scene import slicer_module
from DTCSegmentationLib.networks.default_model import default_model_path
from DTCSegmentationLib.simulation import SimulationConfig, simulate

SIZE = (256, 448)
POLL_S = 0.010  # the panel's LIVE_POLL_MS
_LIBC = ctypes.PyDLL(ctypes.util.find_library("c"))  # PyDLL: the GIL stays held during the call
_LIBC.usleep.argtypes = [ctypes.c_uint]


def wait_holding_gil(seconds: float) -> None:
    if seconds > 0:
        _LIBC.usleep(int(seconds * 1e6))


def wait_releasing_gil(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def make_worker(mode: str, model: str, threads):
    if mode == "process":
        from DTCSegmentationLib.live.bridge_worker import BridgeWorker

        return BridgeWorker(model, backend="onnx", threads=threads, python=sys.executable)
    from DTCSegmentationLib.live.worker import LiveWorker

    if threads:
        import torch

        torch.set_num_threads(threads)  # the ONNX Runtime back end takes the same count
    segmenter = Segmenter.from_file(model, device="cpu", backend="onnx")
    segmenter.segment_frame(np.zeros(segmenter.info.input_size, np.uint8))  # as `dtc live`: warm kernels first
    return LiveWorker(segmenter)


def run(mode: str, frames, rate: float, seconds: float, warmup: float, model: str, threads) -> dict:
    slicer = slicer_module()
    scene = new_scene()
    image = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    slicer.util.updateVolumeFromArray(image, frames[0][None])
    wait = wait_releasing_gil if mode == "free" else wait_holding_gil
    live = LiveSegmentation(scene, image, None, worker=make_worker(mode, model, threads)).start()
    shown_at, latencies = [], []
    try:
        start = time.perf_counter()
        measure_from, end = start + warmup, start + warmup + seconds
        next_poll, next_frame, sent = start, start, 1
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            wait(min(next_poll, next_frame, end) - now)  # Qt's event loop, idle in C++
            now = time.perf_counter()
            if now >= next_frame:
                slicer.util.updateVolumeFromArray(image, frames[sent % len(frames)][None])
                sent += 1
                next_frame += 1.0 / rate
            if now >= next_poll:
                if live.poll() and now >= measure_from:
                    shown_at.append(now)
                    latencies.append((time.perf_counter() - live.latest.submitted) * 1000.0)
                next_poll += POLL_S
        stats = live.stats()
    finally:
        live.stop()
    latencies = np.asarray(latencies)
    return {
        "mode": mode, "input_frames_per_second": rate, "seconds": seconds,
        "masks_shown_per_second": round(len(shown_at) / seconds, 1),
        "latency_ms": None if latencies.size == 0 else {
            "p50": round(float(np.percentile(latencies, 50)), 1), "p99": round(float(np.percentile(latencies, 99)), 1)},
        "worker": {key: stats.get(key) for key in ("received", "segmented", "dropped")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--threads", type=int, help="inference threads (default: one per core)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per mode")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds streamed before measuring")
    parser.add_argument("--rate", type=float, default=100.0, help="input frames/s (above the model's speed: "
                                                                  "measures the highest sustained rate)")
    parser.add_argument("--modes", default="thread,process,free")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    frames = simulate(SimulationConfig(view="axial", num_frames=50, height=SIZE[0], width=SIZE[1], seed=3)).images.frames
    runs = [run(mode, frames, args.rate, args.seconds, args.warmup, args.model, args.threads)
            for mode in args.modes.split(",")]
    print(json.dumps({
        "benchmark": "live_in_slicer", "input_size": list(SIZE), "model": os.path.relpath(args.model),
        "backend": "onnx", "poll_ms": POLL_S * 1000, "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(), "python": platform.python_version(),
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "runs": runs, "target_masks_per_second": 20,
        "python_executable_for_process_mode": shutil.which("PythonSlicer") or sys.executable,
    }, indent=2))


if __name__ == "__main__":
    main()
