"""Run ``dtc train`` as a child process and follow it: the controller behind the DTCTraining panel.

No Qt: the panel polls :meth:`TrainingProcess.poll_events` from a timer, the Python console
or a test simply calls :meth:`TrainingProcess.wait`.  The child prints one JSON event per line
on stdout (``--json``); two reader threads move its stdout and stderr lines into a queue so
polling never blocks.  Cancelling interrupts the child's whole process tree (SIGINT to its
process group on POSIX, CTRL_BREAK_EVENT on Windows; see ``DTCSegmentationLib.process_tree``: in
Slicer the child is the ``PythonSlicer`` launcher and the trainer is the launcher's own child),
which ends the trainer through ``KeyboardInterrupt``: the checkpoint of the last finished epoch
stays as it was (checkpoints are written atomically after every epoch), so
:meth:`TrainingProcess.resume` continues from it.  A tree that does not stop within the grace
period is killed; the last checkpoint is still valid then.

The run is over when the launched process has exited *and* its output pipes are closed: the
trainer behind a launcher holds them until it exits, even after the launcher died of the interrupt.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.process_tree import ProcessTree, popen_options

from DTCTrainingLib import run_folder

Overrides = Union[Mapping[str, object], Iterable[str]]

STATES = ("idle", "running", "cancelling", "finished", "failed", "cancelled")
READER_GRACE_S = 5.0  # how long the pipes may stay open after the launched process exited (not cancelling)
# Python drops a Ctrl-C that lands while a finalizer runs ("Exception ignored in ..."): a cancel repeats the
# interrupt this often (s) until the run has stopped, instead of waiting out the grace period for a kill.
REINTERRUPT_S = 10.0


def override_arguments(overrides: Optional[Overrides]) -> List[str]:
    """``["section.field=value", ...]`` from a mapping (values JSON-encoded unless strings) or strings."""
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in overrides.items()]
    return [str(item) for item in overrides]


def library_search_path() -> List[str]:
    """The folders holding DTCTrainingLib and DTCSegmentationLib, so the child imports the same code.

    Inside Slicer the module folders are on the parent's ``sys.path`` but not on the
    ``PYTHONPATH`` a child inherits.
    """
    import DTCSegmentationLib

    import DTCTrainingLib

    folders = []
    for package in (DTCTrainingLib, DTCSegmentationLib):
        folder = str(Path(package.__file__).resolve().parent.parent)
        if folder not in folders:
            folders.append(folder)
    return folders


def train_command(stage: str, data: Optional[PathLike], out: PathLike, overrides: Optional[Overrides] = None,
                  resume: bool = False, python: Optional[PathLike] = None, gpus: int = 1,
                  teacher: Optional[PathLike] = None) -> List[str]:
    """The command line of ``dtc train STAGE --json`` run by ``python`` (default: this interpreter).

    Args:
        stage: ``teacher``, ``student`` or ``all``.
        data: training-data folder (None: taken from the overrides' ``data.dataset``).
        out: run folder.
        overrides: settings as ``{"optim.epochs": 10}`` or ``["optim.epochs=10"]``.
        resume: continue from the stage's last checkpoint in ``out``.
        python: the interpreter (in Slicer: ``PythonSlicer``).
        gpus: more than 1 starts one process per GPU through ``torch.distributed.run``.
        teacher: teacher model file for the student stage (default ``out/teacher.safetensors``).
    """
    if stage not in ("teacher", "student", "all"):
        raise ValueError(f"stage must be teacher, student or all, got {stage!r}")
    command = [str(python or sys.executable)]
    if gpus > 1:
        command += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(int(gpus))]
    command += ["-m", "DTCTrainingLib.cli", "train", stage, "--out", str(out), "--json"]
    if data:
        command += ["--data", str(data)]
    if teacher:
        command += ["--teacher", str(teacher)]
    for setting in override_arguments(overrides):
        command += ["--set", setting]
    if resume:
        command.append("--resume")
    return command


class TrainingProcess:
    """One training run in a child process: start, poll events, cancel, resume.

    Args:
        stage, data, out, overrides, python, gpus, teacher: as for :func:`train_command`.
        environment: extra environment variables for the child.

    Attributes:
        state: one of :data:`STATES`.
        events: every JSON event received so far (dicts, in order, across resumes).
        log: every other output line (stdout and stderr), newest last (the last 2000).
        returncode: the child's exit status once it has ended.
    """

    def __init__(self, stage: str, data: Optional[PathLike], out: PathLike, overrides: Optional[Overrides] = None,
                 python: Optional[PathLike] = None, gpus: int = 1, teacher: Optional[PathLike] = None,
                 environment: Optional[Mapping[str, str]] = None):
        train_command(stage, data, out)  # validates the stage before anything runs
        # absolute, so the paths in the child's events do not depend on its working folder
        self.stage, self.data, self.out = stage, Path(data).resolve() if data else None, Path(out).resolve()
        self.overrides = override_arguments(overrides)
        self.python, self.gpus, self.teacher = python, gpus, teacher
        self.environment = dict(environment or {})
        self.state = "idle"
        self.events: List[Dict] = []
        self.log: deque = deque(maxlen=2000)
        self.returncode: Optional[int] = None
        self._stderr: deque = deque(maxlen=50)
        self._unread_log: List[str] = []
        self._process: Optional[subprocess.Popen] = None
        self._tree: Optional[ProcessTree] = None
        self._lines: "queue.Queue" = queue.Queue()
        self._readers: List[threading.Thread] = []
        self._kill_at: Optional[float] = None
        self._interrupt_at: Optional[float] = None
        self._killed_at: Optional[float] = None
        self._exited_at: Optional[float] = None

    # ------------------------------------------------------------------ control
    def command(self, resume: bool = False) -> List[str]:
        return train_command(self.stage, self.data, self.out, self.overrides, resume, self.python, self.gpus,
                             self.teacher)

    @property
    def stages(self) -> Sequence[str]:
        """The stages this run trains, in order."""
        return ("teacher", "student") if self.stage == "all" else (self.stage,)

    @property
    def running(self) -> bool:
        return self.state in ("running", "cancelling")

    def start(self, resume: bool = False) -> "TrainingProcess":
        """Launch the child (non-blocking); ``resume`` continues from the checkpoints in ``out``.

        Resuming a run this object has not followed (e.g. after restarting Slicer) first reads
        the run's earlier events from ``out/events.jsonl``, so its curves continue.
        """
        if self.running:
            raise DTCError("a training run is already in progress.", self.out, "Cancel it or wait for it to end.")
        if resume and not self.events:
            self.events = read_events(run_folder.events_path(self.out))
        environment = dict(os.environ)
        environment.update(self.environment)
        search_path = library_search_path() + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
        environment["PYTHONPATH"] = os.pathsep.join(search_path)
        environment["PYTHONUNBUFFERED"] = "1"
        environment["PYTHONIOENCODING"] = "utf-8"
        self._stderr.clear()
        self.returncode, self._kill_at, self._killed_at, self._exited_at = None, None, None, None
        self._process = subprocess.Popen(self.command(resume), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, env=environment, text=True, encoding="utf-8",
                                         errors="replace", bufsize=1, **popen_options())
        self._tree = ProcessTree(self._process)
        self._readers = [threading.Thread(target=self._read, args=(stream, name), daemon=True)
                         for stream, name in ((self._process.stdout, "stdout"), (self._process.stderr, "stderr"))]
        for reader in self._readers:
            reader.start()
        self.state = "running"
        return self

    def resume(self) -> "TrainingProcess":
        """Relaunch with ``--resume`` after a cancel or a failure; the events so far are kept."""
        return self.start(resume=True)

    def cancel(self, grace: float = 30.0) -> None:
        """Ask the child's process tree to stop (the trainer keeps its last epoch checkpoint); kill the tree if
        it is still there after ``grace`` s.

        Returns at once; :meth:`poll_events` or :meth:`wait` carry out the kill when it is due.  The
        launched process may already have exited (a launcher dies of the interrupt) while the trainer
        still runs: the run counts as running until the tree's pipes close.
        """
        if not self.running or self.state == "cancelling":
            return
        self._tree.interrupt()
        self.state = "cancelling"
        self._kill_at = time.monotonic() + grace
        self._interrupt_at = time.monotonic() + REINTERRUPT_S

    def poll_events(self) -> List[Dict]:
        """The events that arrived since the last call (never blocks); updates :attr:`state` when the run ends."""
        if self._process is None:
            return []
        now = time.monotonic()
        if self.running and self._process.poll() is not None and self._exited_at is None:
            self._exited_at = now
        # Output pipes still open after the launched process exited: a trainer behind a launcher, or a
        # leftover grandchild.  Cancelling waits out its grace period; otherwise READER_GRACE_S.
        kill_at = self._kill_at if self.state == "cancelling" else (
            None if self._exited_at is None else self._exited_at + READER_GRACE_S)
        if self.running and self._killed_at is None and kill_at is not None and now >= kill_at and self._pipes_open():
            self._tree.kill()
            self._killed_at = now
        elif self.state == "cancelling" and self._killed_at is None and now >= self._interrupt_at and self._pipes_open():
            self._tree.interrupt()
            self._interrupt_at = now + REINTERRUPT_S
        new = self._drain()
        if self.running and self._exited_at is not None:
            # After a kill, a process outside the group (it made its own) may still hold the pipes.
            if not self._pipes_open() or (self._killed_at is not None and now - self._killed_at > READER_GRACE_S):
                new += self._drain()
                self._finish(self._process.returncode)
        return new

    def wait(self, timeout: Optional[float] = None, interval: float = 0.05) -> str:
        """Poll until the child ends (or ``timeout`` s pass); returns :attr:`state`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running and (deadline is None or time.monotonic() < deadline):
            self.poll_events()
            if self.running:
                time.sleep(interval)
        return self.state

    # ------------------------------------------------------------------ results
    def read_log(self) -> List[str]:
        """The output lines that arrived since the last call (for a log view)."""
        lines, self._unread_log = self._unread_log, []
        return lines

    def progress(self) -> Tuple[float, str]:
        """``(fraction of the whole run done, 0-1; where it is, in words)`` from the events so far."""
        fraction, text = 0.0, "starting" if self.running else ""
        epochs: Dict[str, int] = {}
        for event in self.events:
            stage, kind = event.get("stage"), event.get("event")
            if stage not in self.stages:
                continue
            if kind == "start":
                epochs[stage] = max(int(event["epochs"]), 1)
            position = None
            if kind == "step":
                position = event["epoch"] - 1 + event["step"] / max(event["steps"], 1)
                text = f"{stage} epoch {event['epoch']}/{epochs.get(stage, '?')}, step {event['step']}/{event['steps']}"
            elif kind in ("epoch", "resumed"):
                position = event["epoch"]
                text = event_summary(event)
            elif kind in ("done", "early_stop"):
                position = epochs.get(stage, 1)
                text = event_summary(event)
            if position is not None:
                within = min(position / epochs.get(stage, max(position, 1)), 1.0)
                fraction = (self.stages.index(stage) + within) / len(self.stages)
        return fraction, text

    @property
    def error(self) -> str:
        """The child's last stderr line (its one-line error message), or '' if it wrote none."""
        return self._stderr[-1] if self._stderr else ""

    def model_path(self) -> Optional[Path]:
        """The best model produced: the last finished stage's, else the best so far of the latest stage started."""
        for event in reversed(self.events):
            if event.get("event") == "done" and Path(event["model"]).is_file():
                return Path(event["model"])
        for stage in reversed(self.stages):
            path = run_folder.model_path(self.out, stage)
            if path.is_file():
                return path
        return None

    # ------------------------------------------------------------------ internals
    def _read(self, stream, name: str) -> None:
        for line in stream:
            self._lines.put((name, line.rstrip("\r\n")))
        stream.close()

    def _drain(self) -> List[Dict]:
        new = []
        while True:
            try:
                name, line = self._lines.get_nowait()
            except queue.Empty:
                return new
            event = _parse_event(line) if name == "stdout" else None
            if event is not None:
                new.append(event)
                self.events.append(event)
            elif line.strip():
                self.log.append(line)
                self._unread_log.append(line)
                if name == "stderr":
                    self._stderr.append(line.strip())

    def _pipes_open(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def _finish(self, returncode: int) -> None:
        self.returncode = returncode
        if returncode == 0:
            self.state = "finished"
        elif self.state == "cancelling":
            # `dtc` exits with 130 after Ctrl-C, but torchrun, a kill or Windows report other codes
            self.state = "cancelled"
        else:
            self.state = "failed"
        self._kill_at = self._killed_at = None


def event_summary(event: Dict) -> str:
    """One line describing a training event, for a log or a status line ('' for per-step events)."""
    stage, kind = event.get("stage", ""), event.get("event")
    if kind == "start":
        return (f"{stage}: {event['train_samples']} training samples, {event['val_cases']} validation case(s), "
                f"{event['epochs']} epochs on {event['device']}")
    if kind == "resumed":
        return f"{stage} resumed after epoch {event['epoch']}"
    if kind == "epoch":
        minutes = event.get("eta_seconds", 0) / 60
        left = f", about {minutes:.0f} min left" if minutes >= 1 else ""
        return (f"{stage} epoch {event['epoch']}/{event['epochs']}: loss {event['losses']['total']:.4f}, "
                f"validation Dice {event['val']['dice']:.4f}{' (best)' if event.get('improved') else ''}{left}")
    if kind == "initial":
        return f"{stage} starting weights: validation Dice {event['val']['dice']:.4f} (the bar to beat)"
    if kind == "early_stop":
        return f"{stage} stopped early after epoch {event['epoch']} (best epoch {event['best_epoch']})"
    if kind == "done":
        return (f"{stage} done: best validation Dice {event['best_dice']:.4f} at epoch {event['best_epoch']}, "
                f"model {event['model']}")
    return ""


def read_events(path: Path) -> List[Dict]:
    """The training events of a run's ``events.jsonl`` (lines that are not events are skipped); [] if missing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [event for event in map(_parse_event, lines) if event is not None]


def _parse_event(line: str) -> Optional[Dict]:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "event" in event else None
