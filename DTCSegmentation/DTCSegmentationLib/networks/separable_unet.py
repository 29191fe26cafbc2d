"""``fast_unet_ds``: fast_unet with depthwise-separable (MobileNet-style) blocks, for fewer operations.

Every 3x3 stage after the first convolution becomes a depthwise 3x3 convolution (one filter
per channel, carrying the stride) followed by a pointwise 1x1 convolution that mixes
channels, each with batch norm and ReLU (MobileNet v1).  A 3x3 convolution from ``C_in`` to
``C_out`` channels costs ``9 C_in C_out`` multiply-adds per pixel, the pair ``9 C_in + C_in C_out``,
so the saving grows with the width.  The first convolution stays a plain one: with one input
channel it has nothing to separate.  Layout, taps (``decoder.0``, ``bottleneck``) and outputs
are those of :class:`~DTCSegmentationLib.networks.fast_unet.FastUNet`.
"""

from typing import Sequence

from torch import nn

from DTCSegmentationLib.networks.fast_unet import FastUNet


def separable_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 (with the stride), batch norm, ReLU; pointwise 1x1, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False),
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def separable_unet(in_channels: int = 1, out_channels: int = 1, features: Sequence[int] = (16, 32, 64, 128)) -> FastUNet:
    """A :class:`FastUNet` built from :func:`separable_block`."""
    return FastUNet(in_channels, out_channels, tuple(features), block=separable_block)
