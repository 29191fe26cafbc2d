"""The supervised segmentation loss of the teacher and of the student's pseudo-label term.

Shapes: logits and probabilities are ``(B, 1, H, W)``; every loss is a scalar averaged over the batch.
"""

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss


def soft_dice_loss(probabilities: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """``1 - soft Dice`` per sample, averaged over the batch (MONAI's DiceLoss).

    Args:
        probabilities: ``(B, 1, H, W)`` in [0, 1].
        target: ``(B, 1, H, W)`` in [0, 1]; may be soft (pseudo-labels).
        smooth: added to numerator and denominator so empty masks give Dice 1, not 0/0.
    """
    return DiceLoss(smooth_nr=smooth, smooth_dr=smooth, reduction="mean")(probabilities, target)


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 0.5,
                  hard_dice_target: bool = False) -> torch.Tensor:
    """The supervised loss of the paper: ``bce_weight * BCE(logits, target) + (1 - soft Dice)``.

    Args:
        logits: ``(B, 1, H, W)`` raw network outputs.
        target: ``(B, 1, H, W)`` labels or soft targets in [0, 1].
        hard_dice_target: compute the Dice term against ``target > 0.5`` (BCE keeps the soft
            target).  Soft Dice against a soft target rewards raising the prediction wherever
            the target exceeds about half the current Dice, so self-training on its own soft
            pseudo-labels grows the mask epoch after epoch; a hard Dice target does not.
    """
    target = target.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    dice_target = (target > 0.5).to(logits.dtype) if hard_dice_target else target
    return bce_weight * bce + soft_dice_loss(torch.sigmoid(logits), dice_target)


def labelled_frames_loss(logits: torch.Tensor, masks: torch.Tensor, labelled: torch.Tensor,
                         bce_weight: float = 0.5) -> torch.Tensor:
    """:func:`bce_dice_loss` against the ground truth over the frames that have a mask only.

    Args:
        logits: ``(N, 1, H, W)`` raw network outputs (e.g. a batch of clips flattened to frames).
        masks: ``(N, 1, H, W)`` ground-truth masks in {0, 1}; unlabelled frames' entries are ignored.
        labelled: ``(N,)`` bool, whether each frame has a mask.  An unlabelled frame has no
            ground truth, not an empty one, so it is left out rather than scored against zeros.

    Returns a zero scalar (keeping the graph) when no frame is labelled.
    """
    labelled = labelled.to(device=logits.device, dtype=torch.bool)
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    return bce_dice_loss(logits[labelled], masks.to(logits.device)[labelled], bce_weight)
