"""fast_unet_ds: the same network layout as fast_unet with depthwise-separable blocks, at a fraction of the operations."""

import torch
from DTCSegmentationLib.networks import build_network
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def gflops(model):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.zeros(1, 1, 256, 448))
    return counter.get_total_flops() / 1e9


def test_every_3x3_convolution_but_the_first_is_depthwise_and_the_cost_is_under_half():
    lean, plain = build_network("fast_unet_ds"), build_network("fast_unet")
    convs = [m for m in lean.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    plain_convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert convs[0].in_channels == 1 and convs[0].groups == 1 and len(convs) == len(plain_convs) == 11
    assert all(c.groups == c.in_channels == c.out_channels for c in convs[1:])
    assert gflops(lean) < 0.5 * gflops(plain)
    assert sum(p.numel() for p in lean.parameters()) < sum(p.numel() for p in plain.parameters())


def test_same_layout_and_taps_as_fast_unet():
    lean, plain = build_network("fast_unet_ds"), build_network("fast_unet")
    stages = ("stem", "encoder.0", "encoder.1", "bottleneck", "decoder.0", "decoder.1", "decoder.2", "head")
    assert all(dict(lean.named_modules()).get(name) is not None for name in stages)
    x = torch.zeros(2, 1, 64, 96)
    assert lean.eval()(x).shape == plain.eval()(x).shape == (2, 1, 64, 96)
