"""Equivariance pseudo-labels through every transform, with a network that is deliberately NOT equivariant.

The stand-in's logit at pixel (i, j) is ``x + a * i + b * j``, so transforming the input, predicting and
transforming back leaves a known trace of the transform in the row and column terms; an inverse that is
missing or wrong shows up as a different expected map.
"""

import numpy as np
import pytest
import torch
from DTCTrainingLib.losses.pseudo_labels import equivariance_pseudo_labels
from torch import nn

HEIGHT, WIDTH, ROW, COLUMN = 5, 7, 0.4, -0.3


class RowColumnNet(nn.Module):
    def forward(self, x):
        rows = torch.arange(x.shape[2], dtype=x.dtype).view(1, 1, -1, 1)
        columns = torch.arange(x.shape[3], dtype=x.dtype).view(1, 1, 1, -1)
        return x + ROW * rows + COLUMN * columns


def expected(image, flip_rows, flip_columns):
    """sigmoid(x + a * i' + b * j') where i', j' are the row / column the pixel had in the transformed frame."""
    i = np.arange(HEIGHT)[:, None]
    j = np.arange(WIDTH)[None, :]
    i = HEIGHT - 1 - i if flip_rows else i
    j = WIDTH - 1 - j if flip_columns else j
    return 1 / (1 + np.exp(-(image + ROW * i + COLUMN * j)))


@pytest.fixture
def image():
    return np.random.default_rng(0).normal(size=(HEIGHT, WIDTH))


@pytest.mark.parametrize("name, flip_rows, flip_columns", [("hflip", False, True), ("vflip", True, False),
                                                            ("rot180", True, True)])
def test_each_transform_is_undone_on_the_prediction(image, name, flip_rows, flip_columns):
    labels = equivariance_pseudo_labels(RowColumnNet(), torch.from_numpy(image)[None, None], (name,))
    np.testing.assert_allclose(labels[0, 0].numpy(), expected(image, flip_rows, flip_columns), rtol=1e-6)


def test_several_transforms_are_averaged(image):
    labels = equivariance_pseudo_labels(RowColumnNet(), torch.from_numpy(image)[None, None], ("hflip", "vflip", "rot180"))
    mean = (expected(image, False, True) + expected(image, True, False) + expected(image, True, True)) / 3
    np.testing.assert_allclose(labels[0, 0].numpy(), mean, rtol=1e-6)
