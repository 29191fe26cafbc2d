"""The README's correction console blocks run as written on a headless scene: segment as a segmentation, correct a
frame through the segmentation API (as the Segment Editor does), export the corrections and fine-tune."""

import json
import re

import numpy as np
import pytest
from DTCSegmentationLib.networks.default_model import default_model_path
from DTCSegmentationLib.networks.model_file import load_model
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from samples import REPO_ROOT, correct_frame, require_mrml

slicer = require_mrml()

from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, new_scene  # noqa: E402
from DTCTrainingLib.data.manifest import load_manifest  # noqa: E402
from DTCTrainingLib.mrml import add_annotation_sequence, annotated_recordings, write_training_data  # noqa: E402

pytestmark = pytest.mark.slow  # fine-tunes the shipped network

README = REPO_ROOT / "README.md"
CORRECTED = 2


def block(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert found, f"README.md has no console block after <!-- {marker} -->"
    return found.group(1)


def sweep(seed, view="axial"):
    return simulate(SimulationConfig(view=view, num_frames=6, height=64, width=96, seed=seed))


def test_readme_correction_calls_run_on_a_headless_scene(tmp_path, monkeypatch, capsys):
    validation_scene = new_scene()  # "dtc_data": a training-data folder with a validation case
    for seed, name in ((11, "other"), (12, "held_out")):
        recording = sweep(seed)
        images = add_volume_sequence(validation_scene, recording.images, name)
        add_sequence_browser(validation_scene, [images], f"{name} browser")
        add_annotation_sequence(validation_scene, images, {i: recording.masks.frames[i] for i in (1, 4)}, f"{name} masks")
    write_training_data(validation_scene, annotated_recordings(validation_scene), tmp_path / "dtc_data")

    scene = new_scene()
    recording = sweep(3)
    add_sequence_browser(scene, [add_volume_sequence(scene, recording.images, "sweep")], "sweep browser")
    composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    composite.SetLayoutName("Red")
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    monkeypatch.chdir(tmp_path)

    namespace = {"slicer": slicer}
    exec(compile(block("slicer-corrections-console"), str(README), "exec"), namespace)
    run = namespace["run"]
    assert composite.GetForegroundVolumeID() == run.displayed["flicker"].GetID()
    correct_frame(run, CORRECTED, recording.masks.frames[CORRECTED])  # the user's correction: the true mask
    exec(compile(block("slicer-retrain-console"), str(README), "exec"), namespace)

    assert capsys.readouterr().out.splitlines()[0] == f"[{CORRECTED}]"
    labelmaps = namespace["labelmaps"]
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(labelmaps.GetNthDataNode(CORRECTED))[0],
                                  recording.masks.frames[CORRECTED])
    cases = {case.id: case for case in load_manifest(tmp_path / "dtc_corrections").cases}
    assert {name: (case.split, case.labelled_frames) for name, case in cases.items()} == {
        "sweep": ("train", (CORRECTED,)), "training_other": ("train", (1, 4)), "validation_held_out": ("val", (1, 4))}
    process = namespace["process"]
    assert process.state == "finished", list(process.log)[-5:]
    assert json.loads((tmp_path / "dtc_finetuned" / "teacher_config.json").read_text())["teacher"]["init"] == str(
        default_model_path())
    assert namespace["model"] == tmp_path / "dtc_finetuned" / "student.safetensors"
    assert load_model(namespace["model"])[1].provenance["stage"] == "student"
