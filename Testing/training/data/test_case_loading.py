"""Cases load at training resolution with their sparse labels."""

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCTrainingLib.data.case_loading import load_case, to_training_mask
from DTCTrainingLib.data.manifest import Case


def test_per_frame_files_with_sparse_masks(tmp_path):
    frames, masks = [], []
    for index in range(3):
        frame = np.full((40, 60), 50 * index, np.uint8)
        cv2.imwrite(str(tmp_path / f"f{index}.png"), frame)
        frames.append(tmp_path / f"f{index}.png")
        mask_path = None
        if index != 1:
            mask = np.zeros((40, 60), np.uint8)
            mask[10:30, 20:40] = 255
            mask_path = tmp_path / f"m{index}.png"
            cv2.imwrite(str(mask_path), mask)
        masks.append(mask_path)
    case = Case("c", "p", "axial", "train", tuple(frames), tuple(masks), (0, 2))
    arrays = load_case(case, size=(20, 30))
    assert arrays.frames.shape == (3, 20, 30) and arrays.frames.dtype == np.uint8
    assert arrays.frames[2].mean() == 100
    assert arrays.labelled.tolist() == [True, False, True]
    assert set(np.unique(arrays.masks[0])) == {0, 1} and arrays.masks[1].max() == 0
    assert arrays.masks[0][5:15, 10:20].all() and not arrays.masks[0][:4].any()


def test_training_mask_conversion():
    assert to_training_mask(np.full((4, 4, 3), 7, np.uint8), (2, 2)).tolist() == [[1, 1], [1, 1]]
    letterboxed = to_training_mask(np.ones((10, 20), np.uint8), (20, 20), mode="letterbox")
    assert letterboxed[:5].sum() == 0 and letterboxed[5:15].all()


def test_unreadable_frame_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DTCError, match="broken.png"):
        load_case(Case("c", "p", "axial", "train", (bad,)), size=(8, 8))
