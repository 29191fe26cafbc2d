"""Resuming after an interruption ends in exactly the state of an uninterrupted run.

The run is set up so that validation Dice improves after the interruption (the best model comes from an
epoch trained after resuming) and the cosine schedule restarts within it, and the FINAL state is compared:
weights, optimiser moments, scheduler, torch RNG and the early-stopping bookkeeping, not just the best model.
"""

import json

import pytest
import torch
from DTCSegmentationLib.networks.model_file import load_model
from DTCTrainingLib.config import load_config
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from DTCTrainingLib.trainer import train, weights_digest

pytestmark = pytest.mark.slow  # trains networks

SETTINGS = ["data.height=64", "data.width=96", "optim.batch_size=4", 'network.arguments={"features": [8, 16, 16, 32]}',
            "optim.patience=50", "optim.epochs=3", "optim.lr=0.01", "optim.t0=2", "device=cpu"]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_simulated_dataset(folder, cases=4, frames=12, height=64, width=96, labelled_every=2, val_cases=1, seed=3,
                           progress=False)
    return lambda: load_config(overrides=[f"data.dataset={folder}", *SETTINGS])


def final_state(run_dir):
    return torch.load(str(run_dir / "teacher_checkpoint.pt"), weights_only=True)


def assert_same(a, b, where="checkpoint"):
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{index}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def test_resumed_run_ends_in_the_state_of_a_straight_run(config, tmp_path):
    train("teacher", config(), tmp_path / "straight")

    def interrupt_after_epoch_1(event):
        if event["event"] == "epoch" and event["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("teacher", config(), tmp_path / "resumed", emit=interrupt_after_epoch_1)
    train("teacher", config(), tmp_path / "resumed", resume=True)

    straight, resumed = final_state(tmp_path / "straight"), final_state(tmp_path / "resumed")
    assert straight["state"]["epoch"] == 3 and straight["state"]["best_epoch"] > 1  # best model trained after resuming
    assert straight["scheduler"]["T_cur"] < straight["scheduler"]["last_epoch"]  # the schedule restarted
    for part in ("state", "model", "optimizer", "scheduler", "torch_rng"):
        assert_same(straight[part], resumed[part], part)
    best = [weights_digest(load_model(run / "teacher.safetensors")[0]) for run in (tmp_path / "straight", tmp_path / "resumed")]
    assert best[0] == best[1]
    events = [json.loads(line) for line in (tmp_path / "resumed" / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2, 3]  # nothing trained twice
