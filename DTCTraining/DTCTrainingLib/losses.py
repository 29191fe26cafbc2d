"""The pixel-wise training losses of DTC (METHOD.md), each a small function on tensors.

Shapes: logits and probabilities are ``(B, 1, H, W)``; confidences ``(B, 1, H, W)`` in [0, 1].
Every loss returns a scalar tensor averaged over the batch.
"""

from monai.losses import DiceLoss
import torch
import torch.nn.functional as F


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


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """Temperature-scaled distillation: ``T^2 * MSE(sigmoid(s / T), sigmoid(t / T))``.

    The teacher is a fixed target: no gradient flows into ``teacher_logits``.
    """
    soft_student = torch.sigmoid(student_logits / temperature)
    soft_teacher = torch.sigmoid(teacher_logits.detach() / temperature)
    return F.mse_loss(soft_student, soft_teacher) * temperature**2


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
