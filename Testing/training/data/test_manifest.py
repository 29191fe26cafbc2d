"""Training-data manifests: parsed, validated, written back."""

import json

import pytest
from DTCTrainingLib.data.manifest import Case, Manifest, ManifestError, load_manifest, write_manifest


def write(tmp_path, document):
    (tmp_path / "dataset.json").write_text(json.dumps(document))
    return tmp_path


def case(**overrides):
    entry = {"id": "c1", "patient": "p1", "view": "axial", "split": "train", "frames": "c1/images.seq.nrrd"}
    entry.update(overrides)
    return entry


def test_manifest_round_trip(tmp_path):
    root = write(tmp_path, {"name": "demo", "cases": [
        case(masks="c1/masks.seq.nrrd", labelled_frames=[10, 0, 10]),
        case(id="c2", patient="p2", split="val", view="sagittal", frames="c2/frames"),
    ]})
    manifest = load_manifest(root)
    assert manifest.name == "demo"
    first, second = manifest.cases
    assert first.frames == tmp_path / "c1/images.seq.nrrd" and first.labelled_frames == (0, 10)
    assert first.is_labelled and not second.is_labelled
    assert [c.id for c in manifest.split("val")] == ["c2"]


def test_written_manifest_loads_back_identically(tmp_path):
    cases = [
        Case("a", "p1", "axial", "train", tmp_path / "a/images.seq.nrrd", tmp_path / "a/masks.seq.nrrd", (0, 5)),
        Case("b", "p2", "sagittal", "test", tmp_path / "b/frames"),
    ]
    write_manifest(Manifest(root=tmp_path, name="sim", cases=cases))
    loaded = load_manifest(tmp_path / "dataset.json")
    assert loaded.cases == cases and loaded.name == "sim"
    assert json.loads((tmp_path / "dataset.json").read_text())["cases"][0]["frames"] == "a/images.seq.nrrd"


@pytest.mark.parametrize(
    "document, message",
    [
        ({"cases": "nope"}, "cases"),
        ({"cases": [case(patient="")]}, "patient"),
        ({"cases": [case(split="holdout")]}, "split"),
        ({"cases": [case(view="coronal")]}, "view"),
        ({"cases": [case(labelled_frames=[1])]}, "masks"),
        ({"cases": [case(masks="m", labelled_frames=[-1])]}, "integers"),
        ({"cases": [case(), case()]}, "twice"),
        ({"cases": [case(), case(id="c2", split="test")]}, "both"),
        ({"format_version": 99, "cases": []}, "format_version"),
    ],
)
def test_malformed_manifests_name_the_problem_and_the_file(tmp_path, document, message):
    write(tmp_path, document)
    with pytest.raises(ManifestError, match=message) as error:
        load_manifest(tmp_path)
    assert str(tmp_path / "dataset.json") in str(error.value)


def test_missing_or_broken_json(tmp_path):
    with pytest.raises(ManifestError, match="no dataset manifest"):
        load_manifest(tmp_path)
    (tmp_path / "dataset.json").write_text("{broken")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path)


def test_write_manifest_refuses_to_overwrite(tmp_path):
    manifest = Manifest(root=tmp_path, name="x", cases=[])
    write_manifest(manifest)
    with pytest.raises(Exception, match="already exists"):
        write_manifest(manifest)
    write_manifest(manifest, overwrite=True)
