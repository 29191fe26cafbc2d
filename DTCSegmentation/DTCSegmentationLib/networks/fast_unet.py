"""A small U-Net for real-time segmentation on laptop CPUs.

The stem convolution has stride 2, so no feature map is ever built at full input
resolution (the most expensive level of a plain U-Net); logits are predicted at half
resolution and upsampled bilinearly, which costs nothing in accuracy for a smooth organ
outline.  With the default width (16) it needs about 2 GFLOPs at 256 x 448.
"""

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DownStage(nn.Sequential):
    """Halve the resolution, then refine: ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)``."""

    def __init__(self, in_channels: int, out_channels: int, block: Callable[..., nn.Module] = conv_block):
        super().__init__(block(in_channels, out_channels, stride=2), block(out_channels, out_channels))


class UpStage(nn.Module):
    """Upsample to the skip's size, concatenate, fuse: ``(B, C, h, w), (B, S, 2h, 2w) -> (B, O, 2h, 2w)``."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, block: Callable[..., nn.Module] = conv_block):
        super().__init__()
        self.fuse = block(in_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([x, skip], dim=1))


class FastUNet(nn.Module):
    """Lightweight real-time U-Net.

    Args:
        in_channels: 1 (gray) or 3 (RGB).
        out_channels: output logit channels (1 for the prostate).
        features: channels at 1/2, 1/4, 1/8 and 1/16 of the input resolution.
        block: ``block(in, out, stride=1)`` for every 3x3 stage after the first convolution
            (:func:`conv_block`; the depthwise-separable variant is in :mod:`.separable_unet`).

    Input ``(B, C, H, W)`` with H and W multiples of 16; output logits ``(B, out, H, W)``.
    Feature taps: ``decoder.0`` (last decoder features, 1/2 resolution) and ``bottleneck``.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, features: Sequence[int] = (16, 32, 64, 128),
                 block: Callable[..., nn.Module] = conv_block):
        super().__init__()
        f0, f1, f2, f3 = features
        self.stem = nn.Sequential(conv_block(in_channels, f0, stride=2), block(f0, f0))
        self.encoder = nn.ModuleList([DownStage(f0, f1, block), DownStage(f1, f2, block)])
        self.bottleneck = DownStage(f2, f3, block)
        # decoder.2 runs first (deepest); decoder.0 produces the last features before the head.
        self.decoder = nn.ModuleList([UpStage(f1, f0, f0, block), UpStage(f2, f1, f1, block), UpStage(f3, f2, f2, block)])
        self.head = nn.Conv2d(f0, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        skips = [self.stem(x)]
        for stage in self.encoder:
            skips.append(stage(skips[-1]))
        y = self.bottleneck(skips[-1])
        for stage, skip in zip(reversed(self.decoder), reversed(skips)):
            y = stage(y, skip)
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)
