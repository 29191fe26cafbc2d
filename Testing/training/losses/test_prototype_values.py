"""Dual-scale prototype alignment (docs/method.md, eq. 4) against a numpy computation of its definition.

Maps are 9 x 9 so that zero-flow warping is exact ((size - 1) a power of two): a probability exactly at the
threshold stays exactly there.  The bottleneck is 3 x 3, one cell per 3 x 3 block of pixels.
"""

import numpy as np
import pytest
import torch
from DTCTrainingLib.losses.prototype_alignment import adaptive_threshold, masked_prototype, prototype_alignment_loss

SIZE, CELL = 9, 3


def prototypes(features, weights):
    return (features * weights).sum(axis=(1, 2)) / (weights.sum() + 1e-6)


def one_minus_cosine(a, b):
    return 1 - (a * b).sum() / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-8)


def loss_by_hand(local_prev, local_cur, global_prev, global_cur, prob_prev, prob_cur, threshold):
    """(1 - f) L_loc + f L_glob per sample, then the batch mean; empty regions contribute 0."""
    losses = []
    for lp, lc, gp, gc, pp, pc in zip(local_prev, local_cur, global_prev, global_cur, prob_prev, prob_cur):
        foreground = ((pc[0] > threshold) & (pp[0] > threshold)).astype(float)  # both frames above the threshold
        background = (1 - foreground).reshape(CELL, SIZE // CELL, CELL, SIZE // CELL).mean(axis=(1, 3))  # area pooling
        local = one_minus_cosine(prototypes(lp, foreground), prototypes(lc, foreground)) if foreground.any() else 0.0
        glob = one_minus_cosine(prototypes(gp, background), prototypes(gc, background)) if background.any() else 0.0
        fraction = foreground.mean()
        losses.append((1 - fraction) * local + fraction * glob)
    return np.mean(losses)


def kth_threshold(probabilities, quantile):
    flat = probabilities.reshape(len(probabilities), -1)
    k = int(round(quantile * (flat.shape[1] - 1))) + 1
    return np.mean(np.sort(flat, axis=1)[:, k - 1])


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    prob_cur = rng.uniform(0, 1, (5, 1, SIZE, SIZE))
    prob_prev = np.clip(prob_cur + rng.normal(0, 0.2, prob_cur.shape), 0, 1)  # the regions overlap, not coincide
    prob_cur[1], prob_prev[1] = 0.2, 0.2
    prob_cur[1, 0, 4, 4] = prob_prev[1, 0, 4, 4] = 0.95  # one foreground pixel only
    prob_cur[2], prob_prev[2] = 0.1, 0.1  # no foreground at all
    prob_cur[3], prob_prev[3] = 0.99, 0.99
    prob_cur[3, 0, 0, :2] = 0.01  # background: 2 pixels, 2/9 of one bottleneck cell
    prob_cur[4], prob_prev[4] = 0.98, 0.98  # no background at all
    return {"local_prev": rng.normal(size=(5, 2, SIZE, SIZE)), "local_cur": rng.normal(size=(5, 2, SIZE, SIZE)),
            "global_prev": rng.normal(size=(5, 3, CELL, CELL)), "global_cur": rng.normal(size=(5, 3, CELL, CELL)),
            "prob_prev": prob_prev, "prob_cur": prob_cur}


def run(batch, **options):
    tensors = [torch.tensor(batch[key], dtype=torch.float32) for key in
               ("local_prev", "local_cur", "global_prev", "global_cur", "prob_prev", "prob_cur")]
    return prototype_alignment_loss(*tensors, torch.zeros(5, 2, SIZE, SIZE), **options).item()


@pytest.mark.parametrize("quantile", [None, 0.6])
def test_loss_with_the_adaptive_threshold(batch, quantile):
    threshold = kth_threshold(batch["prob_cur"], 0.7 if quantile is None else quantile)
    expected = loss_by_hand(*(batch[key] for key in ("local_prev", "local_cur", "global_prev", "global_cur", "prob_prev",
                                                     "prob_cur")), threshold)
    options = {} if quantile is None else {"quantile": quantile}  # None: the default, the 70th percentile
    assert run(batch, **options) == pytest.approx(expected, rel=1e-4)


def test_probabilities_at_the_threshold_are_not_foreground(batch):
    batch["prob_cur"][0, 0, :3] = 0.5
    batch["prob_prev"][0, 0, 6:] = 0.5
    expected = loss_by_hand(*(batch[key] for key in ("local_prev", "local_cur", "global_prev", "global_cur", "prob_prev",
                                                     "prob_cur")), 0.5)
    assert run(batch, threshold=torch.tensor(0.5)) == pytest.approx(expected, rel=1e-4)


def test_threshold_quantiles_and_masked_pooling_per_sample():
    probabilities = torch.tensor([[[[0.4, 0.1, 0.3, 0.2]]], [[[0.8, 0.5, 0.6, 0.7]]]])
    assert adaptive_threshold(probabilities, 0.0).item() == pytest.approx((0.1 + 0.5) / 2)  # each sample's minimum
    assert adaptive_threshold(probabilities).item() == pytest.approx((0.3 + 0.7) / 2)  # default 0.7: 3rd of 4 (k = 3)
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[1.0, 2.0], [3.0, 4.0]]]])
    masks = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 1.0], [1.0, 1.0]]]])
    np.testing.assert_allclose(masked_prototype(features, masks)[:, 0].numpy(), [1.0, 3.0], rtol=1e-5)
