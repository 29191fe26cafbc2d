"""`dtc train --config` (with --set on top) and `--json`: outcomes that depend on the option."""

import json

import pytest
from DTCTrainingLib.cli import main
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset

pytestmark = pytest.mark.slow  # trains networks

SIZE = ["--set", "data.height=64", "--set", "data.width=96"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_simulated_dataset(folder, cases=3, frames=4, height=64, width=96, labelled_every=2, val_cases=1, seed=2,
                           progress=False)
    return folder


def test_config_file_is_used_and_set_overrides_it_and_json_prints_every_event(dataset, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"optim": {"epochs": 3, "batch_size": 2, "steps_per_epoch": 1, "lr": 0.002},
                                  "network": {"arguments": {"features": [8, 8, 16, 16]}}}))
    run = tmp_path / "run"
    assert main(["train", "teacher", "--data", str(dataset), "--out", str(run), "--config", str(config),
                 "--set", "optim.epochs=2", *SIZE, "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    saved = json.loads((run / "teacher_config.json").read_text())
    assert saved["optim"]["lr"] == 0.002 and saved["optim"]["batch_size"] == 2  # from the file
    assert saved["optim"]["epochs"] == 2  # --set wins over the file
    assert [e["epoch"] for e in printed if e["event"] == "epoch"] == [1, 2]
    assert [e["steps"] for e in printed if e["event"] == "step"] == [1, 1]  # steps_per_epoch from the file
    assert printed[-1]["event"] == "done"
    logged = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert printed == logged  # every event, as written to the run folder


def test_without_json_stdout_is_only_the_result(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "teacher", "--data", str(dataset), "--out", str(run), *SIZE, "--set", "optim.epochs=1",
                 "--set", "optim.steps_per_epoch=1", "--set", "optim.batch_size=2",
                 "--set", 'network.arguments={"features": [8, 8, 16, 16]}']) == 0
    assert json.loads(capsys.readouterr().out) == {"teacher": str(run / "teacher.safetensors")}
