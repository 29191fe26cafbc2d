"""Both training stages on a tiny simulated dataset: losses fall, resume is exact, DDP replicas agree."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from DTCSegmentationLib.networks.model_file import load_model
from DTCTrainingLib.config import load_config
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from DTCTrainingLib.trainer import TrainingError, train, weights_digest

pytestmark = pytest.mark.slow  # trains networks or opens sockets

TINY = ["data.height=64", "data.width=96", "optim.batch_size=4", 'network.arguments={"features": [8, 16, 16, 32]}',
        "optim.patience=50"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_simulated_dataset(folder, cases=4, frames=12, height=64, width=96, labelled_every=2, val_cases=1, seed=3,
                           progress=False)
    return folder


def config_for(dataset, *extra):
    return load_config(overrides=[f"data.dataset={dataset}", *TINY, *extra])


def epoch_events(run_dir, stage):
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "epoch" and e["stage"] == stage]


@pytest.fixture(scope="module")
def teacher_run(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    path = train("teacher", config_for(dataset, "optim.epochs=4"), run_dir)
    return run_dir, path


def test_fine_tuning_that_does_not_beat_its_start_returns_the_starting_weights(dataset, teacher_run, tmp_path):
    """A start that marks every pixel (final bias +50) and lr 0: epoch 1 scores exactly what the start scores,
    which is no improvement, so the model file is the start (epoch 0), not epoch 1's weights."""
    from DTCSegmentationLib.networks.model_file import save_model

    _, trained = teacher_run
    network, info = load_model(trained)
    last = [module for module in network.modules() if isinstance(module, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.bias.fill_(50.0)
    start_path = save_model(tmp_path / "everything.safetensors", network, info)
    config = config_for(dataset, "optim.epochs=1", "optim.lr=0", f"teacher.init={start_path}")
    path = train("teacher", config, tmp_path / "finetune")
    (epoch,) = epoch_events(tmp_path / "finetune", "teacher")
    initial = next(e for e in map(json.loads, (tmp_path / "finetune" / "events.jsonl").read_text().splitlines())
                   if e["event"] == "initial")
    assert epoch["val"]["dice"] == initial["val"]["dice"] > 0 and not epoch["improved"]
    tuned, tuned_info = load_model(path)
    assert tuned_info.metrics["epoch"] == 0
    for (name, a), b in zip(network.named_parameters(), tuned.parameters()):
        assert torch.equal(a, b), name


def test_teacher_lowers_its_loss_and_saves_a_model_with_metrics(teacher_run):
    run_dir, path = teacher_run
    epochs = epoch_events(run_dir, "teacher")
    assert len(epochs) == 4
    assert epochs[-1]["losses"]["total"] < epochs[0]["losses"]["total"]
    model, info = load_model(path)
    assert info.metrics["val_dice"] == max(e["val"]["dice"] for e in epochs)
    assert info.provenance["stage"] == "teacher" and info.input_size == (64, 96)
    assert (run_dir / "teacher_config.json").is_file()


def test_student_learns_every_term_from_the_teacher(dataset, teacher_run):
    run_dir, teacher = teacher_run
    path = train("student", config_for(dataset, "optim.epochs=3"), run_dir, teacher=teacher)
    epochs = epoch_events(run_dir, "student")
    assert {"segmentation", "distillation", "consistency", "prototype"} <= set(epochs[0]["losses"])
    assert epochs[-1]["losses"]["total"] < epochs[0]["losses"]["total"]
    assert all(0 <= e["losses"]["consistency"] <= 1 for e in epochs)
    student, info = load_model(path)
    assert info.provenance["stage"] == "student"
    original, _ = load_model(teacher)
    assert weights_digest(student) != weights_digest(original)  # trained, and the teacher file untouched
    assert len(list((run_dir / "flow_cache").rglob("*.npy"))) > 0


@pytest.mark.parametrize("frozen", [False, True])
def test_student_batch_norm_statistics_follow_freeze_batch_norm(dataset, teacher_run, tmp_path, frozen):
    _, teacher = teacher_run
    # Learning rate 0: only batch-norm running statistics can change.
    config = config_for(dataset, "optim.epochs=1", "optim.lr=0", "optim.eta_min=0", "optim.steps_per_epoch=2",
                        f"student.freeze_batch_norm={frozen}")
    path = train("student", config, tmp_path, teacher=teacher)
    student, _ = load_model(path)
    original, _ = load_model(teacher)
    buffers = lambda model: {name: b for name, b in model.named_buffers() if "running" in name}
    assert buffers(original)
    unchanged = all(torch.equal(b, buffers(original)[name]) for name, b in buffers(student).items())
    assert unchanged == frozen
    assert all(torch.equal(p, dict(original.named_parameters())[n]) for n, p in student.named_parameters())


def test_resume_after_an_interruption_ends_with_identical_weights(dataset, tmp_path):
    straight = train("teacher", config_for(dataset, "optim.epochs=3"), tmp_path / "straight")

    def interrupt_after_epoch_2(event):
        if event["event"] == "epoch" and event["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("teacher", config_for(dataset, "optim.epochs=3"), tmp_path / "resumed", emit=interrupt_after_epoch_2)
    with pytest.raises(TrainingError, match="--resume"):
        train("teacher", config_for(dataset, "optim.epochs=3"), tmp_path / "resumed")
    resumed = train("teacher", config_for(dataset, "optim.epochs=3"), tmp_path / "resumed", resume=True)
    assert weights_digest(load_model(resumed)[0]) == weights_digest(load_model(straight)[0])
    checkpoint = torch.load(str(tmp_path / "resumed" / "teacher_checkpoint.pt"), weights_only=True)
    assert checkpoint["state"]["epoch"] == 3


def test_a_run_that_stopped_early_stays_stopped_when_resumed(dataset, tmp_path):
    # patience 0 stops after the first epoch; resuming (as the Slicer panel does after a cancel of
    # `dtc train all`) must not train that stage any further.
    config = config_for(dataset, "optim.epochs=3", "optim.patience=0", "optim.steps_per_epoch=1")
    path = train("teacher", config, tmp_path)
    before = weights_digest(load_model(path)[0])
    train("teacher", config, tmp_path, resume=True)
    assert len(epoch_events(tmp_path, "teacher")) == 1
    assert weights_digest(load_model(path)[0]) == before
    assert torch.load(str(tmp_path / "teacher_checkpoint.pt"), weights_only=True)["state"]["epoch"] == 1


def test_student_needs_a_teacher(dataset, tmp_path):
    with pytest.raises(TrainingError, match="teacher"):
        train("student", config_for(dataset), tmp_path, teacher=tmp_path / "none.safetensors")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_ddp_ends_with_identical_weights_on_both_ranks(dataset, tmp_path):
    run_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), "-m", "DTCTrainingLib.cli", "train", "teacher",
               "--data", str(dataset), "--out", str(run_dir), "--set", "optim.epochs=2", "--set", "device=cpu"]
    for setting in TINY:
        command += ["--set", setting]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    digests = [(run_dir / f"teacher_rank{rank}.sha1").read_text() for rank in (0, 1)]
    assert digests[0] == digests[1]
    model = load_model(run_dir / "teacher.safetensors")[0]
    model.load_state_dict(torch.load(str(run_dir / "teacher_checkpoint.pt"), weights_only=True)["model"])
    assert weights_digest(model) + "\n" == digests[0]  # the checkpoint rank 0 wrote holds those weights


def test_student_with_teacher_pseudo_labels(dataset, teacher_run, tmp_path):
    _, teacher = teacher_run
    path = train("student", config_for(dataset, "optim.epochs=1", "student.pseudo_label_source=teacher"), tmp_path,
                 teacher=teacher)
    assert load_model(path)[1].provenance["config"]["student"]["pseudo_label_source"] == "teacher"


def test_teacher_init_starts_from_the_given_models_weights(dataset, teacher_run, tmp_path):
    _, start_path = teacher_run
    # lr 0: no update, so the saved model must be the starting model itself (batch-norm
    # running statistics still follow the data, so only the learned parameters are compared)
    config = config_for(dataset, "optim.epochs=1", "optim.lr=0", f"teacher.init={start_path}")
    path = train("teacher", config, tmp_path / "finetune")
    start, _ = load_model(start_path)
    tuned, _ = load_model(path)
    for (name, a), b in zip(start.named_parameters(), tuned.parameters()):
        assert torch.equal(a, b), name
    initial = [json.loads(line) for line in (tmp_path / "finetune" / "events.jsonl").read_text().splitlines()
               if json.loads(line)["event"] == "initial"]
    assert len(initial) == 1 and initial[0]["val"]["dice"] == pytest.approx(load_model(start_path)[1].metrics["val_dice"])
    other = config_for(dataset, "optim.epochs=1", f"teacher.init={start_path}",
                       'network.arguments={"features": [8, 8, 16, 16]}')
    with pytest.raises(TrainingError, match="network.name"):
        train("teacher", other, tmp_path / "other")
