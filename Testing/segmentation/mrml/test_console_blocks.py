"""The panel's wiring to the library: its choices, and the README's console calls run as written headless."""

import re

import numpy as np
from samples import REPO_ROOT, recording, require_mrml

slicer = require_mrml()

from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, new_scene, read_scene_bundle  # noqa: E402
from DTCSegmentationLib.networks.default_model import default_model_path  # noqa: E402
from DTCSegmentationLib.sequence_io import read_sequence  # noqa: E402

ROOT = REPO_ROOT
README = ROOT / "README.md"


def console_block() -> str:
    block = re.search(r"<!-- slicer-console -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md has no console block after <!-- slicer-console -->"
    return block.group(1)


def test_readme_console_calls_run_on_a_headless_scene(tmp_path, monkeypatch, capsys):
    assert default_model_path().is_file()
    frames = recording(4)
    scene = new_scene()
    sequence = add_volume_sequence(scene, frames, "TRUS sweep")
    add_sequence_browser(scene, [sequence], "TRUS sweep browser")
    image = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")  # what OpenIGTLink updates
    slicer.util.updateVolumeFromArray(image, frames.frames[:1])
    for layout in ("Red", "Yellow"):
        scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode").SetLayoutName(layout)
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    monkeypatch.chdir(tmp_path)

    namespace = {"slicer": slicer}
    exec(compile(console_block(), str(README), "exec"), namespace)

    run = namespace["run"]
    assert run.masks.GetNumberOfDataNodes() == 4 and run.table.GetNumberOfRows() == 4
    assert "flicker_events" in capsys.readouterr().out
    composite = scene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
    assert composite.GetLabelVolumeID() == run.displayed["masks"].GetID()
    assert len(namespace["comparison"].runs) == 2
    masks = read_sequence(tmp_path / "dtc_out" / "TRUS_sweep_DTC_masks.nii.gz")
    np.testing.assert_array_equal(masks.frames[1], slicer.util.arrayFromVolume(run.masks.GetNthDataNode(1))[0])
    bundle = read_scene_bundle(tmp_path / "dtc_out" / "scene.mrb")
    assert bundle.GetFirstNodeByClass("vtkMRMLSequenceBrowserNode").GetNumberOfSynchronizedSequenceNodes() == 6
    assert not namespace["live"].running and namespace["live"].stats()["received"] == 1
