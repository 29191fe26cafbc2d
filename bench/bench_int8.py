"""float32 against int8 inference with ONNX Runtime, interleaved: frames/s and p50/p99 latency at the model's input size.

The two models run in alternating blocks (fp32 then int8, then int8 then fp32, ...), each at
batch 1 and 16, so load from other work on the machine falls on both alike; the load average
is recorded with every block.  The CPU time per frame of single-threaded runs (also
interleaved) is reported too: it is the cost of a frame, which other work on the machine
barely changes.  Without ``--int8-model`` the int8 model is made here with
``networks.quantization`` (calibrated on ``--calibration`` recordings, or on simulated TRUS
sweeps: never on random data).  Frames are simulated sweeps preprocessed as inference does.
``--input-size 256x448`` times a fully convolutional model at another size (the issue's 256 x 448).

Prints JSON.  Target (issue #17) on 2 CPU cores: int8 at least 150 frames/s at batch 1 with
p99 latency at most 10 ms.

    python bench/bench_int8.py [--model FILE | --network NAME] [--int8-model FILE | --calibration REC...]
                               [--rounds 6] [--block-seconds 3]

``--network NAME`` times a freshly initialised network of the registry instead of a model file
(speed does not depend on the weights), e.g. to compare architectures.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from bench_inference import latencies_ms  # this folder is on sys.path when run as a script
from DTCSegmentationLib.inference.backends import OnnxBackend
from DTCSegmentationLib.inference.preprocessing import prepare_batch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.default_model import default_model_path
from DTCSegmentationLib.networks.export import onnx_bytes, read_onnx
from DTCSegmentationLib.networks.model_file import ModelInfo, load_model
from DTCSegmentationLib.networks.quantization import quantize_model
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate

BATCHES = (1, 16)


def simulated_sweeps(folder: Path, size, count: int = 2, frames: int = 60):
    """Simulated sweeps (both styles) written as recordings, for calibration and as benchmark input."""
    paths = []
    for seed in range(count):
        config = SimulationConfig(view="axial" if seed % 2 == 0 else "sagittal", num_frames=frames, height=size[0],
                                  width=size[1], seed=100 + seed, style="clinical" if seed % 2 else "classic")
        images = simulate(config).images.frames
        paths.append(write_sequence(folder / f"sweep{seed}.seq.nrrd",
                                    FrameSequence(images, FrameGeometry(), np.arange(len(images)) * 0.05)))
    return paths


def time_block(backend, batch: np.ndarray, seconds: float):
    """Latencies (ms) of repeated calls for ``seconds`` (at least 10 calls), after 2 warm-up calls."""
    return list(latencies_ms(backend, batch, seconds, warmup=2, minimum=10))


def cpu_block(backend, frame: np.ndarray, runs: int):
    """CPU time (ms) of single-threaded runs: unlike wall time, barely changed by other work on the machine."""
    backend(frame)
    times = []
    for _ in range(runs):
        start = time.process_time()
        backend(frame)
        times.append((time.process_time() - start) * 1000.0)
    return times


def summary(latencies, batch_size: int):
    values = np.asarray(latencies)
    return {"frames_per_second": round(batch_size * 1000.0 / float(values.mean()), 1),
            "latency_p50_ms": round(float(np.percentile(values, 50)), 2),
            "latency_p99_ms": round(float(np.percentile(values, 99)), 2), "runs": int(values.size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(default_model_path()), help="float32 model file (.safetensors)")
    parser.add_argument("--network", help="time an untrained registry network at 256x448 instead of --model")
    parser.add_argument("--int8-model", help="an int8 .onnx file from `dtc export --int8` (default: made here)")
    parser.add_argument("--input-size", metavar="HxW", help="time --model at this input size instead of its own "
                        "(fully convolutional networks only; the int8 model is then made here), e.g. 256x448")
    parser.add_argument("--calibration", nargs="+", default=[], help="recordings to calibrate on (default: simulated)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="ONNX Runtime threads")
    parser.add_argument("--rounds", type=int, default=6, help="alternations of fp32 and int8 blocks")
    parser.add_argument("--block-seconds", type=float, default=3.0, help="timing per model, batch size and round")
    args = parser.parse_args()

    if args.network:
        model, info = build_network(args.network).eval(), ModelInfo(architecture=args.network)
    else:
        model, info = load_model(args.model)
    if args.input_size:
        if args.int8_model:
            parser.error("--input-size quantizes the model here at that size: leave out --int8-model")
        info.input_size = tuple(int(side) for side in args.input_size.lower().split("x"))
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory() as folder:
        sweeps = simulated_sweeps(Path(folder), info.input_size)
        if args.int8_model:
            int8_bytes, int8_info = read_onnx(args.int8_model)
        else:
            int8_bytes, int8_info = quantize_model(model, info, args.calibration or sweeps, min_agreement=0.0)
        frames = np.concatenate([read_sequence(path).frames for path in sweeps])
    inputs, _ = prepare_batch(list(frames[:16]), info.input_size, info.in_channels, info.resize_mode, info.normalization)
    graphs = {"fp32": onnx_bytes(model, info), "int8": int8_bytes}
    backends = {name: OnnxBackend(graph, cpu, args.threads) for name, graph in graphs.items()}
    single = {name: OnnxBackend(graph, cpu, 1) for name, graph in graphs.items()}
    latencies = {(name, b): [] for name in backends for b in BATCHES}
    cpu_times = {name: [] for name in single}
    loads = []
    load_before = os.getloadavg()
    for round_index in range(args.rounds):
        order = list(backends) if round_index % 2 == 0 else list(reversed(list(backends)))
        for name in order:
            for batch_size in BATCHES:
                latencies[(name, batch_size)] += time_block(backends[name], inputs[:batch_size], args.block_seconds)
                loads.append(round(os.getloadavg()[0], 2))
            cpu_times[name] += cpu_block(single[name], inputs[:1], 10)
    results = [{"model": name, "batch": b, **summary(latencies[(name, b)], b)} for name, b in latencies]
    by_key = {(r["model"], r["batch"]): r for r in results}
    int8_batch1 = by_key[("int8", 1)]
    cpu_ms = {name: float(np.median(values)) for name, values in cpu_times.items()}
    speedup = {str(b): round(by_key[("int8", b)]["frames_per_second"] / by_key[("fp32", b)]["frames_per_second"], 2)
               for b in BATCHES}
    print(json.dumps({
        "benchmark": "int8", "model": args.network or os.path.relpath(args.model), "architecture": info.architecture,
        "input_size": list(info.input_size), "threads": args.threads, "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(), "onnxruntime": onnxruntime.__version__,
        "quantization": int8_info.quantization, "rounds": args.rounds, "block_seconds": args.block_seconds,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_1min_during": {"min": min(loads), "max": max(loads), "mean": round(float(np.mean(loads)), 2)},
        "results": results,
        "cpu_ms_per_frame_1_thread": {name: round(value, 2) for name, value in cpu_ms.items()},
        "int8_speedup": {**speedup, "cpu_time_1_thread": round(cpu_ms["fp32"] / cpu_ms["int8"], 2)},
        "target": {"frames_per_second": 150, "latency_p99_ms": 10},
        "meets_target": int8_batch1["frames_per_second"] >= 150 and int8_batch1["latency_p99_ms"] <= 10,
    }, indent=2))


if __name__ == "__main__":
    main()
