"""The training losses of DTC (docs/method.md), each a small function on tensors.

* ``supervised``: ``bce_dice_loss`` (teacher; the student's pseudo-label term), ``soft_dice_loss``,
  ``labelled_frames_loss`` (the student's optional ground-truth term, ``student.weight_supervised``);
* ``distillation``: ``distillation_loss`` (KD from the frozen teacher);
* ``temporal_consistency``: ``temporal_consistency_loss`` (CW-TC);
* ``prototype_alignment``: ``prototype_alignment_loss`` (dual-scale prototypes, DPA);
* ``pseudo_labels``: the equivariance pseudo-labels the student's segmentation term learns from.

Shapes: logits and probabilities are ``(B, 1, H, W)``; every loss is a scalar averaged over the batch.
"""

from DTCTrainingLib.losses.distillation import distillation_loss
from DTCTrainingLib.losses.supervised import bce_dice_loss, labelled_frames_loss, soft_dice_loss
from DTCTrainingLib.losses.temporal_consistency import temporal_consistency_loss

__all__ = ["bce_dice_loss", "distillation_loss", "labelled_frames_loss", "soft_dice_loss", "temporal_consistency_loss"]
