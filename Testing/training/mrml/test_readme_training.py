"""The README's "Training in Slicer" console calls run as written on a headless scene with annotated recordings."""

import re

import pytest
from DTCSegmentationLib.networks.model_file import load_model
from DTCSegmentationLib.simulation import SimulationConfig, simulate
from samples import REPO_ROOT

slicer = pytest.importorskip("slicer")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("slicer-core is not installed", allow_module_level=True)

from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, new_scene  # noqa: E402
from DTCTrainingLib.mrml import add_annotation_sequence  # noqa: E402

pytestmark = pytest.mark.slow  # trains networks or opens sockets

README = REPO_ROOT / "README.md"


def training_console_block() -> str:
    block = re.search(r"<!-- slicer-training-console -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md has no console block after <!-- slicer-training-console -->"
    return block.group(1)


def test_readme_training_calls_run_on_a_headless_scene(tmp_path, monkeypatch, capsys):
    scene = new_scene()
    for seed, view in ((4, "axial"), (5, "sagittal")):
        recording = simulate(SimulationConfig(view=view, num_frames=6, height=48, width=64, seed=seed))
        images = add_volume_sequence(scene, recording.images, f"{view} sweep")
        add_sequence_browser(scene, [images], f"{view} browser")
        add_annotation_sequence(scene, images, {i: recording.masks.frames[i] for i in (0, 2, 4)}, f"{view} prostate")
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    monkeypatch.chdir(tmp_path)

    namespace = {"slicer": slicer}
    exec(compile(training_console_block(), str(README), "exec"), namespace)

    process = namespace["process"]
    assert process.state == "finished", list(process.log)[-5:]
    assert capsys.readouterr().out.startswith("finished student done: best validation Dice")
    assert sorted(p.name for p in (tmp_path / "dtc_data").iterdir()) == ["axial_sweep", "dataset.json", "sagittal_sweep"]
    table, chart = namespace["table"], namespace["chart"]
    assert table.GetNumberOfRows() == 2 and chart.GetNumberOfPlotSeriesNodes() == 4
    assert namespace["model"] == tmp_path / "dtc_run" / "student.safetensors"
    assert load_model(namespace["model"])[1].provenance["stage"] == "student"
