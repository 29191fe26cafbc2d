"""Hostile input to `dtc simulate`, `dtc segment` and `dtc export` (issue #14): each case ends in the right
file or in one error line, and leaves nothing behind."""

import json
import re

import numpy as np
import pytest
import torch
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import load_model, read_model_info
from DTCSegmentationLib.sequence_io import read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.cli import main
from samples import dtc_error, tiny_model_file

ARGS = {"features": [8, 8, 16, 16]}


@pytest.fixture()
def model(tmp_path):
    return tiny_model_file(tmp_path / "m.safetensors")


@pytest.fixture()
def recording(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 64, 96), dtype=np.uint8)
    return write_sequence(tmp_path / "rec.seq.nrrd", FrameSequence(frames))


def plain_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "w.pth"
    torch.save(build_network("fast_unet", arguments=ARGS).state_dict(), path)
    return path


# 1: the written format follows the --out suffix --------------------------------------------------

def test_export_to_a_safetensors_name_writes_a_model_file_not_onnx(tmp_path, model, capsys):
    assert main(["export", str(model), "--out", str(tmp_path / "x.safetensors")]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "safetensors"
    _, info = load_model(tmp_path / "x.safetensors")  # an ONNX graph under this name does not load
    assert tuple(info.input_size) == (64, 96)
    imported = tmp_path / "y.safetensors"
    assert main(["export", str(plain_weights(tmp_path)), "--architecture", "fast_unet", "--arguments", json.dumps(ARGS),
                 "--input-size", "64x96", "--out", str(imported)]) == 0
    assert load_model(imported)[1].provenance == {"imported_from": "w.pth"}


def test_export_without_format_writes_onnx_for_an_onnx_name(tmp_path, model, capsys):
    assert main(["export", str(model), "--out", str(tmp_path / "m.onnx")]) == 0
    assert Segmenter.from_file(tmp_path / "m.onnx", device="cpu").info.input_size == (64, 96)


@pytest.mark.parametrize("out, fmt, words", [
    ("x.safetensors", "onnx", "ends in .safetensors, which is safetensors, but --format is onnx"),
    ("x.onnx", "torchscript", "but --format is torchscript"),
    ("model.bin", None, "has no model file suffix"),
    ("model", "onnx", "has no model file suffix"),
])
def test_export_refuses_a_suffix_that_disagrees_with_the_format(tmp_path, model, capsys, out, fmt, words):
    line = dtc_error(capsys, ["export", model, "--out", tmp_path / out] + (["--format", fmt] if fmt else []))
    assert words in line
    assert not (tmp_path / out).exists()


def test_export_to_a_folder_is_refused_and_writes_no_file_named_like_it(tmp_path, model, capsys):
    assert "is a folder; --out names the model file" in dtc_error(capsys, ["export", model, "--out", f"{tmp_path}/new/"])
    assert not (tmp_path / "new").exists()
    (tmp_path / "existing").mkdir()
    assert "is a folder" in dtc_error(capsys, ["export", model, "--out", tmp_path / "existing"])
    assert list((tmp_path / "existing").iterdir()) == []


# 6 and 7: one line instead of a traceback ---------------------------------------------------------

def test_export_with_network_arguments_the_network_refuses(tmp_path, capsys):
    line = dtc_error(capsys, ["export", plain_weights(tmp_path), "--architecture", "fast_unet", "--arguments",
                              '{"features": "x"}', "--out", tmp_path / "z.onnx"])
    assert "w.pth: cannot be imported" in line and "--arguments" in line
    assert not (tmp_path / "z.onnx").exists()


def test_a_model_whose_metadata_asks_for_a_zero_input_size_is_refused(tmp_path, recording, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    model = tiny_model_file(tmp_path / "m.safetensors")
    with safe_open(str(model), "pt") as handle:
        metadata = handle.metadata()
    info = json.loads(metadata["dtc"])
    info["input_size"] = [0, 0]
    save_file(load_file(str(model)), str(tmp_path / "zero.safetensors"), metadata={**metadata, "dtc": json.dumps(info)})
    line = dtc_error(capsys, ["segment", recording, "--model", tmp_path / "zero.safetensors", "--out", tmp_path / "out"])
    assert "zero.safetensors: has invalid metadata: input size [0, 0]" in line
    assert not (tmp_path / "out").exists()


def test_the_advice_for_plain_safetensors_weights_is_a_command_that_works(tmp_path, capsys):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    weights = tmp_path / "plain.safetensors"
    save_file(build_network("fast_unet", arguments=ARGS).state_dict(), str(weights))
    line = dtc_error(capsys, ["segment", weights, "--model", weights, "--out", tmp_path / "out"])
    advice = re.search(r"`dtc (export [^`]+)`", line).group(1)
    argv = advice.replace("NAME", "fast_unet").replace("MODEL.safetensors", str(tmp_path / "imported.safetensors"))
    assert main(argv.split() + ["--arguments", json.dumps(ARGS)]) == 0
    assert read_model_info(tmp_path / "imported.safetensors").architecture == "fast_unet"


def test_segment_into_an_existing_file_is_refused_and_the_file_kept(tmp_path, model, recording, capsys):
    (tmp_path / "afile").write_text("keep me")
    line = dtc_error(capsys, ["segment", recording, "--model", model, "--out", tmp_path / "afile"])
    assert "afile: must be a folder to write into, but this is a file" in line
    assert (tmp_path / "afile").read_text() == "keep me"


def test_an_empty_seq_nrrd_is_one_line(tmp_path, model, capsys):
    (tmp_path / "empty.seq.nrrd").write_bytes(b"")
    line = dtc_error(capsys, ["segment", tmp_path / "empty.seq.nrrd", "--model", model, "--out", tmp_path / "out"])
    assert "empty.seq.nrrd: is empty (0 bytes)" in line
    assert not (tmp_path / "out").exists()


def test_zero_length_space_directions_are_one_line(tmp_path, model, recording, capsys):
    head, _, body = recording.read_bytes().partition(b"\n\n")
    head = re.sub(rb"space directions: \([^)]*\)", b"space directions: (0,0,0)", head)
    (tmp_path / "flat.seq.nrrd").write_bytes(head + b"\n\n" + body)
    line = dtc_error(capsys, ["segment", tmp_path / "flat.seq.nrrd", "--model", model, "--out", tmp_path / "out"])
    assert "flat.seq.nrrd: has unusable space directions" in line and "zero length" in line


@pytest.mark.parametrize("rate", ["0", "-5", "nan", "inf"])
def test_simulate_refuses_a_frame_rate_that_is_not_a_rate_and_creates_no_folder(tmp_path, capsys, rate):
    out = tmp_path / "sim"
    line = dtc_error(capsys, ["simulate", "--frame-rate", rate, "--frames", "2", "--size", "32x48", "--out", out])
    assert "--frame-rate" in line
    assert not out.exists()


def test_simulate_refuses_a_size_that_cannot_fit_in_memory_before_allocating_it(tmp_path, capsys):
    out = tmp_path / "sim"
    line = dtc_error(capsys, ["simulate", "--size", "100000x100000", "--frames", "2", "--out", out])
    assert "needs about 1490 GiB" in line and "GiB of memory" in line
    assert not out.exists()


# 9: out-of-range values -----------------------------------------------------------------------------

@pytest.mark.parametrize("threshold", ["1.5", "nan", "-1", "0", "1"])
def test_segment_refuses_a_threshold_that_is_not_a_probability(tmp_path, model, recording, capsys, threshold):
    line = dtc_error(capsys, ["segment", recording, "--model", model, "--out", tmp_path / "out", "--threshold", threshold])
    assert f"threshold {float(threshold)} is not a probability" in line
    assert not (tmp_path / "out").exists()


# 5: float frames in [0, 1] ---------------------------------------------------------------------------------------

def test_float_frames_in_0_1_are_segmented_like_their_8_bit_originals_with_one_note(tmp_path, capsys, caplog):
    from samples import recording as simulated

    sweep = simulated(num_frames=5)
    bytes_path = write_sequence(tmp_path / "bytes.seq.nrrd", sweep)
    unit_path = write_sequence(tmp_path / "unit.seq.nrrd", FrameSequence(sweep.frames.astype(np.float32) / 255.0,
                                                                         sweep.geometry, sweep.frame_times))
    probe = Segmenter.from_file(tiny_model_file(tmp_path / "probe.safetensors"), device="cpu")
    threshold = float(np.median(probe.probabilities([sweep.frames[0]])[0]))
    model = tiny_model_file(tmp_path / "m.safetensors", threshold=threshold)
    masks = {}
    for name, path in (("bytes", bytes_path), ("unit", unit_path)):
        caplog.clear()
        assert main(["segment", str(path), "--model", str(model), "--out", str(tmp_path / name), "--overlay",
                     "--batch-size", "2"]) == 0
        masks[name] = read_sequence(json.loads(capsys.readouterr().out)["masks"]).frames
        notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("note:")]
        assert notes == ([] if name == "bytes" else
                         [f"note: {unit_path}: float frames with values in [0, 1] are read as [0, 1] (multiplied by 255), "
                          "not as [0, 255]."])
    assert 0.05 < masks["bytes"].mean() < 0.95  # the model finds something, and not everything
    assert (masks["unit"] == masks["bytes"]).mean() > 0.999


def test_float_frames_in_0_255_are_read_as_they_are():
    from DTCSegmentationLib.inference.preprocessing import BYTE_RANGE, float_value_range, to_uint8

    frames = np.array([[[0.0, 1.0], [100.0, 254.6]]], np.float32)
    assert float_value_range(frames) == BYTE_RANGE
    np.testing.assert_array_equal(to_uint8(frames[0]), [[0, 1], [100, 255]])
    np.testing.assert_array_equal(to_uint8(np.array([[0.5, np.nan]], np.float32), (0.0, 1.0)), [[128, 0]])


# more values out of range -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["simulate", "--seed", "-1", "--out", "{out}"], "argument --seed: a seed is a whole number from 0"),
    (["segment", "{recording}", "--model", "{model}", "--batch-size", "0", "--out", "{out}"], "--batch-size 0 is not"),
    (["live", "--listen", "0", "--duration", "1", "--max-message-mb", "-1"], "--max-message-mb -1.0 is out of range"),
    (["live", "--listen", "0", "--duration", "1", "--stats-interval", "nan"], "--stats-interval nan is out of range"),
    (["live", "--listen", "0", "--duration", "1", "--idle-timeout=-inf"], "--idle-timeout -inf is out of range"),
])
def test_more_values_out_of_range_are_one_line_and_write_nothing(tmp_path, model, recording, capsys, argv, words):
    argv = [part.format(out=tmp_path / "out", model=model, recording=recording) for part in argv]
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse refuses a value of the wrong form itself
        status = exit.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "out").exists()
