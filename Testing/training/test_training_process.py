"""The panel's training controller on a real tiny training run: events stream, cancel is clean, resume finishes."""

import json
import os
import signal
import sys
import time

import pytest
import torch
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.networks.model_file import load_model
from DTCTrainingLib.cli import build_parser
from DTCTrainingLib.config import load_config
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from DTCTrainingLib.training_process import TrainingProcess, event_summary, override_arguments, train_command
from samples import process_running

pytestmark = pytest.mark.slow  # trains networks or opens sockets

TINY = {"data.height": 32, "data.width": 48, "optim.batch_size": 2, "optim.steps_per_epoch": 1, "optim.patience": 50,
        "network.arguments": {"features": [4, 8, 8, 16]}, "device": "cpu"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_simulated_dataset(folder, cases=3, frames=6, height=64, width=96, labelled_every=2, val_cases=1, seed=5,
                           progress=False)
    return folder


def wait_for_event(process, name, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in process.poll_events():
            if event["event"] == name:
                return event
        if not process.running:
            break
        time.sleep(0.02)
    raise AssertionError(f"no {name!r} event; state {process.state}, log {list(process.log)[-5:]}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal inheritance")
def test_cancel_stops_a_run_started_by_a_slicer_that_ignores_ctrl_c(dataset, tmp_path):
    # A Slicer started in the background of a script ignores SIGINT, and its children inherit that.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = TrainingProcess("teacher", dataset, tmp_path / "run",
                                  {**TINY, "optim.epochs": 100000, "optim.patience": 100000}).start()
    finally:
        signal.signal(signal.SIGINT, previous)
    wait_for_event(process, "epoch")
    process.cancel(grace=60)
    assert process.wait(timeout=90) == "cancelled", list(process.log)
    assert process.returncode == 130 and "interrupted" in process.error


def test_cancel_keeps_a_resumable_checkpoint_and_resume_finishes(dataset, tmp_path):
    out = tmp_path / "run"
    process = TrainingProcess("teacher", dataset, out, {**TINY, "optim.epochs": 4}).start()
    first = wait_for_event(process, "epoch")
    assert first["epoch"] == 1 and "total" in first["losses"] and 0 <= first["val"]["dice"] <= 1
    with pytest.raises(DTCError, match="already in progress"):
        process.start()
    process.cancel(grace=60)
    assert process.wait(timeout=90) == "cancelled", list(process.log)
    assert process.returncode == 130 and "interrupted" in process.error
    names = [event["event"] for event in process.events]
    assert names[0] == "start" and "done" not in names
    checkpoint = torch.load(str(out / "teacher_checkpoint.pt"), weights_only=True)
    stopped_after = checkpoint["state"]["epoch"]
    assert 1 <= stopped_after < 4
    leftovers = [path.name for path in out.rglob("*") if "partial" in path.name or path.name.startswith(".")]
    assert leftovers == []
    # the best model so far is usable already, under a name that says the stage has not finished
    assert process.model_path() == out / "teacher_best_so_far.safetensors" and not (out / "teacher.safetensors").exists()
    fraction, text = process.progress()
    assert stopped_after / 4 <= fraction < 1 and text.startswith("teacher epoch")
    assert any("interrupted" in line for line in process.read_log()) and process.read_log() == []

    # resume as after restarting Slicer: a new controller for the same run folder
    process = TrainingProcess("teacher", dataset, out, {**TINY, "optim.epochs": 4})
    assert process.resume().wait(timeout=120) == "finished", list(process.log)
    assert process.returncode == 0 and process.events[0]["event"] == "start"  # the earlier events were read back
    resumed = [event for event in process.events if event["event"] == "resumed"]
    assert [event["epoch"] for event in resumed] == [stopped_after]
    epochs = [event["epoch"] for event in process.events if event["event"] == "epoch"]
    assert epochs[-1] == 4 and epochs[epochs.index(stopped_after) + 1:] == list(range(stopped_after + 1, 5))
    done = process.events[-1]
    assert done["event"] == "done" and process.model_path() == out / "teacher.safetensors"
    assert process.progress() == (1.0, event_summary(done))
    assert event_summary(done).startswith("teacher done: best validation Dice")
    last_epoch = [event for event in process.events if event["event"] == "epoch"][-1]
    assert event_summary(last_epoch).startswith("teacher epoch 4/4: loss ")
    _, info = load_model(process.model_path())
    assert info.metrics["val_dice"] == pytest.approx(done["best_dice"])
    assert torch.load(str(out / "teacher_checkpoint.pt"), weights_only=True)["state"]["epoch"] == 4
    # events.jsonl in the run folder holds the same events the controller streamed
    written = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e for e in written if e["event"] != "step"] == [e for e in process.events if e["event"] != "step"]


def test_a_child_that_outlives_the_grace_period_is_killed_and_its_checkpoint_survives(dataset, tmp_path):
    out = tmp_path / "run"
    process = TrainingProcess("teacher", dataset, out, {**TINY, "optim.epochs": 50}).start()
    wait_for_event(process, "epoch")
    process.cancel(grace=0)  # no time to stop cleanly: the next poll kills the process group
    assert process.wait(timeout=60) == "cancelled"
    if os.name != "nt":
        assert process.returncode == -signal.SIGKILL
    checkpoint = torch.load(str(out / "teacher_checkpoint.pt"), weights_only=True)
    assert checkpoint["state"]["epoch"] >= 1  # written atomically, so a kill cannot leave it half-written


def test_bad_data_path_ends_as_failed_with_the_childs_one_line_error(tmp_path):
    process = TrainingProcess("teacher", tmp_path / "no_such_data", tmp_path / "run", {"device": "cpu"}).start()
    assert process.wait(timeout=90) == "failed"
    assert process.returncode == 2
    assert process.error.startswith("dtc train: error:") and "no_such_data" in process.error
    assert not any("Traceback" in line for line in process.log)
    assert process.model_path() is None and process.events == []


def test_overrides_reach_the_configuration_unchanged():
    overrides = {"optim.epochs": 3, "optim.amp": True, "optim.lr": 5e-4, "data.val": "P01,P02",
                 "network.arguments": {"features": [4, 8, 8, 16]}, "student.flow_method": "farneback"}
    arguments = override_arguments(overrides)
    assert arguments[:2] == ["optim.epochs=3", "optim.amp=true"]
    config = load_config(overrides=arguments)
    assert (config.optim.epochs, config.optim.amp, config.optim.lr) == (3, True, 5e-4)
    assert config.data.val == ["P01", "P02"] and config.network.arguments == {"features": [4, 8, 8, 16]}


def test_multi_gpu_command_is_valid_for_torchrun_and_dtc(tmp_path):
    from torch.distributed.run import get_args_parser

    command = train_command("all", tmp_path / "data", tmp_path / "run", {"optim.epochs": 2}, resume=True,
                            python="/opt/Slicer/bin/PythonSlicer", gpus=2)
    assert command[0] == "/opt/Slicer/bin/PythonSlicer" and command[1:3] == ["-m", "torch.distributed.run"]
    launcher = get_args_parser().parse_args(command[3:])
    assert launcher.nproc_per_node == "2" and launcher.module and launcher.training_script == "DTCTrainingLib.cli"
    args = build_parser().parse_args(launcher.training_script_args)
    assert (args.stage, args.data, args.out, args.set, args.resume, args.json) == (
        "all", str(tmp_path / "data"), tmp_path / "run", ["optim.epochs=2"], True, True)
    single = train_command("teacher", None, tmp_path / "run", ["data.dataset=D"])
    assert build_parser().parse_args(single[3:]).set == ["data.dataset=D"]


LAUNCHER = '''#!{python}
"""Stand-in for Slicer's PythonSlicer (commontk/AppLauncher Base/ctkAppLauncher.cpp): the real interpreter
runs as this process's child (QProcess: same process group, ForwardedChannels: it writes to our stdout and
stderr itself); no signal handler is installed and nothing is forwarded, so SIGINT ends this process at once
(its default action); the exit status is the child's."""
import os, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
ignore = os.environ.get("STAND_IN_CHILD_IGNORES_SIGINT") == "1"
child = subprocess.Popen([sys.executable] + sys.argv[1:],
                         preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore else None)
with open(os.environ["STAND_IN_CHILD_PID_FILE"], "w") as pid_file:
    pid_file.write(str(child.pid))
sys.exit(child.wait())
'''


# A run that must still be training when a repeated interrupt comes (a tiny epoch takes milliseconds).
LONG = 100000


def launched_run(dataset, tmp_path, child_ignores_sigint: bool):
    launcher = tmp_path / "PythonSlicer"
    launcher.write_text(LAUNCHER.format(python=sys.executable))
    launcher.chmod(0o755)
    pid_file = tmp_path / "interpreter.pid"
    environment = {"STAND_IN_CHILD_PID_FILE": str(pid_file), "STAND_IN_CHILD_IGNORES_SIGINT": str(int(child_ignores_sigint))}
    process = TrainingProcess("teacher", dataset, tmp_path / "run", {**TINY, "optim.epochs": LONG, "optim.patience": LONG},
                              python=launcher, environment=environment).start()
    wait_for_event(process, "epoch")
    return process, int(pid_file.read_text())


@pytest.mark.skipif(sys.platform != "linux", reason="the stand-in launcher is POSIX; process_running reads /proc")
def test_cancel_through_a_launcher_stops_the_trainer_behind_it(dataset, tmp_path):
    process, trainer = launched_run(dataset, tmp_path, child_ignores_sigint=False)
    process.cancel(grace=60)
    assert process.wait(timeout=90) == "cancelled", list(process.log)
    assert not process_running(trainer)  # over only once the trainer has stopped, not when the launcher died
    assert any("interrupted" in line for line in process.log)  # the trainer's own Ctrl-C message: a clean stop
    checkpoint = torch.load(str(tmp_path / "run" / "teacher_checkpoint.pt"), weights_only=True)
    assert checkpoint["state"]["epoch"] >= 1


@pytest.mark.skipif(sys.platform != "linux", reason="the stand-in launcher is POSIX; process_running reads /proc")
def test_a_trainer_behind_a_launcher_that_outlives_the_grace_period_is_killed(dataset, tmp_path):
    """The trainer ignores the interrupt (as one stuck in native code would); the launcher dies of it at once."""
    process, trainer = launched_run(dataset, tmp_path, child_ignores_sigint=True)
    process.cancel(grace=2)
    assert process.wait(timeout=60) == "cancelled", list(process.log)
    assert not process_running(trainer)
    checkpoint = torch.load(str(tmp_path / "run" / "teacher_checkpoint.pt"), weights_only=True)
    assert checkpoint["state"]["epoch"] >= 1
    resumed = TrainingProcess("teacher", dataset, tmp_path / "run", {**TINY, "optim.epochs": checkpoint["state"]["epoch"] + 1})
    assert resumed.resume().wait(timeout=120) == "finished", list(resumed.log)


LOSES_FIRST_INTERRUPT = '''#!{python}
"""Stands in for the trainer: its first Ctrl-C is lost (as one landing in a finalizer is); the next one stops it."""
import signal, sys, time


def lost(number, frame):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("first interrupt lost", file=sys.stderr, flush=True)


signal.signal(signal.SIGINT, lost)
print('{{"event": "epoch", "stage": "teacher", "epoch": 1}}', flush=True)
try:
    while True:
        time.sleep(0.01)
except KeyboardInterrupt:
    print("dtc train: interrupted", file=sys.stderr, flush=True)
    sys.exit(130)
'''


@pytest.mark.skipif(sys.platform != "linux", reason="the stand-in interpreter is a POSIX script")
def test_a_lost_interrupt_is_repeated_so_the_run_stops_cleanly_before_the_kill(dataset, tmp_path, monkeypatch):
    from DTCTrainingLib import training_process

    monkeypatch.setattr(training_process, "REINTERRUPT_S", 1.0)
    python = tmp_path / "python"
    python.write_text(LOSES_FIRST_INTERRUPT.format(python=sys.executable))
    python.chmod(0o755)
    process = TrainingProcess("teacher", dataset, tmp_path / "run", TINY, python=python).start()
    wait_for_event(process, "epoch")
    process.cancel(grace=60)
    assert process.wait(timeout=90) == "cancelled", list(process.log)
    assert process.returncode == 130  # stopped by the repeated interrupt, not killed (-9) after the grace period
    log = list(process.log)
    assert any("first interrupt lost" in line for line in log) and any("interrupted" in line for line in log), log
