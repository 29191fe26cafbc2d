"""Inference back ends: eager PyTorch, TorchScript and ONNX Runtime, one interface.

A back end maps a float32 batch ``(B, C, h, w)`` (already preprocessed) to logits
``(B, 1, h, w)`` as a numpy array.  All three give the same masks (tested); they differ
in speed and in what a deployment machine must have installed.
"""

from typing import Optional

import numpy as np
import torch
from torch import nn

from DTCSegmentationLib.choices import BACKENDS
from DTCSegmentationLib.networks.model_file import ModelInfo


class EagerBackend:
    """The PyTorch module itself; fp16 autocast on CUDA."""

    name = "eager"

    def __init__(self, model: nn.Module, device: torch.device):
        self.device = device
        self.model = model.to(device).eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device)
            if self.device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    logits = self.model(x)
            else:
                logits = self.model(x)
            return logits.float().cpu().numpy()


class TorchScriptBackend(EagerBackend):
    """A traced, frozen TorchScript module (batch norm folded into convolutions)."""

    name = "torchscript"


class OnnxBackend:
    """ONNX Runtime with full graph optimisation; CUDA provider when the device is a GPU."""

    name = "onnx"

    def __init__(self, onnx_model: bytes, device: torch.device, threads: Optional[int] = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # Idle pool threads spin by default; next to PlusServer, Slicer or any other job they take the cores the
        # model needs: with a 2-core machine at load 3.5, int8 ran at 76 frames/s spinning and 140 without.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(onnx_model, options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]


def make_backend(name: str, model: nn.Module, info: ModelInfo, device: torch.device):
    """Build back end ``name`` from an eager ``model`` (TorchScript and ONNX are converted in memory)."""
    from DTCSegmentationLib.networks.export import onnx_bytes, torchscript_module

    if name == "eager":
        return EagerBackend(model, device)
    if name == "torchscript":
        return TorchScriptBackend(torchscript_module(model, info, device), device)
    if name == "onnx":
        return OnnxBackend(onnx_bytes(model, info), device, threads=torch.get_num_threads())
    raise ValueError(f"unknown back end {name!r}; choose one of {BACKENDS}")
