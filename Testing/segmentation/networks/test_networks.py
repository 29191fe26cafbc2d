"""Every registered network builds, trains one step, exposes its feature taps and exports."""

import numpy as np
import pytest
import torch
from DTCSegmentationLib.networks import NETWORKS, FeatureTaps, NetworkError, build_network, network_entry
from DTCSegmentationLib.networks.export import onnx_bytes, torchscript_module
from DTCSegmentationLib.networks.model_file import ModelInfo

SMALL = {"fast_unet": {"features": [8, 8, 16, 16]}, "fast_unet_ds": {"features": [8, 8, 16, 16]},
         "unet": {"features": [8, 8, 8, 16, 16, 8]},
         "unet_plus_plus": {"features": [8, 8, 8, 16, 16, 8]}}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("channels", [1, 3])
def test_builds_trains_one_step_and_taps(name, channels):
    torch.manual_seed(0)
    model = build_network(name, in_channels=channels, arguments=SMALL[name]).train()
    entry = network_entry(name)
    images = torch.randn(2, channels, 64, 96)
    target = torch.zeros(2, 1, 64, 96)
    target[:, :, 20:40, 30:60] = 1
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with FeatureTaps(model, {"local": entry.local_tap, "global": entry.global_tap}) as taps:
        logits = model(images)
        assert logits.shape == (2, 1, 64, 96)
        local, bottleneck = taps.features["local"], taps.features["global"]
    assert local.shape[0] == 2 and local.shape[-2] >= bottleneck.shape[-2] * 4
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target) + local.mean() * 0 + bottleneck.mean() * 0
    before = [p.detach().clone() for p in model.parameters()]
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert not model._forward_hooks and all(not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_exports_agree_with_eager(name):
    import onnxruntime as ort

    model = build_network(name, arguments=SMALL[name]).eval()
    info = ModelInfo(architecture=name, arguments=SMALL[name], input_size=(64, 96))
    x = torch.randn(2, 1, 64, 96)
    with torch.no_grad():
        expected = model(x).numpy()
    scripted = torchscript_module(model, info)
    np.testing.assert_allclose(scripted(x).detach().numpy(), expected, atol=1e-4)
    session = ort.InferenceSession(onnx_bytes(model, info), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"image": x.numpy()})[0], expected, atol=1e-4)


def test_monai_networks_by_name():
    model = build_network("monai:SegResNet", arguments={"init_filters": 8})
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    with pytest.raises(NetworkError, match="no network"):
        build_network("monai:NoSuchNet")


def test_unknown_names_and_arguments_are_explained():
    with pytest.raises(NetworkError, match="fast_unet"):
        build_network("resnet9000")
    with pytest.raises(NetworkError, match="does not accept"):
        build_network("fast_unet", arguments={"depth": 3})
    with pytest.raises(NetworkError, match="no layer"):
        FeatureTaps(build_network("fast_unet"), {"local": "decoder.9"})


def test_fast_unet_stays_within_its_compute_budget():
    from torch.utils.flop_counter import FlopCounterMode

    model = build_network("fast_unet").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, 256, 448))
    assert counter.get_total_flops() / 1e9 <= 3.0
