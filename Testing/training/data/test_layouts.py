"""TRUS-V and SUN-SEG folders read as manifests."""

import json

import cv2
import numpy as np
import pytest
from DTCSegmentationLib.sequence_io.image_folder import natural_key
from DTCTrainingLib.data.layouts import describe, load_dataset
from DTCTrainingLib.data.manifest import ManifestError


def touch_png(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((4, 6), value, np.uint8))


def make_trusv(root):
    for patient in ("P01", "P02"):
        for frame in (1, 2, 10):
            for view in ("axi", "sag"):
                touch_png(root / "images" / f"{patient}_{frame}_{view}.png")
                if frame != 2:
                    touch_png(root / "masks" / f"{patient}_{frame}_{view}.png", 1)
    return root


def test_trusv_groups_by_patient_and_view_in_frame_order(tmp_path):
    manifest = load_dataset(make_trusv(tmp_path), test=["P02"])
    assert [c.id for c in manifest.cases] == ["P01_axial", "P01_sagittal", "P02_axial", "P02_sagittal"]
    case = manifest.cases[0]
    assert [p.name for p in case.frames] == ["P01_1_axi.png", "P01_2_axi.png", "P01_10_axi.png"]
    assert case.labelled_frames == (0, 2) and case.masks[1] is None
    assert case.masks[2].name == "P01_10_axi.png" and case.masks[2].parent.name == "masks"
    assert {c.split for c in manifest.cases if c.patient == "P02"} == {"test"}
    assert describe(manifest)["train_cases"] == 2


def test_trusv_refuses_misnamed_images(tmp_path):
    make_trusv(tmp_path)
    touch_png(tmp_path / "images" / "scan.png")
    with pytest.raises(ManifestError, match="scan.png"):
        load_dataset(tmp_path)


def test_a_patient_cannot_be_in_val_and_test(tmp_path):
    with pytest.raises(ManifestError, match="both"):
        load_dataset(make_trusv(tmp_path), val=["P01"], test=["P01"])


def test_sunseg_layout(tmp_path):
    for case in ("case2", "case10"):
        for name in ("a_frame9", "a_frame10", "a_frame11"):
            touch_png(tmp_path / "Frame" / case / f"{name}.jpg")
        touch_png(tmp_path / "GT" / case / "a_frame10.png", 1)
    manifest = load_dataset(tmp_path, val=["case10"])
    assert [c.id for c in manifest.cases] == ["case2", "case10"]
    case = manifest.cases[0]
    assert [p.stem for p in case.frames] == ["a_frame9", "a_frame10", "a_frame11"]
    assert case.labelled_frames == (1,)
    assert manifest.cases[1].split == "val"


def test_manifest_with_per_frame_file_lists(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"cases": [{
        "id": "c", "patient": "p", "frames": ["f0.png", "f1.png"], "masks": [None, "m1.png"]}]}))
    case = load_dataset(tmp_path).cases[0]
    assert case.frames == (tmp_path / "f0.png", tmp_path / "f1.png") and case.labelled_frames == (1,)


def test_unknown_folder_is_explained(tmp_path):
    with pytest.raises(ManifestError, match="TRUS-V"):
        load_dataset(tmp_path)


def test_natural_key_orders_numbers_numerically():
    assert sorted(["f10", "f2", "F1"], key=natural_key) == ["F1", "f2", "f10"]
