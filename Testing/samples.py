"""Shared test data: small frame stacks and geometries, a simulated recording on an oblique
geometry, a tiny real network, and the repository root.

Factories with arguments live here (tests import them: ``from samples import frames``, the
``Testing`` folder is on pytest's ``pythonpath``); fixtures without arguments are in ``conftest.py``.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate

REPO_ROOT = Path(__file__).resolve().parents[1]

SEQUENCE_GEOMETRY = FrameGeometry(spacing=(0.2, 0.3, 1.0), origin=(10.0, -5.0, 2.0))


def frames(dtype=np.uint8, channels=1, count=4, height=12, width=20, seed=0):
    """``(count, height, width[, channels])`` random frames over the dtype's usual range."""
    rng = np.random.default_rng(seed)
    shape = (count, height, width) + ((channels,) if channels > 1 else ())
    return rng.integers(0, 255 if dtype == np.uint8 else 60000, shape).astype(dtype)


_ANGLE = np.deg2rad(20.0)
OBLIQUE_GEOMETRY = FrameGeometry(spacing=(0.3, 0.25, 1.0), origin=(12.0, -7.0, 4.0),
                         direction=(np.cos(_ANGLE), -np.sin(_ANGLE), 0.0, np.sin(_ANGLE), np.cos(_ANGLE), 0.0, 0.0, 0.0, 1.0))


def require_mrml():
    """The ``slicer`` package with MRML classes, or skip the calling test module."""
    slicer = pytest.importorskip("slicer")
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("slicer-core is not installed", allow_module_level=True)
    return slicer


def recording(num_frames: int = 6, seed: int = 1) -> FrameSequence:
    """``(T, 64, 96)`` uint8 simulated frames placed by :data:`OBLIQUE_GEOMETRY`, 20 frames/s."""
    images = simulate(SimulationConfig(num_frames=num_frames, height=64, width=96, seed=seed)).images
    return FrameSequence(images.frames, OBLIQUE_GEOMETRY, np.arange(num_frames) * 0.05)


def tiny_segmenter(folder, frames: FrameSequence, seed: int = 0) -> Segmenter:
    """An untrained fast_unet; its threshold is the median probability on the first frame, so masks vary by frame."""
    torch.manual_seed(seed)
    arguments = {"features": [8, 8, 16, 16]}
    path = save_model(folder / f"tiny{seed}.safetensors", build_network("fast_unet", arguments=arguments),
                      ModelInfo(arguments=arguments, input_size=(64, 96)))
    probe = Segmenter.from_file(path, device="cpu")
    threshold = float(np.median(probe.probabilities([frames.frames[0]])[0]))
    return Segmenter.from_file(path, device="cpu", threshold=threshold, batch_size=4)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs (Linux: a zombie waiting to be reaped by its new parent has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return True
