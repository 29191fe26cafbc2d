"""Load one case of a training-data folder into memory at the training resolution.

Training frames are small (256 x 448 x 1 byte), so a whole dataset of a few thousand
frames fits in memory; loading each case once makes every later frame look-up O(1).
"""

import logging
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.inference.preprocessing import fit_frame, fit_mask, float_value_range
from DTCSegmentationLib.sequence_io import read_sequence
from DTCSegmentationLib.sequence_io.image_folder import read_image

from DTCTrainingLib.data.manifest import Case

log = logging.getLogger(__name__)


@dataclass
class CaseArrays:
    """One case at training resolution.

    Attributes:
        frames: ``(T, H, W)`` uint8 (1 channel) or ``(T, H, W, 3)`` uint8 RGB.
        masks: ``(T, H, W)`` uint8 in {0, 1}; zero where a frame is not labelled.
        labelled: ``(T,)`` bool, True for annotated frames.
    """

    case: Case
    frames: np.ndarray
    masks: np.ndarray
    labelled: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


def to_training_mask(mask: np.ndarray, size: Tuple[int, int], mode: str = "resize") -> np.ndarray:
    """Label image ``(h, w[, c])`` -> ``(H, W)`` uint8 in {0, 1} at ``size`` (any non-zero is prostate)."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    return fit_mask((mask > 0).astype(np.uint8), size, mode)


def _read_frames(source) -> Sequence[np.ndarray]:
    if isinstance(source, tuple):
        return [read_image(path) for path in source]
    return list(read_sequence(source).frames)


def read_case_masks(case: Case, count: int) -> Dict[int, np.ndarray]:
    """The annotated frames of ``case`` as read (native size), by frame index; ``count`` = frames in the case.

    Raises:
        DTCError: a mask cannot be read, or masks and frames disagree in number.
    """
    if case.masks is None:
        return {}
    if isinstance(case.masks, tuple):
        raw: Sequence[Optional[np.ndarray]] = [None if p is None else read_image(p) for p in case.masks]
    else:
        raw = _read_frames(case.masks)
    if len(raw) != count:
        where = case.masks if not isinstance(case.masks, tuple) else case.masks[0]
        raise DTCError(f"case {case.id!r} has {len(raw)} masks for {count} frames.", where,
                       "Give the mask sequence one frame per image frame (use labelled_frames for sparse labels).")
    indices = range(len(raw)) if case.labelled_frames is None else case.labelled_frames
    masks = {}
    for index in indices:
        if index >= len(raw):
            raise DTCError(f"case {case.id!r} labels frame {index} but has {len(raw)} frames.",
                           fix="Fix labelled_frames in the manifest.")
        if raw[index] is not None:
            masks[index] = raw[index]
    return masks


def load_case(case: Case, size: Tuple[int, int], channels: int = 1, mode: str = "resize") -> CaseArrays:
    """Read a case's frames and masks and bring them to the training ``size = (H, W)``.

    Frames go through the same :func:`~DTCSegmentationLib.inference.preprocessing.fit_frame` as at
    inference, so the network sees identical inputs in training and in use.

    Raises:
        DTCError: a file cannot be read, or frames and masks disagree in number.
    """
    raw = _read_frames(case.frames)
    value_range = float_value_range(raw, f"case {case.id!r}") if np.issubdtype(raw[0].dtype, np.floating) else None
    frames = np.stack([fit_frame(f, size, channels, mode, value_range)[0] for f in raw])
    masks = np.zeros(frames.shape[:3], np.uint8)
    labelled = np.zeros(len(frames), bool)
    labels = set()
    for index, mask in read_case_masks(case, len(frames)).items():
        labels.update(np.unique(mask[np.asarray(mask) != 0]).tolist())
        masks[index] = to_training_mask(mask, size, mode)
        labelled[index] = True
    if len(labels) > 1:
        log.warning("note: the masks of case %r hold the labels %s; every non-zero label is trained as prostate.",
                    case.id, ", ".join(f"{v:g}" for v in sorted(labels)))
    return CaseArrays(case=case, frames=frames, masks=masks, labelled=labelled)
