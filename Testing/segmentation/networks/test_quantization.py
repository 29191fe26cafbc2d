"""int8 quantization: calibrated on recordings only, checked against float32 on held-out frames, a normal model file."""

import json
import re

import numpy as np
import onnx
import pytest
import torch
from DTCSegmentationLib.inference.backends import EagerBackend
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.export import export_onnx, read_onnx
from DTCSegmentationLib.networks.model_file import ModelInfo
from DTCSegmentationLib.networks.quantization import (
    QuantizationError,
    calibration_set,
    export_int8_onnx,
    mask_dice,
    quantize_model,
    sample_recording,
)
from DTCSegmentationLib.sequence_io import write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate

ARGS = {"features": [8, 8, 16, 16]}
SIZE = (64, 96)
FRAMES = 24


def dice(a, b):
    a, b = a.astype(bool), b.astype(bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * (a & b).sum() / total


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two simulated sweeps at the model's input size (so fitting them to it changes nothing)."""
    folder = tmp_path_factory.mktemp("recordings")
    paths = []
    for seed in (1, 2):
        frames = simulate(SimulationConfig(num_frames=FRAMES, height=SIZE[0], width=SIZE[1], seed=seed)).images.frames
        paths.append(write_sequence(folder / f"sweep{seed}.seq.nrrd",
                                    FrameSequence(frames, FrameGeometry(), np.arange(FRAMES) * 0.05)))
    return paths


def tiny_model(recording, outlier_channel=False):
    """An untrained fast_unet whose threshold is its median probability on a frame, so masks cover about half of it.

    ``outlier_channel``: one feature map of the last decoder stage is a constant 1000 that the head
    subtracts again - the same masks in float32, but one per-tensor int8 range must then span 0-1000
    and the other channels of that tensor collapse onto a few steps: the classic int8 failure.
    """
    torch.manual_seed(1)
    model = build_network("fast_unet", arguments=ARGS).eval()
    if outlier_channel:
        with torch.no_grad():
            norm = model.decoder[0].fuse[1]
            norm.weight[0], norm.bias[0] = 0.0, 1000.0
            model.head.bias -= model.head.weight[:, 0, 0, 0] * 1000.0
    frame = read(recording)[0]
    probe = Segmenter(EagerBackend(model, torch.device("cpu")), ModelInfo(arguments=ARGS, input_size=SIZE))
    threshold = float(np.median(probe.probabilities([frame])[0]))
    return model, ModelInfo(arguments=ARGS, input_size=SIZE, threshold=threshold, metrics={"val_dice": 0.5})


def read(path):
    from DTCSegmentationLib.sequence_io import read_sequence

    return read_sequence(path).frames


@pytest.fixture(scope="module")
def exported(recordings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("int8")
    model, info = tiny_model(recordings[0])
    path, quantized = export_int8_onnx(model, info, folder / "tiny_int8.onnx", recordings, calibration_frames=FRAMES,
                                       agreement_frames=FRAMES)
    return model, info, path, quantized, export_onnx(model, info, folder / "tiny_fp32.onnx")


def test_int8_file_loads_segments_and_is_really_int8(exported, recordings):
    model, info, path, quantized, fp32_path = exported
    graph = onnx.load(str(path))
    operators = {node.op_type for node in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= operators
    int8_weights = [t for t in graph.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(int8_weights) >= 10  # every 3x3 convolution but the first, and the head
    readers = [node.op_type for node in graph.graph.node if "image" in node.input]
    assert "Conv" in readers and "QuantizeLinear" not in readers  # the image itself is not rounded to 8 bits
    frames = read(recordings[1])
    int8 = Segmenter.from_file(path)
    results = int8.segment(list(frames[:4]))
    assert [r.mask.shape for r in results] == [SIZE] * 4 and all(r.mask.any() for r in results)
    fp32 = Segmenter.from_file(fp32_path)
    assert np.mean([dice(a.mask, b.mask) for a, b in zip(results, fp32.segment(list(frames[:4])))]) > 0.95


def test_stored_agreement_is_the_dice_of_fp32_and_int8_masks_on_frames_not_used_for_calibration(exported, recordings):
    _, _, path, quantized, fp32_path = exported
    fp32, int8 = Segmenter.from_file(fp32_path), Segmenter.from_file(path)
    # Each 24-frame recording is sampled whole: even frames calibrate, odd frames are held out.
    held_out = [frame for recording in recordings for frame in read(recording)[1::2]]
    expected = np.mean([dice(a.mask, b.mask) for a, b in zip(fp32.segment(held_out), int8.segment(held_out))])
    q = quantized.quantization
    assert q["agreement_dice"] == pytest.approx(expected, abs=1e-5)
    assert q["agreement_frames"] == FRAMES and q["calibration_frames"] == FRAMES and q["calibration_recordings"] == 2
    assert 0.98 <= q["agreement_dice"] < 1.0  # a real measurement: int8 changes some pixels


def test_metadata_round_trips_and_float_files_stay_as_before(exported):
    _, info, path, quantized, fp32_path = exported
    _, loaded = read_onnx(path)
    assert loaded == quantized and loaded.quantization["type"] == "int8-static-qdq"
    assert (loaded.threshold, loaded.input_size, loaded.metrics) == (info.threshold, SIZE, {"val_dice": 0.5})
    assert loaded.quantization["min_agreement"] == 0.98
    assert ModelInfo.from_json(quantized.to_json()) == quantized
    _, plain = read_onnx(fp32_path)
    assert plain.quantization == {} and "quantization" not in json.loads(plain.to_json())


def test_refused_below_the_required_agreement_and_nothing_is_written(exported, recordings, tmp_path):
    model, info, _, quantized, _ = exported
    measured = quantized.quantization["agreement_dice"]
    for threshold in (measured + 2e-4, 1.01):
        with pytest.raises(QuantizationError, match=rf"mean Dice 0\.9\d+ .*below the required {re.escape(str(threshold))}"):
            export_int8_onnx(model, info, tmp_path / "m.onnx", recordings, min_agreement=threshold,
                             calibration_frames=FRAMES, agreement_frames=FRAMES)
        assert list(tmp_path.iterdir()) == []
    export_int8_onnx(model, info, tmp_path / "m.onnx", recordings, min_agreement=measured - 2e-5,
                     calibration_frames=FRAMES, agreement_frames=FRAMES)
    assert (tmp_path / "m.onnx").is_file()


def test_an_activation_outlier_that_breaks_int8_is_caught(recordings, tmp_path):
    model, info = tiny_model(recordings[0], outlier_channel=True)
    with pytest.raises(QuantizationError, match="below the required 0.98") as refused:
        export_int8_onnx(model, info, tmp_path / "m.onnx", recordings, calibration_frames=FRAMES, agreement_frames=FRAMES)
    assert list(tmp_path.iterdir()) == []
    # the fix names the option that made the shipped model's export pass (100 -> 400 frames)
    assert f"Calibrate on more frames (--calibration-frames; {FRAMES} were used)" in str(refused.value)


def test_calibration_uses_the_recordings_frames_normalised_as_the_model_expects(recordings, monkeypatch):
    import onnxruntime.quantization as ort_quantization

    real = ort_quantization.quantize_static
    seen = []

    def spy(model_input, model_output, reader, **options):
        reader.set_range(0, len(reader))
        seen.extend(batch["image"] for batch in iter(reader.get_next, None))
        reader.set_range(0, len(reader))
        return real(model_input, model_output, reader, **options)

    monkeypatch.setattr(ort_quantization, "quantize_static", spy)
    model, info = tiny_model(recordings[0])
    quantize_model(model, info, recordings[:1], calibration_frames=FRAMES, agreement_frames=FRAMES, min_agreement=0)
    frames = read(recordings[0]).astype(np.float32)
    expected = (frames[0::2] / 255.0 - 0.5) / 0.25  # the model's normalisation, by hand
    assert len(seen) == FRAMES // 2 and all(batch.shape == (1, 1) + SIZE for batch in seen)
    np.testing.assert_allclose(np.concatenate(seen)[:, 0], expected, atol=1e-5)


def test_frames_are_sampled_evenly_over_a_whole_recording_and_split_without_overlap(tmp_path):
    count = 150
    frames = np.repeat(np.arange(count, dtype=np.uint8)[:, None, None], 16 * 24, axis=1).reshape(count, 16, 24)
    path = write_sequence(tmp_path / "ramp.seq.nrrd", FrameSequence(frames, FrameGeometry(), np.arange(count) * 0.05))
    info = ModelInfo(arguments=ARGS, input_size=(16, 24))
    indices = [int(frame[0, 0]) for frame in sample_recording(path, 10, info)]
    assert len(indices) == 10 and indices[0] <= 15 and indices[-1] >= count - 16
    assert max(np.diff(indices)) <= 2 * count / 10 and min(np.diff(indices)) >= 1
    split = calibration_set([path], info, calibration_frames=8, agreement_frames=8)
    calibration = {int(f[0, 0]) for f in split.calibration}
    held_out = {int(f[0, 0]) for f in split.held_out}
    assert len(calibration) == 8 and len(held_out) == 8 and not calibration & held_out
    assert min(held_out) < count / 4 and max(held_out) > 3 * count / 4


def test_needs_enough_frames_of_real_recordings(recordings, tmp_path):
    model, info = tiny_model(recordings[0])
    with pytest.raises(QuantizationError, match="needs recordings"):
        quantize_model(model, info, [])
    short = write_sequence(tmp_path / "short.seq.nrrd",
                           FrameSequence(read(recordings[0])[:6], FrameGeometry(), np.arange(6) * 0.05))
    with pytest.raises(QuantizationError, match="hold 6 frames"):
        quantize_model(model, info, [short], calibration_frames=8, agreement_frames=8)
    with pytest.raises(QuantizationError, match=".onnx"):
        export_int8_onnx(model, info, tmp_path / "m.safetensors", recordings)
    quantized = ModelInfo.from_json(info.to_json())
    quantized.quantization = {"type": "int8-static-qdq"}
    with pytest.raises(QuantizationError, match="already quantized"):
        quantize_model(model, quantized, recordings)


def test_mask_agreement_counts_frames_where_both_masks_are_empty_as_agreeing():
    empty, block = np.zeros((4, 6), np.uint8), np.zeros((4, 6), np.uint8)
    block[1:3, 1:4] = 1  # 6 pixels
    shifted = np.roll(block, 1, axis=1)  # 4 of them shared
    assert mask_dice(empty, empty) == 1.0 and mask_dice(block, empty) == 0.0
    assert mask_dice(block, shifted) == pytest.approx(2 * 4 / 12)


def test_onnx_files_follow_the_inference_thread_count_and_do_not_spin(exported):
    """`dtc live --threads N` sets torch's count; an .onnx model file (int8 or not) must use the same."""
    path = exported[2]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        options = Segmenter.from_file(path).backend.session.get_session_options()
    finally:
        torch.set_num_threads(before)
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_the_description_users_see_states_the_agreement_stored_in_the_int8_file(exported):
    from DTCSegmentationLib.networks.model_description import describe_model_file

    _, _, path, quantized, fp32_path = exported
    q = quantized.quantization
    text = describe_model_file(path)
    assert f"Dice {q['agreement_dice']:.3f} (lowest frame {q['agreement_dice_min']:.3f}) on {FRAMES} held-out" in text
    assert "int8" in text and "float32 at" in text and "input 64 x 96" in text and "validation Dice 0.500" in text
    plain = describe_model_file(fp32_path)
    assert "int8" not in plain and "| float32 |" in plain
