"""Model files whose output is known in advance, so command outcomes can be written down by hand.

``pixel_model``: a TorchScript model file (the format ``dtc segment`` and ``Segmenter.from_file`` accept
for deployment) whose probability at each pixel is the pixel's own 8-bit value / 255.  A frame drawn
with chosen intensities then gives a chosen probability map, mask and threshold behaviour.
"""

import torch
from DTCSegmentationLib.networks.export import export_torchscript
from DTCSegmentationLib.networks.model_file import ModelInfo
from torch import nn


class PixelProbability(nn.Module):
    """logit(x) of the input x = pixel / 255: sigmoid gives the pixel value back."""

    def forward(self, x):
        return torch.logit(x.clamp(1e-6, 1 - 1e-6))


def pixel_model(path, size):
    """Write the pixel model for frames of ``size`` = (height, width) (no resizing) to ``path`` (``.pt``)."""
    info = ModelInfo(input_size=tuple(size), normalization={"scale": 1 / 255.0, "mean": 0.0, "std": 1.0})
    return export_torchscript(PixelProbability(), info, path)
