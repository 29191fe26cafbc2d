"""`dtc demo` writes every output and reports accuracy and consistency."""

import json

import torch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io import read_sequence
from DTCTrainingLib.cli import main


def test_demo_outputs(tmp_path, capsys):
    torch.manual_seed(0)
    args = {"features": [8, 8, 16, 16]}
    model = save_model(tmp_path / "m.safetensors", build_network("fast_unet", arguments=args),
                       ModelInfo(arguments=args, input_size=(64, 96)))
    assert main(["demo", "--model", str(model), "--out", str(tmp_path / "demo"), "--frames", "5", "--view", "axial"]) == 0
    report = json.loads(capsys.readouterr().out)["axial"]
    for key in ("frames", "masks", "true_masks", "overlay"):
        assert len(read_sequence(report[key])) == 5
    assert (tmp_path / "demo" / "axial_consistency.png").stat().st_size > 10_000
    if report["scene"].endswith(".mrb"):  # written whenever Slicer's MRML (slicer-core) is installed
        assert (tmp_path / "demo" / "axial_scene.mrb").stat().st_size > 10_000
    assert 0.0 <= report["mean_dice"] <= 1.0 and 0.0 <= report["raw_consistency"] <= 1.0
    assert main(["demo", "--model", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "x")]) == 2

