"""Inference speed per back end at 256 x 448: frames/s, p50/p99 latency, GFLOPs, hardware utilisation.

Prints JSON.  Target (issue #3) for the lightweight network on 2 CPU cores: at least
30 frames/s at batch 1 with the fastest back end, p99 latency at most 50 ms.  The
utilisation is the achieved GFLOP/s divided by the best GFLOP/s the same machine reaches
on a large convolution (the practical hardware limit for this kind of work).

    python bench/bench_inference.py [--network fast_unet] [--model FILE] [--seconds 5]
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from DTCSegmentationLib.inference.backends import BACKENDS, make_backend
from DTCSegmentationLib.inference.devices import resolve_device
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, load_model
from torch.utils.flop_counter import FlopCounterMode


def model_gflops(model, info) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, info.in_channels, *info.input_size))
    return counter.get_total_flops() / 1e9


def peak_conv_gflops(device, seconds: float) -> float:
    """Best GFLOP/s on a large 3x3 convolution (64 -> 64 channels, 128 x 224, batch 8), over every back end."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).eval()
    info = ModelInfo(architecture="fast_unet", in_channels=64, input_size=(128, 224))
    x = np.random.default_rng(1).standard_normal((8, 64, 128, 224)).astype(np.float32)
    flops = 2 * 8 * 64 * 64 * 9 * 128 * 224
    best = 0.0
    for name in BACKENDS:
        backend = make_backend(name, conv, info, device)
        backend(x)
        deadline = time.perf_counter() + seconds / len(BACKENDS)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            backend(x)
            best = max(best, flops / (time.perf_counter() - start) / 1e9)
    return best


def latencies_ms(backend, batch: np.ndarray, seconds: float, warmup: int = 3, minimum: int = 20) -> np.ndarray:
    """Latencies (ms) of repeated ``backend(batch)`` calls for ``seconds`` (at least ``minimum`` calls),
    after ``warmup`` untimed calls; also used by bench_int8.py."""
    for _ in range(warmup):
        backend(batch)
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(latencies) < minimum:
        start = time.perf_counter()
        backend(batch)
        latencies.append(time.perf_counter() - start)
    return np.asarray(latencies) * 1000.0


def time_backend(backend, batch: np.ndarray, seconds: float):
    latencies = latencies_ms(backend, batch, seconds)
    return {"frames_per_second": round(len(batch) * 1000.0 / float(np.mean(latencies)), 1),
            "latency_p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "latency_p99_ms": round(float(np.percentile(latencies, 99)), 2), "runs": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="fast_unet")
    parser.add_argument("--model", help="a model file instead of a freshly built --network")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=4.0, help="timing per configuration")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.model:
        model, info = load_model(args.model)
    else:
        model, info = build_network(args.network).eval(), ModelInfo(architecture=args.network)
    gflops = model_gflops(model, info)
    peak = peak_conv_gflops(device, min(args.seconds, 3.0))
    rng = np.random.default_rng(0)
    results = []
    for name in BACKENDS:
        backend = make_backend(name, model, info, device)
        for batch_size in (1, 16):
            batch = rng.standard_normal((batch_size, info.in_channels, *info.input_size)).astype(np.float32)
            timing = time_backend(backend, batch, args.seconds)
            achieved = gflops * timing["frames_per_second"]
            results.append({"backend": name, "batch": batch_size, **timing,
                            "achieved_gflops_per_s": round(achieved, 1),
                            "fraction_of_peak": round(achieved / peak, 3)})
    best = max((r for r in results if r["batch"] == 1), key=lambda r: r["frames_per_second"])
    print(json.dumps({
        "benchmark": "inference", "network": info.architecture, "input_size": list(info.input_size),
        "device": str(device), "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(), "torch": torch.__version__,
        "model_gflops": round(gflops, 3), "peak_conv_gflops_per_s": round(peak, 1), "results": results,
        "fastest_batch1": {"backend": best["backend"], "frames_per_second": best["frames_per_second"],
                           "latency_p99_ms": best["latency_p99_ms"]},
        "target": {"frames_per_second": 30, "latency_p99_ms": 50},
        "meets_target": best["frames_per_second"] >= 30 and best["latency_p99_ms"] <= 50,
    }, indent=2))


if __name__ == "__main__":
    main()
