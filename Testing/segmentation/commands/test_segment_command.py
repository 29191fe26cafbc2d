"""`dtc segment` and `dtc export` end to end on a simulated recording."""

import json

import numpy as np
import pytest
import torch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from DTCTrainingLib.cli import main

ARGS = {"features": [8, 8, 16, 16]}


@pytest.fixture()
def inputs(tmp_path):
    torch.manual_seed(0)
    model = save_model(tmp_path / "m.safetensors", build_network("fast_unet", arguments=ARGS),
                       ModelInfo(arguments=ARGS, input_size=(64, 96)))
    rng = np.random.default_rng(0)
    geometry = FrameGeometry(spacing=(0.3, 0.3, 1.0), origin=(-20.0, 3.0, 0.0))
    recording = write_sequence(tmp_path / "rec.seq.nrrd",
                               FrameSequence(rng.integers(0, 255, (7, 90, 140), dtype=np.uint8), geometry,
                                             np.arange(7) * 0.04))
    return model, recording, geometry


def test_segment_writes_masks_with_the_input_geometry_and_times(tmp_path, inputs, capsys):
    model, recording, geometry = inputs
    assert main(["segment", str(recording), "--model", str(model), "--out", str(tmp_path / "out"),
                 "--overlay", "--probabilities", "--batch-size", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    masks = read_sequence(summary["masks"])
    assert masks.frames.shape == (7, 90, 140) and summary["frames"] == 7
    assert masks.geometry.isclose(geometry) and masks.metadata["data_node_class"] == "vtkMRMLLabelMapVolumeNode"
    np.testing.assert_allclose(masks.frame_times, np.arange(7) * 0.04)
    assert len(read_sequence(summary["overlay"])) == 7
    assert read_sequence(summary["probabilities"]).frames.dtype == np.uint8
    # The same model through ONNX gives the same masks.
    assert main(["export", str(model), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    capsys.readouterr()
    assert main(["segment", str(recording), "--model", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "onnx"),
                 "--format", "png"]) == 0
    onnx_masks = read_sequence(json.loads(capsys.readouterr().out)["masks"]).frames
    assert (onnx_masks == masks.frames).mean() > 0.999


def test_segment_refuses_to_overwrite_and_explains_bad_input(tmp_path, inputs, capsys):
    model, recording, _ = inputs
    out = str(tmp_path / "out")
    assert main(["segment", str(recording), "--model", str(model), "--out", out]) == 0
    assert main(["segment", str(recording), "--model", str(model), "--out", out]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing.mp4"), "--model", str(model), "--out", out]) == 2
    assert "missing.mp4: does not exist" in capsys.readouterr().err
    assert main(["segment", str(recording), "--model", str(tmp_path / "nope.safetensors"), "--out", out]) == 2


def test_export_imports_a_plain_state_dict(tmp_path, capsys):
    model = build_network("fast_unet", arguments=ARGS)
    torch.save(model.state_dict(), tmp_path / "w.pth")
    assert main(["export", str(tmp_path / "w.pth"), "--format", "safetensors", "--out", str(tmp_path / "w.safetensors"),
                 "--architecture", "fast_unet", "--arguments", json.dumps(ARGS), "--input-size", "64x96"]) == 0
    assert main(["export", str(tmp_path / "w.pth"), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "--architecture" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "w.safetensors"), "--format", "torchscript", "--out", str(tmp_path / "w.pt")]) == 0


def test_segment_uses_the_shipped_model_by_default(tmp_path, inputs, capsys):
    _, recording, geometry = inputs
    assert main(["segment", str(recording), "--out", str(tmp_path / "default")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"].endswith("dtc_default.safetensors")
    assert read_sequence(summary["masks"]).geometry.isclose(geometry)
