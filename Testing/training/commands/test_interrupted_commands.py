"""Ctrl-C part-way through a command: exit status 130, no partial or temporary files, nothing that looks finished.

Each test makes a function the command calls in the middle of its work raise KeyboardInterrupt after a few
calls (what Ctrl-C does at that point), then looks at what is left in the output folder.
"""

import numpy as np
import pytest
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.cli import main
from stand_in_models import pixel_model


def interrupt_after(monkeypatch, owner, name, calls):
    """Let ``owner.name`` run ``calls`` times, then raise KeyboardInterrupt as Ctrl-C would."""
    original = getattr(owner, name)
    count = {"calls": 0}

    def wrapper(*args, **kwargs):
        count["calls"] += 1
        if count["calls"] > calls:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return count


def leftovers(folder):
    """Every file under ``folder``, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def temporary(names):
    return [n for n in names if ".partial" in n or any(part.startswith(".") for part in n.split("/"))]


@pytest.fixture()
def recording(tmp_path):
    frames = np.full((6, 40, 60), 30, np.uint8)
    for t in range(6):
        frames[t, 10:25, 15 + t:35 + t] = 220
    path = write_sequence(tmp_path / "rec.seq.nrrd", FrameSequence(frames, frame_times=np.arange(6) * 0.05))
    return path, pixel_model(tmp_path / "pixel.pt", (40, 60))


def interrupted(capsys, argv):
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 130 and "interrupted" in captured.err
    return captured.out


def test_segment_with_every_output_keeps_none_of_them(tmp_path, capsys, monkeypatch, recording):
    from DTCSegmentationLib.inference import pipeline

    path, model = recording
    calls = interrupt_after(monkeypatch, pipeline, "draw_contour", 3)  # masks and probabilities of 3 frames written
    assert interrupted(capsys, ["segment", str(path), "--model", str(model), "--out", str(tmp_path / "out"),
                                "--overlay", "--probabilities"]) == ""
    assert calls["calls"] == 4 and leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_report_interrupted_while_being_written_leaves_no_report(tmp_path, capsys, monkeypatch, recording, command):
    from DTCTrainingLib.evaluation import reports

    path, model = recording
    models = ["--model", str(model)] + (["--ema", "0.5"] if command == "compare" else [])
    interrupt_after(monkeypatch, reports, "_curves_plot", 0)  # after summary.json and frames.csv
    interrupted(capsys, [command, *models, str(path), "--out", str(tmp_path / "r")])
    assert leftovers(tmp_path / "r") == []


def test_overwriting_a_report_interrupted_keeps_the_previous_report_whole(tmp_path, capsys, monkeypatch, recording):
    from DTCTrainingLib.evaluation import reports

    path, model = recording
    argv = ["evaluate", "--model", str(model), str(path), "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    capsys.readouterr()
    before = {name: (tmp_path / "r" / name).read_bytes() for name in leftovers(tmp_path / "r")}
    assert {"summary.json", "frames.csv", "report.md"} <= set(before)
    interrupt_after(monkeypatch, reports, "_curves_plot", 0)
    interrupted(capsys, argv + ["--overwrite", "--flicker-dice", "0.5"])  # a different summary, were it written
    assert {name: (tmp_path / "r" / name).read_bytes() for name in leftovers(tmp_path / "r")} == before


def test_evaluate_interrupted_while_segmenting_leaves_no_flicker_map(tmp_path, capsys, monkeypatch, recording):
    from DTCTrainingLib.evaluation import recordings

    path, model = recording
    interrupt_after(monkeypatch, recordings, "probability_to_uint8", 3)  # 3 flicker-map frames streamed
    interrupted(capsys, ["evaluate", "--model", str(model), str(path), "--out", str(tmp_path / "r"), "--flicker-maps"])
    assert leftovers(tmp_path / "r") == []


def test_demo_interrupted_leaves_only_complete_files_and_no_report(tmp_path, capsys, monkeypatch):
    from DTCSegmentationLib.sequence_io.writer import SequenceWriter

    model = pixel_model(tmp_path / "pixel.pt", (256, 448))
    interrupt_after(monkeypatch, SequenceWriter, "write", 6)  # the 4 frames, then 2 of the 4 predicted masks
    assert interrupted(capsys, ["demo", "--model", str(model), "--out", str(tmp_path / "demo"), "--frames", "4",
                                "--view", "axial"]) == ""
    names = leftovers(tmp_path / "demo")
    assert temporary(names) == [] and not any(name.endswith((".png", ".mrb")) for name in names)
    assert names == ["axial_frames.seq.nrrd"] and len(read_sequence(tmp_path / "demo" / names[0])) == 4


@pytest.mark.parametrize("format, save", [("torchscript", "torch.jit.save"), ("safetensors", "safetensors.torch.save_file")])
def test_export_interrupted_while_writing_leaves_no_file(tmp_path, capsys, monkeypatch, format, save):
    arguments = {"features": [8, 8, 16, 16]}
    model = save_model(tmp_path / "m.safetensors", build_network("fast_unet", arguments=arguments),
                       ModelInfo(arguments=arguments, input_size=(64, 96)))
    module, _, name = save.rpartition(".")

    def half_written(obj, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"\0" * 1024)
        raise KeyboardInterrupt

    monkeypatch.setattr(f"{module}.{name}", half_written)
    (tmp_path / "out").mkdir()
    interrupted(capsys, ["export", str(model), "--format", format, "--out", str(tmp_path / "out" / f"m.{format}")])
    assert leftovers(tmp_path / "out") == []


def test_dataset_simulate_interrupted_has_no_manifest_and_only_complete_cases(tmp_path, capsys, monkeypatch):
    from DTCTrainingLib.data import simulated_dataset

    frames = {"count": 0}
    original = simulated_dataset.TrusSimulator.frames

    def frames_then_interrupt(self):
        for frame in original(self):
            frames["count"] += 1
            if frames["count"] > 5:  # the first case's 3 frames, and 2 of the second's
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(simulated_dataset.TrusSimulator, "frames", frames_then_interrupt)
    out = tmp_path / "data"
    interrupted(capsys, ["dataset", "simulate", "--out", str(out), "--cases", "3", "--frames", "3", "--size", "64x96"])
    names = leftovers(out)
    assert temporary(names) == [] and "dataset.json" not in names
    assert names == ["case000_axial/images.seq.nrrd", "case000_axial/masks.seq.nrrd"]
    assert all(len(read_sequence(out / name)) == 3 for name in names)


def test_simulate_interrupted_mid_stream_keeps_nothing(tmp_path, capsys, monkeypatch):
    from DTCSegmentationLib.simulation import TrusSimulator

    original = TrusSimulator.frames

    def two_frames_then_interrupt(self):
        for index, frame in enumerate(original(self)):
            if index == 2:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(TrusSimulator, "frames", two_frames_then_interrupt)
    for format in ("seq.nrrd", "png", "mp4"):
        interrupted(capsys, ["simulate", "--frames", "4", "--size", "64x96", "--format", format,
                             "--out", str(tmp_path / format)])
        assert leftovers(tmp_path / format) == []

