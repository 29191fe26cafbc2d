"""The student's loss, term by term, against values written out by hand from docs/method.md.

One training step's batch is built by hand: a textured frame and the same frame moved 2 columns to the
right, the backward flow of that move (-2 px in x), a known confidence, known teacher logits and known
pseudo-labels.  Each term is then recomputed in numpy from the student's own logits, with the weights and
the KD temperature taken from the configuration, not from the code under test.
"""

import json

import numpy as np
import pytest
import torch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import ModelInfo, save_model
from DTCTrainingLib.config import load_config
from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset
from DTCTrainingLib.evaluation.ablation import variant_config
from DTCTrainingLib.trainer import Trainer, train

pytestmark = pytest.mark.slow  # trains networks

HEIGHT, WIDTH, SHIFT = 64, 96, 2
ARGUMENTS = {"features": [8, 8, 16, 16]}
# Weights and temperature away from the defaults (3 / 1 / 2 / 0.1, T = 4), so a hard-coded constant shows.
WEIGHTS = {"seg": 1.5, "kd": 0.7, "consistency": 2.5, "prototype": 0.3}
TEMPERATURE = 2.5
SETTINGS = [f"data.height={HEIGHT}", f"data.width={WIDTH}", "device=cpu", f"network.arguments={json.dumps(ARGUMENTS)}",
            f"student.weight_seg={WEIGHTS['seg']}", f"student.weight_kd={WEIGHTS['kd']}",
            f"student.weight_consistency={WEIGHTS['consistency']}", f"student.weight_prototype={WEIGHTS['prototype']}",
            f"student.kd_temperature={TEMPERATURE}"]
TERMS = {"seg": "segmentation", "kd": "distillation", "consistency": "consistency", "prototype": "prototype"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    make_simulated_dataset(root / "data", cases=3, frames=4, height=HEIGHT, width=WIDTH, val_cases=1, seed=3,
                           progress=False)
    torch.manual_seed(0)
    teacher = save_model(root / "teacher.safetensors", build_network("fast_unet", arguments=ARGUMENTS),
                         ModelInfo(arguments=ARGUMENTS, input_size=(HEIGHT, WIDTH)))
    return root, teacher


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def hand_batch():
    rng = np.random.default_rng(5)
    texture = rng.normal(size=(HEIGHT, WIDTH + SHIFT))
    texture = np.cumsum(np.cumsum(texture, axis=0), axis=1)  # smooth, large structures the network responds to
    texture = (texture - texture.mean()) / texture.std()
    previous, current = texture[:, SHIFT:], texture[:, :-SHIFT]  # content moved SHIFT columns to the right
    np.testing.assert_array_equal(current[:, SHIFT:], previous[:, :-SHIFT])
    valid = np.ones((HEIGHT, WIDTH), bool)
    valid[:, :SHIFT] = False  # their source x - SHIFT lies outside the previous frame
    flow = np.zeros((2, HEIGHT, WIDTH), np.float32)
    flow[0] = -SHIFT  # backward flow: frame_t(x) = frame_prev(x + flow(x))
    return {
        "frames": torch.tensor(np.stack([previous, current])[None, :, None], dtype=torch.float32),
        "flow": torch.from_numpy(flow)[None, None],
        "confidence": torch.tensor(rng.uniform(0.2, 1.0, (1, 1, 1, HEIGHT, WIDTH)), dtype=torch.float32),
        "valid": torch.from_numpy(valid)[None, None, None],
        "teacher_logits": torch.tensor(rng.normal(0, 3, (1, 2, 1, HEIGHT, WIDTH)), dtype=torch.float32),
        "teacher_pseudo": torch.tensor(rng.uniform(0, 1, (1, 2, 1, HEIGHT, WIDTH)), dtype=torch.float32),
    }


def spread_logits(model, images):
    """Scale the untrained head so the logits spread over about +-3 around 0 (untrained: all near 0.5)."""
    with torch.no_grad():
        model.head.bias.zero_()
        logits = model(images).flatten()
        scale = 3.0 / float(logits.std())
        model.head.weight.mul_(scale)
        model.head.bias.fill_(-scale * float(logits.median()))


def consistency_by_hand(p_previous, p_current, confidence, valid, shift):
    warped = np.roll(p_previous, shift, axis=1)  # p_prev(x + flow) with flow = -shift; wrapped columns are invalid
    target = (warped > 0.5).astype(float)  # binarised as the authors do (student.binarize_warped)
    agreement = confidence * (1 - np.abs(p_current - target))
    return 1 - (agreement * valid).sum() / valid.sum()


def test_every_term_and_the_weighted_total_match_the_method(folders, tmp_path):
    root, teacher = folders
    config = load_config(overrides=[f"data.dataset={root / 'data'}", *SETTINGS])
    trainer = Trainer("student", config, tmp_path, teacher=teacher)
    batch = hand_batch()
    images = batch["frames"].flatten(0, 1).contiguous(memory_format=torch.channels_last)
    trainer.model.eval()  # batch norm on running statistics: the same logits in the step and here
    spread_logits(trainer.model, images)
    with torch.no_grad():
        logits = trainer.model(images).double().numpy()[:, 0]
        losses = {key: float(value) for key, value in trainer._student_loss(batch).items()}
    probabilities = sigmoid(logits)
    assert 0.1 < (probabilities > 0.5).mean() < 0.9  # a structured map, so the warp direction matters

    pseudo = batch["teacher_pseudo"].double().numpy()[0, :, 0]
    bce = np.mean(np.maximum(logits, 0) - logits * pseudo + np.log1p(np.exp(-np.abs(logits))))
    hard = (pseudo > 0.5).astype(float)  # student.hard_pseudo_dice: Dice against the binarised pseudo-label
    dice = [(2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1) for p, t in zip(probabilities, hard)]
    segmentation = 0.5 * bce + 1 - np.mean(dice)

    teacher_logits = batch["teacher_logits"].double().numpy()[0, :, 0]
    distillation = TEMPERATURE ** 2 * np.mean((sigmoid(logits / TEMPERATURE) - sigmoid(teacher_logits / TEMPERATURE)) ** 2)

    confidence, valid = batch["confidence"].double().numpy()[0, 0, 0], batch["valid"].numpy()[0, 0, 0]
    consistency = consistency_by_hand(probabilities[0], probabilities[1], confidence, valid, SHIFT)
    backwards = consistency_by_hand(probabilities[0], probabilities[1], confidence, np.roll(valid, -2 * SHIFT, axis=1),
                                    -SHIFT)
    assert abs(backwards - consistency) > 0.01  # warping the other way would be seen

    assert losses["segmentation"] == pytest.approx(segmentation, rel=1e-5)
    assert losses["distillation"] == pytest.approx(distillation, rel=1e-5)
    assert losses["consistency"] == pytest.approx(consistency, rel=1e-5)
    assert 0 < losses["prototype"] < 2  # 1 - cosine, mixed by the foreground fraction
    total = (WEIGHTS["seg"] * segmentation + WEIGHTS["kd"] * distillation + WEIGHTS["consistency"] * consistency
             + WEIGHTS["prototype"] * losses["prototype"])
    assert losses["total"] == pytest.approx(total, rel=1e-5)


def with_masks(batch, labelled):
    """``batch`` plus ground truth: frame 0's mask the left half, frame 1's the right half."""
    masks = np.zeros((1, 2, 1, HEIGHT, WIDTH), np.float32)
    masks[0, 0, 0, :, : WIDTH // 2] = 1
    masks[0, 1, 0, :, WIDTH // 2:] = 1
    return {**batch, "masks": torch.from_numpy(masks), "labelled": torch.tensor([labelled])}


@pytest.mark.parametrize("labelled", [[False, True], [True, False], [False, False]])
def test_the_ground_truth_term_is_off_by_default_and_counts_labelled_frames_only(folders, tmp_path, labelled):
    root, teacher = folders
    weight = 1.7
    totals = {}
    for name, extra in (("default", []), ("supervised", [f"student.weight_supervised={weight}"])):
        config = load_config(overrides=[f"data.dataset={root / 'data'}", *SETTINGS, "teacher.bce_weight=0.3", *extra])
        trainer = Trainer("student", config, tmp_path / name, teacher=teacher)
        batch = with_masks(hand_batch(), labelled)
        images = batch["frames"].flatten(0, 1).contiguous(memory_format=torch.channels_last)
        trainer.model.eval()
        torch.manual_seed(0)
        spread_logits(trainer.model, images)
        with torch.no_grad():
            logits = trainer.model(images).double().numpy()[:, 0]
            totals[name] = {key: float(value) for key, value in trainer._student_loss(batch).items()}
    default, supervised = totals["default"], totals["supervised"]
    assert "supervised" not in default  # the paper's recipe: no ground-truth term, nothing logged
    paper = sum(WEIGHTS[term] * default[TERMS[term]] for term in WEIGHTS)
    assert default["total"] == pytest.approx(paper, rel=1e-5)

    masks = batch["masks"].numpy()[0, :, 0]
    keep = np.array(labelled)
    if keep.any():  # the teacher's loss (bce weight from teacher.bce_weight) on the labelled frames only
        p, t = sigmoid(logits[keep]), masks[keep]
        bce = np.mean(np.maximum(logits[keep], 0) - logits[keep] * t + np.log1p(np.exp(-np.abs(logits[keep]))))
        expected = 0.3 * bce + 1 - np.mean([(2 * (a * b).sum() + 1) / (a.sum() + b.sum() + 1) for a, b in zip(p, t)])
    else:
        expected = 0.0
    assert supervised["supervised"] == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert supervised["total"] == pytest.approx(default["total"] + weight * expected, rel=1e-5)
    if keep.any():
        assert supervised["total"] - default["total"] > 0.05  # the term changes the loss


# Each row of the paper's ablation (Table 3), and the student terms it trains without.
ROWS = {"pseudo-labels only": {"kd", "consistency", "prototype"}, "+ KD": {"consistency", "prototype"},
        "+ KD + prototypes": {"consistency"}, "+ KD + consistency": {"prototype"}, "full DTC": set()}


@pytest.mark.parametrize("row", list(ROWS))
def test_logged_steps_add_up_the_weighted_terms_without_the_rows_dropped_terms(folders, tmp_path, row):
    root, teacher = folders
    base = load_config(overrides=[f"data.dataset={root / 'data'}", *SETTINGS, "optim.epochs=1", "optim.batch_size=2",
                                  "optim.steps_per_epoch=2"])
    train("student", variant_config(base, row), tmp_path, teacher=teacher)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    steps = [event["losses"] for event in events if event["event"] == "step"]
    assert len(steps) == 2
    for losses in steps:
        assert all(losses[TERMS[term]] > 1e-4 for term in ROWS[row])  # computed, so leaving them out is visible
        kept = sum(weight * losses[TERMS[term]] for term, weight in WEIGHTS.items() if term not in ROWS[row])
        assert losses["total"] == pytest.approx(kept, rel=1e-5)
