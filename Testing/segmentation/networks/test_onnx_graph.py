"""Exported ONNX graphs resize by constant factors where the image size makes them exact, and still match PyTorch."""

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.export import onnx_bytes
from DTCSegmentationLib.networks.model_file import ModelInfo
from onnx import numpy_helper
from torch import nn


def run(data, x):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]


def test_fast_unet_resizes_by_two_with_no_shape_arithmetic_left_and_keeps_a_dynamic_batch():
    torch.manual_seed(0)
    model = build_network("fast_unet", arguments={"features": [8, 8, 16, 16]}).eval()
    data = onnx_bytes(model, ModelInfo(arguments={"features": [8, 8, 16, 16]}, input_size=(64, 96)))
    graph = onnx.load_from_string(data)
    constants = {t.name: numpy_helper.to_array(t) for t in graph.graph.initializer}
    resizes = [node for node in graph.graph.node if node.op_type == "Resize"]
    assert len(resizes) == 4 and not any(node.op_type == "Shape" for node in graph.graph.node)
    for node in resizes:
        assert len(node.input) == 3 and constants[node.input[2]].tolist() == [1.0, 1.0, 2.0, 2.0]
    for batch in (1, 3):
        x = torch.randn(batch, 1, 64, 96)
        with torch.no_grad():
            np.testing.assert_allclose(run(data, x.numpy()), model(x).numpy(), atol=1e-4)


class ThirdThenBack(nn.Module):
    """Pools by 3 and resizes back: 64 / 21 is no float32-exact factor, so the sizes must stay."""

    def forward(self, x):
        return F.interpolate(F.avg_pool2d(x, 3), size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_inexact_factors_keep_their_sizes():
    model = ThirdThenBack().eval()
    data = onnx_bytes(model, ModelInfo(input_size=(64, 96)))
    resize = next(node for node in onnx.load_from_string(data).graph.node if node.op_type == "Resize")
    assert len(resize.input) == 4 and resize.input[3]
    x = torch.randn(2, 1, 64, 96)
    np.testing.assert_allclose(run(data, x.numpy()), model(x).numpy(), atol=1e-5)
