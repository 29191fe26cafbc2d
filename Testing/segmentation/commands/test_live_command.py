"""`dtc live` as a user runs it: a real model, a pyigtl peer on loopback, Ctrl-C to stop."""

import json
import signal
import subprocess
import sys

import numpy as np
import pyigtl
import pytest
import torch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCTrainingLib.cli import main

pytestmark = pytest.mark.slow  # trains networks or opens sockets

ARGS = {"features": [8, 8, 16, 16]}
WAIT = 60.0  # includes the start of a Python process that imports torch


@pytest.fixture()
def model(tmp_path):
    torch.manual_seed(0)
    return save_model(tmp_path / "tiny.safetensors", build_network("fast_unet", arguments=ARGS),
                      ModelInfo(arguments=ARGS, input_size=(32, 48)))


def start_live(model, *options, **popen):
    """``dtc live`` in a child process, listening on a free local port, JSON events on stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "DTCTrainingLib.cli", "live", "--model", str(model), "--listen", "0",
         "--listen-host", "127.0.0.1", "--json", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_dtc_live_serves_a_peer_and_stops_cleanly_on_ctrl_c(model):
    process = start_live(model, "--stats-interval", "0.5", "--probabilities")
    try:
        announced = json.loads(process.stdout.readline() or "{}")
        assert announced.get("event") == "listening", process.stderr.read()
        peer = pyigtl.OpenIGTLinkClient(host="127.0.0.1", port=announced["port"])
        try:
            matrix = np.array([[0.3, 0, 0, -40.0], [0, 0.3, 0, 12.5], [0, 0, 1.0, 3.0], [0, 0, 0, 1]])
            voxels = np.random.default_rng(0).integers(0, 255, (1, 50, 70), dtype=np.uint8)
            peer.send_message(pyigtl.ImageMessage(voxels, ijk_to_world_matrix=matrix, timestamp=1767225600.5,
                                                  device_name="Image_Reference"), wait=False)
            mask = peer.wait_for_message("DTCMask", timeout=WAIT)
            probability = peer.wait_for_message("DTCProbability", timeout=WAIT)
        finally:
            peer.stop()
        assert mask is not None and mask.image.shape == (1, 50, 70) and mask.timestamp == 1767225600.5
        assert set(np.unique(mask.image)) <= {0, 1}
        assert probability is not None and probability.image.dtype == np.uint8
        np.testing.assert_allclose(mask.ijk_to_world_matrix, matrix, atol=1e-5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    final = lines[-1]
    assert final["event"] == "done" and final["received"] == final["segmented"] == 1
    assert final["answers_sent"] == 1 and final["connections_opened"] == 1
    assert "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal inheritance")
def test_dtc_live_stops_on_ctrl_c_even_if_started_with_ctrl_c_ignored(model):
    # What a background job of a non-interactive shell (`dtc live ... &` in a script) inherits.
    process = start_live(model, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        announced = json.loads(process.stdout.readline() or "{}")
        assert announced.get("event") == "listening", process.stderr.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["event"] == "done"


def test_dtc_live_needs_somewhere_to_get_frames(model, capsys):
    assert main(["live", "--model", str(model)]) == 2
    assert "nothing to connect to" in capsys.readouterr().err
