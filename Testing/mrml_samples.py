"""A simulated recording on an oblique frame geometry and a tiny real network, shared by the MRML tests."""

import numpy as np
import pytest
import torch

from DTCSegmentationLib.model_file import ModelInfo, save_model
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.segmenter import Segmenter
from DTCSegmentationLib.sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate

_ANGLE = np.deg2rad(20.0)
GEOMETRY = FrameGeometry(spacing=(0.3, 0.25, 1.0), origin=(12.0, -7.0, 4.0),
                         direction=(np.cos(_ANGLE), -np.sin(_ANGLE), 0.0, np.sin(_ANGLE), np.cos(_ANGLE), 0.0, 0.0, 0.0, 1.0))


def require_mrml():
    """The ``slicer`` package with MRML classes, or skip the calling test module."""
    slicer = pytest.importorskip("slicer")
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("slicer-core is not installed", allow_module_level=True)
    return slicer


def recording(num_frames: int = 6, seed: int = 1) -> FrameSequence:
    """``(T, 64, 96)`` uint8 simulated frames placed by :data:`GEOMETRY`, 20 frames/s."""
    images = simulate(SimulationConfig(num_frames=num_frames, height=64, width=96, seed=seed)).images
    return FrameSequence(images.frames, GEOMETRY, np.arange(num_frames) * 0.05)


def tiny_segmenter(folder, frames: FrameSequence, seed: int = 0) -> Segmenter:
    """An untrained fast_unet; its threshold is the median probability on the first frame, so masks vary by frame."""
    torch.manual_seed(seed)
    arguments = {"features": [8, 8, 16, 16]}
    path = save_model(folder / f"tiny{seed}.safetensors", build_network("fast_unet", arguments=arguments),
                      ModelInfo(arguments=arguments, input_size=(64, 96)))
    probe = Segmenter.from_file(path, device="cpu")
    threshold = float(np.median(probe.probabilities([frames.frames[0]])[0]))
    return Segmenter.from_file(path, device="cpu", threshold=threshold, batch_size=4)
