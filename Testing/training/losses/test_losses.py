"""Each DTC training signal does what METHOD.md says it does."""

import numpy as np
import pytest
import torch
from DTCSegmentationLib.temporal.flow import photometric_confidence
from DTCTrainingLib.losses import bce_dice_loss, distillation_loss, temporal_consistency_loss
from DTCTrainingLib.losses.prototype_alignment import adaptive_threshold, masked_prototype, prototype_alignment_loss
from DTCTrainingLib.losses.pseudo_labels import equivariance_pseudo_labels
from torch import nn


def disc_mask(height=32, width=48, cx=24, cy=16, radius=9.0):
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return (((xs - cx) ** 2 + (ys - cy) ** 2) <= radius**2).float()[None, None]


def test_bce_dice_is_near_zero_for_a_confident_correct_prediction_and_large_for_a_wrong_one():
    target = disc_mask()
    right = (target * 2 - 1) * 20.0
    assert bce_dice_loss(right, target).item() < 1e-3
    assert bce_dice_loss(-right, target).item() > 5.0
    soft = bce_dice_loss(torch.zeros_like(target), torch.full_like(target, 0.5))
    assert 0 < soft.item() < 1.0  # soft targets are accepted


def test_distillation_is_zero_for_equal_logits_and_never_moves_the_teacher():
    teacher = torch.randn(2, 1, 8, 8, requires_grad=True)
    student = teacher.detach().clone().requires_grad_(True)
    assert distillation_loss(student, teacher).item() == pytest.approx(0.0, abs=1e-7)
    loss = distillation_loss(student + 3.0, teacher)
    loss.backward()
    assert loss.item() > 0 and teacher.grad is None and student.grad.abs().sum() > 0


def test_distillation_is_scaled_by_temperature_squared():
    student, teacher = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 8.0)
    expected = ((0.5 - torch.sigmoid(torch.tensor(2.0))) ** 2 * 16).item()
    assert distillation_loss(student, teacher, temperature=4.0).item() == pytest.approx(expected, rel=1e-5)


def test_consistency_is_zero_for_identical_frames_with_zero_flow():
    frame = (np.random.default_rng(0).random((32, 48)) * 255).astype(np.uint8)
    confidence = torch.from_numpy(photometric_confidence(frame, frame))[None, None]
    probabilities = torch.sigmoid((disc_mask() * 2 - 1) * 30)
    assert temporal_consistency_loss(probabilities, probabilities, confidence).item() == pytest.approx(0.0, abs=1e-6)
    soft = torch.rand(1, 1, 32, 48)
    assert temporal_consistency_loss(soft, soft, confidence, binarize=False).item() == pytest.approx(0.0, abs=1e-6)
    assert temporal_consistency_loss(soft, 1 - soft, confidence, binarize=False).item() > 0.1


def test_consistency_gives_little_gradient_where_a_shadow_makes_confidence_low():
    rng = np.random.default_rng(1)
    previous = (rng.random((32, 48)) * 200).astype(np.uint8)
    current = previous.copy()
    current[:, 30:] = 0  # a shadow appears on the right of frame t
    confidence = torch.from_numpy(photometric_confidence(current, previous))[None, None]
    logits = torch.zeros(1, 1, 32, 48, requires_grad=True)
    warped_previous = torch.ones(1, 1, 32, 48)  # previous frame said "prostate" everywhere
    temporal_consistency_loss(torch.sigmoid(logits), warped_previous, confidence).backward()
    gradient = logits.grad.abs()[0, 0]
    assert confidence[0, 0, :, 30:].mean() < 0.7
    assert gradient[:, 30:].mean() < 0.75 * gradient[:, :30].mean()


def test_consistency_ignores_invalid_pixels():
    probabilities = torch.zeros(1, 1, 8, 8)
    warped = torch.zeros(1, 1, 8, 8)
    warped[..., :4] = 1.0  # disagreement only where the flow left the frame
    valid = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    valid[..., 4:] = True
    confidence = torch.ones(1, 1, 8, 8)
    assert temporal_consistency_loss(probabilities, warped, confidence, valid).item() == pytest.approx(0.0)
    assert temporal_consistency_loss(probabilities, warped, confidence).item() == pytest.approx(0.5)


def test_prototype_alignment_is_zero_for_identical_frames_and_positive_otherwise():
    torch.manual_seed(0)
    probabilities = torch.sigmoid((disc_mask() * 2 - 1) * 10)
    local = torch.randn(1, 8, 32, 48)
    bottleneck = torch.randn(1, 16, 4, 6)
    flow = torch.zeros(1, 2, 32, 48)
    same = prototype_alignment_loss(local, local, bottleneck, bottleneck, probabilities, probabilities, flow)
    assert same.item() == pytest.approx(0.0, abs=1e-5)
    local_t = torch.randn(1, 8, 32, 48, requires_grad=True)
    different = prototype_alignment_loss(local, local_t, bottleneck, torch.randn(1, 16, 4, 6), probabilities, probabilities, flow)
    different.backward()
    assert different.item() > 0.05 and local_t.grad.abs().sum() > 0


def test_prototype_alignment_follows_the_flow():
    """A feature pattern that moved with the gland aligns once the flow is applied."""
    probabilities_prev = torch.sigmoid((disc_mask(cx=20) * 2 - 1) * 10)
    probabilities_t = torch.sigmoid((disc_mask(cx=24) * 2 - 1) * 10)
    torch.manual_seed(1)
    texture = torch.randn(1, 8, 32, 60)
    local_prev, local_t = texture[..., 4:52], texture[..., 0:48]  # content moved 4 px to the right
    bottleneck = torch.randn(1, 16, 4, 6)
    flow = torch.zeros(1, 2, 32, 48)
    flow[:, 0] = -4.0
    aligned = prototype_alignment_loss(local_prev, local_t, bottleneck, bottleneck, probabilities_prev, probabilities_t, flow)
    unaligned = prototype_alignment_loss(
        local_prev, local_t, bottleneck, bottleneck, probabilities_prev, probabilities_t, torch.zeros_like(flow)
    )
    assert aligned.item() < 0.05 < unaligned.item()


def test_adaptive_threshold_and_masked_pooling():
    probabilities = torch.linspace(0, 1, 101).view(1, 1, 1, 101)
    assert adaptive_threshold(probabilities, 0.7).item() == pytest.approx(0.7, abs=1e-6)
    features = torch.arange(4.0).view(1, 1, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert masked_prototype(features, mask).item() == pytest.approx(1.5, abs=1e-5)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Conv2d(4, 1, 1)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.conv(x))))


def test_pseudo_labels_carry_no_gradient_use_eval_mode_and_restore_the_mode():
    model = TinyNet().train()
    images = torch.randn(2, 1, 16, 16)
    labels = equivariance_pseudo_labels(model, images)
    assert model.training and not labels.requires_grad
    assert labels.shape == (2, 1, 16, 16) and 0 <= labels.min() and labels.max() <= 1
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    expected = torch.sigmoid(model(images.flip(3))).flip(3)
    torch.testing.assert_close(labels, expected)


def test_pseudo_labels_refuse_unknown_transforms():
    with pytest.raises(ValueError, match="hflip"):
        equivariance_pseudo_labels(TinyNet(), torch.randn(1, 1, 8, 8), ("shear",))


def test_hard_dice_target_stops_soft_pseudo_labels_from_growing_the_mask():
    target = torch.full((1, 1, 20, 20), 0.35)
    target[..., 5:15, 5:15] = 0.9  # a soft pseudo-label: confident gland, unsure surroundings
    def background_gradient(hard):
        logits = torch.zeros(1, 1, 20, 20, requires_grad=True)
        bce_dice_loss(logits, target, bce_weight=0.0, hard_dice_target=hard).backward()
        return logits.grad[0, 0, 0, 0].item()
    assert background_gradient(hard=False) < 0  # soft Dice: raising background lowers the loss
    assert background_gradient(hard=True) > 0  # hard Dice: background pushed down
