"""Equivariance pseudo-labels: the student's own prediction on transformed frames, transformed back.

Segmentation is equivariant to flips and 180-degree rotations, so the prediction on a
transformed frame, transformed back, is a second opinion on the same frame.  Used as a
soft target it asks the student to agree with itself, and it needs no video labels.
"""

from typing import Callable, Dict, Sequence, Tuple

import torch
from torch import nn

Transform = Callable[[torch.Tensor], torch.Tensor]

# name -> (transform, inverse) on (B, C, H, W) tensors; each is exact (no interpolation).
GEOMETRIC_TRANSFORMS: Dict[str, Tuple[Transform, Transform]] = {
    "hflip": (lambda x: torch.flip(x, dims=(3,)), lambda x: torch.flip(x, dims=(3,))),
    "vflip": (lambda x: torch.flip(x, dims=(2,)), lambda x: torch.flip(x, dims=(2,))),
    "rot180": (lambda x: torch.flip(x, dims=(2, 3)), lambda x: torch.flip(x, dims=(2, 3))),
}


@torch.no_grad()
def equivariance_pseudo_labels(model: nn.Module, images: torch.Tensor, transforms: Sequence[str] = ("hflip",)) -> torch.Tensor:
    """Soft pseudo-labels ``(B, 1, H, W)`` in [0, 1] for ``images`` ``(B, C, H, W)``.

    The model runs in eval mode (batch-norm running statistics, no dropout) and without
    gradient; every module's train/eval mode is restored afterwards.  With several transforms the
    back-transformed probabilities are averaged.
    """
    unknown = [name for name in transforms if name not in GEOMETRIC_TRANSFORMS]
    if unknown or not transforms:
        raise ValueError(f"unknown pseudo-label transforms {unknown}; choose from {sorted(GEOMETRIC_TRANSFORMS)}")
    # Restore each module's own mode afterwards (a student may keep its batch norm frozen in eval mode).
    modes = [module.training for module in model.modules()]
    model.eval()
    try:
        total = None
        for name in transforms:
            forward, inverse = GEOMETRIC_TRANSFORMS[name]
            probabilities = inverse(torch.sigmoid(model(forward(images)).float()))
            total = probabilities if total is None else total + probabilities
        return total / len(transforms)
    finally:
        for module, mode in zip(model.modules(), modes):
            module.training = mode
