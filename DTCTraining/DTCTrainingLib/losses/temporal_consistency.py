"""Confidence-weighted temporal consistency (CW-TC) between a frame and its warped predecessor."""

import torch


def temporal_consistency_loss(
    probabilities: torch.Tensor,
    warped_previous: torch.Tensor,
    confidence: torch.Tensor,
    valid: torch.Tensor = None,
    binarize: bool = True,
) -> torch.Tensor:
    """Confidence-weighted temporal consistency (CW-TC).

    ``L = 1 - mean_x( M(x) * (1 - |p_t(x) - warp(p_{t-1})(x)|) )``

    Args:
        probabilities: ``(B, 1, H, W)`` student probabilities ``p_t`` for frame t.
        warped_previous: ``(B, 1, H, W)`` probabilities of frame t-1 warped onto frame t.
            Used as a target (detached); binarised at 0.5 as the authors do when ``binarize``.
        confidence: ``(B, 1, H, W)`` photometric confidence ``M`` in [0, 1] (no gradient).
        valid: optional ``(B, 1, H, W)`` mask of pixels whose flow stays inside the frame;
            the mean is taken over valid pixels only.
    """
    target = warped_previous.detach()
    if binarize:
        target = (target > 0.5).to(probabilities.dtype)
    agreement = confidence.detach() * (1.0 - (probabilities - target).abs())
    if valid is None:
        return 1.0 - agreement.mean()
    valid = valid.to(agreement.dtype)
    return 1.0 - (agreement * valid).sum() / valid.sum().clamp_min(1.0)
