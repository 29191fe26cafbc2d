"""`dtc demo` writes every output and reports accuracy and consistency that match its own files."""

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io import read_sequence
from DTCTrainingLib.cli import main
from stand_in_models import pixel_model


def mean_dice(out, view):
    predicted, truth = (read_sequence(out / f"{view}_{name}.seq.nrrd").frames > 0 for name in ("masks", "true_masks"))
    return np.mean([2 * (p & t).sum() / max(p.sum() + t.sum(), 1) for p, t in zip(predicted, truth)])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo with an untrained network through ONNX (the default back end), as a user would run it."""
    folder = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    args = {"features": [8, 8, 16, 16]}
    model = save_model(folder / "m.safetensors", build_network("fast_unet", arguments=args),
                       ModelInfo(arguments=args, input_size=(64, 96)))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--model", str(model), "--out", str(folder / "out"), "--frames", "5", "--view", "axial"]) == 0
    return folder / "out", json.loads(printed.getvalue())["axial"]


def test_demo_outputs(demo, tmp_path):
    out, report = demo
    for key in ("frames", "masks", "true_masks", "overlay"):
        assert len(read_sequence(report[key])) == 5
    assert (out / "axial_consistency.png").stat().st_size > 10_000
    assert report["mean_dice"] == pytest.approx(mean_dice(out, "axial"), abs=1e-4)
    assert main(["demo", "--model", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "x")]) == 2


def test_demo_writes_a_scene_bundle_where_slicer_mrml_is_installed(demo, mrml):
    out, report = demo
    assert report["scene"] == str(out / "axial_scene.mrb") and (out / "axial_scene.mrb").stat().st_size > 10_000


def test_demo_scores_match_a_hand_computation(tmp_path, capsys):
    # With a model whose probability is the pixel value, the consistency of the probabilities is that of the frames.
    model = pixel_model(tmp_path / "pixel.pt", (256, 448))
    assert main(["demo", "--model", str(model), "--out", str(tmp_path / "out"), "--frames", "4", "--view", "sagittal"]) == 0
    report = json.loads(capsys.readouterr().out)["sagittal"]
    frames = read_sequence(tmp_path / "out" / "sagittal_frames.seq.nrrd").frames.astype(float) / 255
    assert report["raw_consistency"] == pytest.approx(np.mean(1 - np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))), abs=1e-4)
    assert report["mean_dice"] == pytest.approx(mean_dice(tmp_path / "out", "sagittal"), abs=1e-4)
    assert 0.01 < report["mean_dice"] < 0.99  # bright tissue is only partly the gland: a score worth checking
