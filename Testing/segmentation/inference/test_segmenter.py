"""The segmenter maps masks back onto each frame and gives the same masks on every back end."""

import numpy as np
import pytest
import torch
from DTCSegmentationLib.inference.devices import DeviceError, resolve_device
from DTCSegmentationLib.inference.postprocessing import fill_holes, keep_largest_component
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.export import export_onnx, export_torchscript
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model

ARGS = {"features": [8, 8, 16, 16]}


def brightness_backend(batch):
    """A stand-in network whose logits follow the pixel brightness: bright = prostate."""
    return 5.0 * batch[:, :1]


def frame_with_box(height, width, box, dtype=np.uint8, rgb=False):
    top, left, bottom, right = box
    high = 255 if dtype == np.uint8 else 65535
    frame = np.zeros((height, width), dtype)
    frame[top:bottom, left:right] = high
    return np.repeat(frame[..., None], 3, axis=2) if rgb else frame


@pytest.mark.parametrize("mode", ["resize", "letterbox"])
@pytest.mark.parametrize("dtype, rgb", [(np.uint8, False), (np.uint16, False), (np.uint8, True)])
def test_mask_comes_back_in_place_on_the_original_frame(mode, dtype, rgb):
    info = ModelInfo(arguments=ARGS, input_size=(64, 96), resize_mode=mode)
    segmenter = Segmenter(brightness_backend, info, largest_component=False, fill_holes=False)
    box = (30, 100, 90, 200)
    frame = frame_with_box(120, 300, box, dtype, rgb)  # aspect 2.5, model aspect 1.5
    result = segmenter.segment_frame(frame)
    assert result.mask.shape == (120, 300) and result.probability.shape == (120, 300)
    expected = frame_with_box(120, 300, box) > 0
    agreement = (result.mask.astype(bool) == expected).mean()
    assert agreement > 0.99
    assert result.mask[35:85, 105:195].all() and not result.mask[:, :90].any()


def test_frames_of_different_sizes_in_one_batch():
    info = ModelInfo(arguments=ARGS, input_size=(64, 96), resize_mode="letterbox")
    segmenter = Segmenter(brightness_backend, info)
    results = segmenter.segment([frame_with_box(50, 50, (10, 10, 40, 40)), frame_with_box(80, 200, (20, 50, 60, 150))])
    assert [r.mask.shape for r in results] == [(50, 50), (80, 200)]
    assert results[1].mask[25:55, 55:145].all()


def test_stream_yields_every_frame_in_order_in_batches():
    calls = []

    def counting_backend(batch):
        calls.append(len(batch))
        return brightness_backend(batch)

    segmenter = Segmenter(counting_backend, ModelInfo(arguments=ARGS, input_size=(32, 32)), batch_size=4)
    frames = [frame_with_box(32, 32, (0, 0, 32, 2 + 3 * i)) for i in range(10)]
    areas = [r.mask.sum() for r in segmenter.segment_stream(iter(frames))]
    assert calls == [4, 4, 2] and areas == sorted(areas) and len(areas) == 10


def test_postprocessing_keeps_the_gland_and_fills_the_urethra():
    mask = np.zeros((40, 40), np.uint8)
    mask[5:30, 5:30] = 1
    mask[14:18, 14:18] = 0  # a hole (urethra)
    mask[35:38, 35:38] = 1  # a speck
    cleaned = fill_holes(keep_largest_component(mask))
    assert cleaned[15, 15] == 1 and cleaned[36, 36] == 0 and cleaned.sum() == 25 * 25


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    model = build_network("fast_unet", arguments=ARGS).eval()
    with torch.no_grad():  # make the random network confident so masks do not sit on the threshold
        model.head.bias.fill_(0.0)
        model.head.weight.mul_(20.0)
    info = ModelInfo(arguments=ARGS, input_size=(64, 96))
    return {
        "safetensors": save_model(folder / "m.safetensors", model, info),
        "onnx": export_onnx(model, info, folder / "m.onnx"),
        "torchscript": export_torchscript(model, info, folder / "m.pt"),
    }


def test_all_back_ends_and_exported_files_give_the_same_masks(model_files):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (100, 130), dtype=np.uint8) for _ in range(3)]
    raw = dict(largest_component=False, fill_holes=False)
    reference = Segmenter.from_file(model_files["safetensors"], device="cpu", backend="eager", **raw)
    expected = reference.segment(frames)
    candidates = [Segmenter.from_file(model_files["safetensors"], device="cpu", backend=name, **raw)
                  for name in ("torchscript", "onnx")]
    candidates += [Segmenter.from_file(model_files[kind], device="cpu", **raw) for kind in ("onnx", "torchscript")]
    for segmenter in candidates:
        for got, want in zip(segmenter.segment(frames), expected):
            np.testing.assert_allclose(got.probability, want.probability, atol=1e-4)
            decided = np.abs(want.probability - 0.5) > 1e-3
            np.testing.assert_array_equal(got.mask[decided], want.mask[decided])
    assert 0.05 < np.mean([r.mask.mean() for r in expected]) < 0.95  # a real mix of both classes


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_missing_gpu_gives_one_clear_message(model_files):
    with pytest.raises(DeviceError, match="no usable CUDA GPU") as error:
        Segmenter.from_file(model_files["safetensors"], device="cuda")
    assert "--device cpu" in str(error.value)
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")
    assert resolve_device("auto").type in ("cpu", "mps")
