"""The losses' values on tiny tensors, written out by hand from their formulas (docs/method.md, eq. 1-3)."""

import numpy as np
import pytest
import torch
from DTCTrainingLib.losses import (
    bce_dice_loss,
    distillation_loss,
    labelled_frames_loss,
    soft_dice_loss,
    temporal_consistency_loss,
)

LOGITS = np.array([[[[2.0, -1.0], [0.5, -3.0]]], [[[-0.2, 1.5], [0.0, 4.0]]]])
TARGET = np.array([[[[1.0, 0.0], [0.5, 0.2]]], [[[0.0, 0.9], [0.5, 1.0]]]])  # soft, with values exactly 0.5


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def soft_dice_by_hand(p, t):
    """1 - (2 sum(p t) + 1) / (sum p + sum t + 1) per sample, averaged (smoothing 1 on both sides)."""
    return np.mean([1 - (2 * (a * b).sum() + 1) / (a.sum() + b.sum() + 1) for a, b in zip(p, t)])


def bce_by_hand(logits, target):
    return np.mean(np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits))))


@pytest.mark.parametrize("hard", [False, True])
def test_bce_dice_value(hard):
    dice_target = (TARGET > 0.5).astype(float) if hard else TARGET  # 0.5 itself is background
    expected = 0.5 * bce_by_hand(LOGITS, TARGET) + soft_dice_by_hand(sigmoid(LOGITS), dice_target)
    got = bce_dice_loss(torch.tensor(LOGITS, dtype=torch.float32), torch.tensor(TARGET, dtype=torch.float32),
                        hard_dice_target=hard)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_ground_truth_term_scores_the_labelled_frames_only():
    # Three frames: two labelled with binary masks, the middle one unlabelled with an all-zero mask,
    # which is what "no mask" looks like in a clip batch; scoring it as empty would change the value.
    logits = np.array([LOGITS[0], [[[3.0, 2.5], [1.0, 2.0]]], LOGITS[1]])  # the middle frame predicts foreground
    masks = np.array([[[[1.0, 0.0], [1.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]], [[[0.0, 1.0], [0.0, 1.0]]]])
    labelled = [True, False, True]
    kept_logits, kept_masks = logits[[0, 2]], masks[[0, 2]]
    expected = 0.3 * bce_by_hand(kept_logits, kept_masks) + soft_dice_by_hand(sigmoid(kept_logits), kept_masks)
    as_empty = 0.3 * bce_by_hand(logits, masks) + soft_dice_by_hand(sigmoid(logits), masks)
    assert abs(expected - as_empty) > 0.05  # counting the unlabelled frame would be seen
    got = labelled_frames_loss(torch.tensor(logits, dtype=torch.float32), torch.tensor(masks, dtype=torch.float32),
                               torch.tensor(labelled), bce_weight=0.3)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_ground_truth_term_without_labelled_frames_is_zero_and_keeps_the_graph():
    logits = torch.tensor(LOGITS, dtype=torch.float32, requires_grad=True)
    got = labelled_frames_loss(logits, torch.ones_like(logits), torch.tensor([False, False]))
    assert got.item() == 0.0
    got.backward()  # a step on a clip without masks must not fail
    assert logits.grad is not None and float(logits.grad.abs().sum()) == 0.0


def test_soft_dice_of_two_empty_masks_is_zero_and_integer_labels_are_accepted():
    assert soft_dice_loss(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3)).item() == pytest.approx(0.0, abs=1e-6)
    labels = torch.tensor([[[[1, 0], [0, 1]]]], dtype=torch.uint8)
    logits = torch.tensor([[[[2.0, -1.0], [0.5, -3.0]]]])
    assert bce_dice_loss(logits, labels).item() == pytest.approx(bce_dice_loss(logits, labels.float()).item())


def test_distillation_temperature_defaults_to_4():
    student, teacher = torch.tensor(LOGITS[:, :, :1], dtype=torch.float32), torch.zeros(2, 1, 1, 2)
    expected = 16 * np.mean((sigmoid(LOGITS[:, :, :1] / 4) - 0.5) ** 2)
    assert distillation_loss(student, teacher).item() == pytest.approx(expected, rel=1e-5)


def test_consistency_binarises_the_warped_previous_by_default_at_strictly_above_one_half():
    probabilities = torch.tensor([[[[0.9, 0.2, 0.6]]]])
    warped = torch.tensor([[[[0.7, 0.5, 0.4]]]])  # binarised: 1, 0, 0
    confidence = torch.tensor([[[[1.0, 0.5, 0.8]]]])
    agreement = np.array([1 * (1 - 0.1), 0.5 * (1 - 0.2), 0.8 * (1 - 0.6)])
    assert temporal_consistency_loss(probabilities, warped, confidence).item() == pytest.approx(1 - agreement.mean())
    only_first = torch.tensor([[[[True, False, False]]]])  # one valid pixel: its own disagreement
    assert temporal_consistency_loss(probabilities, warped, confidence, only_first).item() == pytest.approx(0.1)
