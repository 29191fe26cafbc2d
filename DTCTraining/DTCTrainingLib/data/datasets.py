"""Training samples: labelled frames for the teacher, video clips with optical flow for the student.

All randomness (augmentation, clip choice) is drawn from a generator seeded by
``(seed, epoch, index)``, so an epoch's samples are the same whether training ran
straight through or was resumed from a checkpoint - the basis of exact resumption.
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from DTCSegmentationLib.inference.preprocessing import normalize
from DTCSegmentationLib.temporal.flow import photometric_confidence, valid_mask, warp_previous
from torch.utils.data import Dataset

from DTCTrainingLib.data.augment import (
    AugmentSettings,
    apply_to_flow,
    apply_to_frame,
    apply_to_logits,
    apply_to_mask,
    sample_transform,
)
from DTCTrainingLib.data.case_loading import CaseArrays
from DTCTrainingLib.data.flow_cache import FlowCache


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one sample of one epoch."""
    return np.random.default_rng([seed, epoch, index])


def _to_tensor(frames: np.ndarray, normalization: Dict[str, float]) -> torch.Tensor:
    """uint8 ``(N, H, W[, 3])`` -> float32 ``(N, C, H, W)`` normalised like at inference."""
    return torch.from_numpy(normalize(frames, normalization))


class LabelledFrames(Dataset):
    """Annotated frames of the given cases, with the teacher's augmentations.

    Item: ``{"image": (C, H, W) float32, "mask": (1, H, W) float32}``.
    """

    def __init__(self, cases: Sequence[CaseArrays], normalization: Dict[str, float], augment: bool = True,
                 seed: int = 0, settings: AugmentSettings = AugmentSettings()):
        self.cases = list(cases)
        self.items: List[Tuple[int, int]] = [
            (c, int(f)) for c, case in enumerate(self.cases) for f in np.flatnonzero(case.labelled)
        ]
        self.normalization = normalization
        self.augment = augment
        self.seed = seed
        self.settings = settings
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        case_index, frame_index = self.items[index]
        case = self.cases[case_index]
        image, mask = case.frames[frame_index], case.masks[frame_index]
        if self.augment:
            transform = sample_transform(sample_rng(self.seed, self.epoch, index), image.shape[:2], self.settings)
            image, mask = apply_to_frame(transform, image), apply_to_mask(transform, mask)
        return {"image": _to_tensor(image[None], self.normalization)[0],
                "mask": torch.from_numpy(mask[None].astype(np.float32))}


class VideoClips(Dataset):
    """Clips of ``length`` frames, ``gap`` apart, from every case (labels not needed).

    Item:
        ``frames`` (T, C, H, W) float32 network input;
        ``flow`` (T-1, 2, H, W) float32 backward flow from frame t to t-1 (pixels);
        ``confidence`` (T-1, 1, H, W) photometric confidence of that flow;
        ``valid`` (T-1, 1, H, W) bool, flow target inside the frame;
        ``masks`` (T, 1, H, W) and ``labelled`` (T,) for validation only;
        ``teacher_logits`` (T, 1, H, W) once :meth:`cache_teacher` has run, and
        ``teacher_pseudo`` (T, 1, H, W) teacher pseudo-labels if it cached those.
    Flow comes from the raw frames through the cache, then follows the augmentation.
    """

    def __init__(self, cases: Sequence[CaseArrays], normalization: Dict[str, float], flow_cache: FlowCache,
                 length: int = 3, gap: int = 1, augment: bool = True, seed: int = 0,
                 settings: AugmentSettings = AugmentSettings()):
        if length < 2:
            raise ValueError("a clip needs at least 2 frames")
        self.cases = list(cases)
        span = (length - 1) * gap
        self.items = [(c, start) for c, case in enumerate(self.cases) for start in range(len(case) - span)]
        self.normalization = normalization
        self.flow_cache = flow_cache
        self.length, self.gap = length, gap
        self.augment = augment
        self.seed = seed
        self.settings = settings
        self.epoch = 0
        self.teacher_logits: List[np.ndarray] = []
        self.teacher_pseudo: List[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.items)

    @torch.no_grad()
    def cache_teacher(self, teacher: torch.nn.Module, device: torch.device, batch_size: int = 16,
                      pseudo_label_transforms: Sequence[str] = ()) -> None:
        """Run the frozen teacher once on every (un-augmented) frame and keep its outputs (float16).

        The teacher never changes, so predicting each frame once replaces one forward pass
        per training step; the cached maps follow each clip's geometric augmentation, and
        the teacher sees the clean frame rather than the photometrically augmented one.
        With ``pseudo_label_transforms`` the teacher's equivariance pseudo-labels are cached
        too (for ``student.pseudo_label_source = teacher``).
        """
        from DTCTrainingLib.losses.pseudo_labels import equivariance_pseudo_labels

        teacher.eval()
        self.teacher_logits, self.teacher_pseudo = [], []
        for case in self.cases:
            logits, pseudo = [], []
            for start in range(0, len(case), batch_size):
                images = _to_tensor(case.frames[start:start + batch_size], self.normalization).to(device)
                logits.append(teacher(images).float()[:, 0].cpu().numpy().astype(np.float16))
                if pseudo_label_transforms:
                    labels = equivariance_pseudo_labels(teacher, images, pseudo_label_transforms)
                    pseudo.append(labels[:, 0].cpu().numpy().astype(np.float16))
            self.teacher_logits.append(np.concatenate(logits))
            if pseudo:
                self.teacher_pseudo.append(np.concatenate(pseudo))

    def frame_indices(self, index: int) -> List[int]:
        _, start = self.items[index]
        return [start + k * self.gap for k in range(self.length)]

    def precompute_flows(self, progress=None) -> None:
        """Fill the flow cache for every frame pair any clip uses (before training starts)."""
        pairs = {(c, start + k * self.gap) for c, start in self.items for k in range(1, self.length)}
        for case_index, frame_index in (progress(sorted(pairs)) if progress else sorted(pairs)):
            frames = self.cases[case_index].frames
            self.flow_cache.flow(frames[frame_index], frames[frame_index - self.gap])

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        case_index = self.items[index][0]
        case = self.cases[case_index]
        indices = self.frame_indices(index)
        frames = [case.frames[i] for i in indices]
        flows = [self.flow_cache.flow(frames[k], frames[k - 1]) for k in range(1, self.length)]
        masks = [case.masks[i] for i in indices]
        teacher = [self.teacher_logits[case_index][i].astype(np.float32) for i in indices] if self.teacher_logits else []
        pseudo = [self.teacher_pseudo[case_index][i].astype(np.float32) for i in indices] if self.teacher_pseudo else []
        if self.augment:
            transform = sample_transform(sample_rng(self.seed, self.epoch, index), frames[0].shape[:2], self.settings)
            frames = [apply_to_frame(transform, f) for f in frames]
            flows = [apply_to_flow(transform, f) for f in flows]
            masks = [apply_to_mask(transform, m) for m in masks]
            teacher = [apply_to_logits(transform, t) for t in teacher]
            pseudo = [apply_to_logits(transform, p, outside=0.0) for p in pseudo]
        confidence = [photometric_confidence(frames[k], warp_previous(frames[k - 1], flows[k - 1]))
                      for k in range(1, self.length)]
        valid = [valid_mask(f) for f in flows]
        item = {
            "frames": _to_tensor(np.stack(frames), self.normalization),
            "flow": torch.from_numpy(np.stack(flows).transpose(0, 3, 1, 2).copy()),
            "confidence": torch.from_numpy(np.stack(confidence)[:, None]),
            "valid": torch.from_numpy(np.stack(valid)[:, None]),
            "masks": torch.from_numpy(np.stack(masks)[:, None].astype(np.float32)),
            "labelled": torch.from_numpy(case.labelled[indices].copy()),
        }
        if teacher:
            item["teacher_logits"] = torch.from_numpy(np.stack(teacher)[:, None])
        if pseudo:
            item["teacher_pseudo"] = torch.from_numpy(np.stack(pseudo)[:, None])
        return item
