"""Shared test data: small frame stacks and geometries, a simulated recording on an oblique
geometry, a tiny real network, the repository root, and the harness of the bad-input fuzz tests.

Factories with arguments live here (tests import them: ``from samples import frames``, the
``Testing`` folder is on pytest's ``pythonpath``); fixtures without arguments are in ``conftest.py``.
"""

import contextlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate

REPO_ROOT = Path(__file__).resolve().parents[1]

SEQUENCE_GEOMETRY = FrameGeometry(spacing=(0.2, 0.3, 1.0), origin=(10.0, -5.0, 2.0))


def frames(dtype=np.uint8, channels=1, count=4, height=12, width=20, seed=0):
    """``(count, height, width[, channels])`` random frames over the dtype's usual range."""
    rng = np.random.default_rng(seed)
    shape = (count, height, width) + ((channels,) if channels > 1 else ())
    return rng.integers(0, 255 if dtype == np.uint8 else 60000, shape).astype(dtype)


_ANGLE = np.deg2rad(20.0)
OBLIQUE_GEOMETRY = FrameGeometry(spacing=(0.3, 0.25, 1.0), origin=(12.0, -7.0, 4.0),
                         direction=(np.cos(_ANGLE), -np.sin(_ANGLE), 0.0, np.sin(_ANGLE), np.cos(_ANGLE), 0.0, 0.0, 0.0, 1.0))


def require_mrml():
    """The ``slicer`` package with MRML classes, or skip the calling test module."""
    slicer = pytest.importorskip("slicer")
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("slicer-core is not installed", allow_module_level=True)
    return slicer


def recording(num_frames: int = 6, seed: int = 1) -> FrameSequence:
    """``(T, 64, 96)`` uint8 simulated frames placed by :data:`OBLIQUE_GEOMETRY`, 20 frames/s."""
    images = simulate(SimulationConfig(num_frames=num_frames, height=64, width=96, seed=seed)).images
    return FrameSequence(images.frames, OBLIQUE_GEOMETRY, np.arange(num_frames) * 0.05)


def tiny_segmenter(folder, frames: FrameSequence, seed: int = 0) -> Segmenter:
    """An untrained fast_unet; its threshold is the median probability on the first frame, so masks vary by frame."""
    torch.manual_seed(seed)
    arguments = {"features": [8, 8, 16, 16]}
    path = save_model(folder / f"tiny{seed}.safetensors", build_network("fast_unet", arguments=arguments),
                      ModelInfo(arguments=arguments, input_size=(64, 96)))
    probe = Segmenter.from_file(path, device="cpu")
    threshold = float(np.median(probe.probabilities([frames.frames[0]])[0]))
    return Segmenter.from_file(path, device="cpu", threshold=threshold, batch_size=4)


def dtc_error(capsys, argv) -> str:
    """Run ``dtc argv``, which must refuse it as a user error: exit status 2 and one ``dtc <command>: error:`` line
    on stderr (no traceback); returns that line."""
    from DTCTrainingLib.cli import main

    status = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, f"dtc {argv[0]} exited {status}: {err}"
    assert len(err) == 1 and err[0].startswith(f"dtc {argv[0]}: error: "), err
    return err[0]


def tiny_model_file(path, input_size=(64, 96), seed: int = 0, **info):
    """An untrained small fast_unet saved as a model file at ``path``."""
    torch.manual_seed(seed)
    arguments = {"features": [8, 8, 16, 16]}
    return save_model(path, build_network("fast_unet", arguments=arguments),
                      ModelInfo(arguments=arguments, input_size=input_size, **info))


def paint_segment(proxy, mask: np.ndarray, ijk_to_ras: np.ndarray, segment: str = "Prostate") -> None:
    """Replace ``segment`` of the segmentation node ``proxy`` by ``mask`` ``(H, W)``, as a Segment Editor effect does."""
    from DTCSegmentationLib.mrml.segmentations import replace_segment

    replace_segment(proxy, mask, ijk_to_ras, segment)


def correct_frame(run, frame: int, mask: np.ndarray) -> None:
    """Show ``frame`` in the run's browser and paint ``mask`` into the segmentation the browser shows."""
    from DTCSegmentationLib.mrml.corrections import correct_frame as correct

    correct(None, run, frame, mask)


# The bad-input fuzz tests (issue #14): every input ends in success or one DTCError, within bounds ---------------

class Hang(Exception):
    """A fuzz example ran past its time limit."""


@contextlib.contextmanager
def bounded(seconds: float, memory_bytes: int):
    """Fail the block if it runs longer than ``seconds`` (a hang) or its traced allocations (Python objects and
    numpy arrays) peak above ``memory_bytes``.  The time limit uses SIGALRM: POSIX, main thread only."""
    import signal
    import tracemalloc

    def expire(*_):
        raise Hang(f"still running after {seconds} s")

    timed = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if timed:
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert peak <= memory_bytes, f"allocated {peak / 2**20:.1f} MiB at the peak, allowed {memory_bytes / 2**20:.1f} MiB"


def memory_allowance(*inputs: bytes, floor: int = 32 << 20) -> int:
    """Twice the input (decompressed where it is gzip/zlib data), plus a floor for buffers and lazy imports."""
    import gzip
    import zlib

    total = 0
    for data in inputs:
        total += len(data)
        for unpack in (gzip.decompress, zlib.decompress):
            try:
                total += len(unpack(data))
            except Exception:  # not compressed, or damaged: only the raw bytes count
                pass
    return 2 * total + floor


def assert_one_error_line(error: BaseException) -> None:
    """A user error fit for the command line: one line of text."""
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)


def partial_outputs(folder: Path) -> list:
    """Temporary outputs (``.name.xxxx.partial``) left anywhere under ``folder``."""
    return [str(p) for p in Path(folder).rglob("*") if p.name.endswith(".partial") or ".partial" in p.name]


def run_dtc(argv) -> tuple:
    """``dtc argv`` in this process with stdout and stderr captured: ``(status, stdout, stderr)``."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from DTCTrainingLib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def assert_success_or_one_error_line(status: int, err: str, command: str, report_on_2: bool = False) -> bool:
    """``dtc`` ended in success (0) or a user error (2) told in one ``dtc <command>: error:`` line, the last one;
    any other stderr line is a note.  ``report_on_2``: the command may also exit 2 with a report and no error
    line (``dtc dataset check`` on a folder with problems).  Returns whether there was an error line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert status in (0, 2), (status, err)
    errors = [line for line in lines if line.startswith(f"dtc {command}: error: ")]
    assert len(errors) <= 1 and (not errors or lines[-1] == errors[0]), err
    assert bool(errors) == (status == 2) or (report_on_2 and status == 2), (status, err)
    assert all(line.startswith("note:") for line in lines if line not in errors), err
    return bool(errors)
def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs (Linux: a zombie waiting to be reaped by its new parent has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return True


def recv_exactly(sock, size: int) -> bytes:
    """``size`` bytes from a socket (ConnectionError if the peer closes first)."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
