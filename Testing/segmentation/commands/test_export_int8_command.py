"""`dtc export --int8` end to end: an int8 ONNX file `dtc segment` uses like any model, and the refusals."""

import json

import numpy as np
import pytest
import torch
from DTCSegmentationLib.inference.backends import EagerBackend
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from DTCTrainingLib.cli import main

ARGS = {"features": [8, 8, 16, 16]}
GEOMETRY = FrameGeometry(spacing=(0.3, 0.3, 1.0), origin=(-20.0, 3.0, 0.0))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A tiny model (threshold at its median probability, so masks are not empty) and a 30-frame simulated sweep."""
    folder = tmp_path_factory.mktemp("inputs")
    frames = simulate(SimulationConfig(num_frames=30, height=72, width=100, seed=4)).images.frames
    recording = write_sequence(folder / "sweep.seq.nrrd", FrameSequence(frames, GEOMETRY, np.arange(30) * 0.05))
    torch.manual_seed(1)
    network = build_network("fast_unet", arguments=ARGS).eval()
    probe = Segmenter(EagerBackend(network, torch.device("cpu")), ModelInfo(arguments=ARGS, input_size=(64, 96)))
    threshold = float(np.median(probe.probabilities([frames[0]])[0]))
    model = save_model(folder / "m.safetensors", network, ModelInfo(arguments=ARGS, input_size=(64, 96), threshold=threshold))
    return model, recording


def test_int8_export_then_segment(inputs, tmp_path, capsys):
    model, recording = inputs
    int8 = tmp_path / "m_int8.onnx"
    assert main(["export", str(model), "--int8", "--calibration", str(recording), "--calibration-frames", "10",
                 "--out", str(int8)]) == 0
    answer = json.loads(capsys.readouterr().out)  # ONNX Runtime's progress lines must not break the JSON
    assert answer["written"] == str(int8) and answer["quantization"]["type"] == "int8-static-qdq"
    assert answer["quantization"]["calibration_frames"] == 10 and answer["quantization"]["agreement_dice"] >= 0.98
    assert main(["segment", str(recording), "--model", str(int8), "--out", str(tmp_path / "out")]) == 0
    masks = read_sequence(json.loads(capsys.readouterr().out)["masks"])
    assert masks.frames.shape == (30, 72, 100) and masks.geometry.isclose(GEOMETRY) and masks.frames.any()


@pytest.mark.parametrize("extra, message", [
    (["--int8"], "needs recordings to calibrate on"),
    (["OUT=m.pt", "--int8", "--calibration", "REC"], "int8 models are ONNX files"),
    (["--int8", "--format", "torchscript", "--calibration", "REC"], "but --format is torchscript"),
    (["--calibration", "REC"], "only used with --int8"),
    (["--int8", "--calibration", "REC", "--min-agreement", "1.01"], "below the required 1.01"),
    (["--int8", "--calibration", "missing.mp4"], "does not exist"),
])
def test_refusals_write_nothing(inputs, tmp_path, capsys, extra, message):
    model, recording = inputs
    name = next((value[4:] for value in extra if value.startswith("OUT=")), "m.onnx")
    out = tmp_path / "out" / name
    out.parent.mkdir()
    extra = [str(recording) if value == "REC" else value for value in extra if not value.startswith("OUT=")]
    assert main(["export", str(model), "--out", str(out)] + extra) == 2
    assert message in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []
