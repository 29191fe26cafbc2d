"""Dual-scale prototype alignment (DPA) between neighbouring frames.

A prototype is the masked average of a feature map over a region.  The *local* term
aligns foreground prototypes of the last decoder features (flow-warped from t-1 to t);
the *global* term aligns background prototypes of the bottleneck features (no flow:
the bottleneck is too coarse for pixel motion to matter).  The two are mixed by the
foreground fraction, so small glands lean on the global context and large ones on
their own boundary features.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from DTCSegmentationLib.temporal.flow import resize_flow, warp_tensor


def adaptive_threshold(probabilities: torch.Tensor, quantile: float = 0.7) -> torch.Tensor:
    """Foreground threshold: the ``quantile`` of each sample's probabilities, averaged over the batch.

    Args:
        probabilities: ``(B, 1, H, W)``.

    Returns:
        A scalar tensor (no gradient).
    """
    flat = probabilities.detach().flatten(1).float()
    # kthvalue is a selection, not a full sort like torch.quantile: the same value for a
    # quantile that falls on a sample, at a fraction of the cost on 10^5 pixels per frame.
    k = max(1, min(flat.shape[1], int(round(quantile * (flat.shape[1] - 1))) + 1))
    return flat.kthvalue(k, dim=1).values.mean()


def masked_prototype(features: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Masked average pooling: ``(B, C, h, w)`` features and ``(B, 1, h, w)`` weights -> ``(B, C)``."""
    return (features * mask).sum(dim=(2, 3)) / (mask.sum(dim=(2, 3)) + eps)


def prototype_alignment_loss(
    local_previous: torch.Tensor,
    local_current: torch.Tensor,
    global_previous: torch.Tensor,
    global_current: torch.Tensor,
    prob_previous: torch.Tensor,
    prob_current: torch.Tensor,
    flow: torch.Tensor,
    quantile: float = 0.7,
    threshold: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``L_proto = (1 - f) * L_loc + f * L_glob`` for one pair of frames (t-1, t).

    Args:
        local_previous, local_current: ``(B, C, h, w)`` last decoder features of t-1 and t.
        global_previous, global_current: ``(B, C', h', w')`` bottleneck features of t-1 and t.
        prob_previous, prob_current: ``(B, 1, H, W)`` probabilities of t-1 and t.
        flow: ``(B, 2, H, W)`` backward flow from t to t-1 in pixels of the ``(H, W)`` grid.
        quantile: probability quantile used as the adaptive foreground threshold.
        threshold: a fixed threshold instead of the adaptive one.

    Returns:
        Scalar loss; 0 when the prototypes of both frames point the same way.
    """
    if threshold is None:
        threshold = adaptive_threshold(prob_current, quantile)
    warped_prob_previous = warp_tensor(prob_previous.detach(), flow)
    foreground = ((prob_current.detach() > threshold) & (warped_prob_previous > threshold)).float()

    local_size = local_current.shape[-2:]
    local_foreground = F.interpolate(foreground, size=local_size, mode="nearest")
    warped_local_previous = warp_tensor(local_previous, resize_flow(flow, local_size))
    loss_local = 1.0 - F.cosine_similarity(
        masked_prototype(warped_local_previous, local_foreground), masked_prototype(local_current, local_foreground), dim=1
    )

    global_background = F.interpolate(1.0 - foreground, size=global_current.shape[-2:], mode="area")
    loss_global = 1.0 - F.cosine_similarity(
        masked_prototype(global_previous, global_background), masked_prototype(global_current, global_background), dim=1
    )

    # A frame pair with no shared foreground (gland out of view) or no background has
    # nothing to align at that scale: the term is 0, not the 1 that zero prototypes give.
    loss_local = torch.where(local_foreground.sum(dim=(1, 2, 3)) > 0, loss_local, torch.zeros_like(loss_local))
    loss_global = torch.where(global_background.sum(dim=(1, 2, 3)) > 0, loss_global, torch.zeros_like(loss_global))
    fraction = foreground.mean(dim=(1, 2, 3))
    return ((1.0 - fraction) * loss_local + fraction * loss_global).mean()
