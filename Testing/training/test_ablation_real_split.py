"""bench/ablation_real.py's split: the scored patients never reach training or early stopping."""

import importlib.util
import json

import pytest
from samples import REPO_ROOT


def bench_module():
    spec = importlib.util.spec_from_file_location("ablation_real", REPO_ROOT / "bench" / "ablation_real.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_source(folder, train, val):
    cases = []
    for patient, split in [(p, "train") for p in train] + [(p, "val") for p in val]:
        for view in ("axial", "rotational"):
            (folder / f"{patient}_{view}").mkdir(parents=True)
            cases.append({"id": f"{patient}_{view}", "patient": patient, "view": view, "split": split,
                          "frames": f"{patient}_{view}/images.seq.nrrd"})
    (folder / "dataset.json").write_text(json.dumps({"name": "src", "cases": cases}))


def test_val_patients_become_test_and_the_last_eight_training_patients_early_stopping(tmp_path):
    train, val = [f"p{i:02d}" for i in range(11)], ["p11", "p12"]
    write_source(tmp_path / "src", train, val)
    manifest = bench_module().early_stopping_split(tmp_path / "src", tmp_path / "out")
    splits = {}
    for case in json.loads(manifest.read_text())["cases"]:
        splits.setdefault(case["split"], set()).add(case["patient"])
        assert (tmp_path / "out" / case["id"]).resolve() == (tmp_path / "src" / case["id"]).resolve()
    assert splits == {"train": {"p00", "p01", "p02"}, "val": set(train[3:]), "test": set(val)}


def test_a_source_with_a_test_split_is_refused(tmp_path):
    write_source(tmp_path / "src", [f"p{i:02d}" for i in range(10)], ["p10"])
    manifest = tmp_path / "src" / "dataset.json"
    document = json.loads(manifest.read_text())
    document["cases"][-1]["split"] = "test"  # already held out: which split would it join?
    manifest.write_text(json.dumps(document))
    with pytest.raises(SystemExit, match="expected train or val only"):
        bench_module().early_stopping_split(tmp_path / "src", tmp_path / "out")
