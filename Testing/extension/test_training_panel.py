"""The DTC Training panel's own code (DTCTraining.py) on a real headless scene, with stand-ins for Qt and the
application (``slicer_stand_ins``)."""

import pytest
from samples import require_mrml

slicer = require_mrml()
stand_ins = pytest.importorskip("slicer_stand_ins")

from DTCSegmentationLib.mrml import new_scene  # noqa: E402


@pytest.fixture
def panel():
    with stand_ins.installed(scene=new_scene()):
        module = stand_ins.load_module("DTCTraining")
        widget = module.DTCTrainingWidget()
        widget.setup()
        yield widget


def errors():
    return [text for kind, text in stand_ins.DISPLAYED if kind == "error"]


def test_training_curves_stay_when_another_module_shows_its_chart(panel):
    """Slicer's Plots logic (the real vtkSlicerPlotsLogic) puts a shown chart in every plot view that propagates."""
    from DTCTrainingLib.mrml import training_curves

    events = [{"event": "epoch", "stage": "teacher", "epoch": 1, "losses": {"total": 1.0}, "val": {"dice": 0.5}}]
    _, curves = training_curves(slicer.mrmlScene, events, ("teacher",))
    panel._showChart(curves)
    other = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotChartNode", "consistency")
    slicer.modules.plots.logic().ShowChartInLayout(other)  # DTC Segmentation's Show curves
    assert panel._plotViewNode.GetPlotChartNodeID() == curves.GetID()
    layout_view = next(slicer.mrmlScene.GetNthNodeByClass(index, "vtkMRMLPlotViewNode") for index in range(
        slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLPlotViewNode"))
        if slicer.mrmlScene.GetNthNodeByClass(index, "vtkMRMLPlotViewNode") is not panel._plotViewNode)
    assert layout_view.GetPlotChartNodeID() == other.GetID()  # the propagation did happen elsewhere
    panel._showChart(curves)
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLPlotViewNode") == 2  # the panel's view is made once


def test_a_failed_install_on_start_shows_why(panel):
    from DTCSegmentationLib.errors import DTCError

    def fail():
        raise DTCError("pip did not install monai.", fix="See the Python console.")

    panel.logic.dependenciesReady = lambda: False
    panel.logic.ensureDependencies = fail
    with pytest.raises(DTCError):
        panel.onStart()
    assert errors() and "pip did not install monai" in errors()[-1]


def test_unset_folders_show_empty_and_follow_the_parameter_node(panel):
    assert panel.ui.dataFolderPathLineEdit.currentPath == "" and panel.ui.outputFolderPathLineEdit.currentPath == ""
    panel.ui.outputFolderPathLineEdit.currentPath = "/runs/first"  # the user picks a folder
    assert panel._parameterNode.outputFolder == "/runs/first"
    panel._parameterNode.dataFolder = "/data/trus"
    assert panel.ui.dataFolderPathLineEdit.currentPath == "/data/trus"


def test_disabled_buttons_say_why(panel):
    for name, reason in (("resumeButton", "no checkpoint"), ("useModelButton", "not trained"),
                         ("cancelButton", "No training run")):
        button = getattr(panel.ui, name)
        assert not button.enabled and reason in button.toolTip, name
    assert panel.ui.startButton.enabled and panel.ui.startButton.toolTip == "Start training in a separate process."


def test_fine_tune_on_corrections_exports_them_and_starts_from_the_segmentation_model(panel, tmp_path):
    """The button's call: corrections of the scene as training data, the panel's output folder and settings, the
    training-data folder as validation, DTC Segmentation's model as the start, a short schedule."""
    import numpy as np
    from DTCSegmentationLib.inference.segmenter import Segmenter
    from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, segment_recording
    from DTCTrainingLib.data.manifest import load_manifest
    from samples import correct_frame, recording, tiny_model_file

    assert not panel.ui.fineTuneButton.enabled and "output folder" in panel.ui.fineTuneButton.toolTip
    scene = slicer.mrmlScene
    model = tiny_model_file(tmp_path / "current.safetensors", input_size=(64, 96))
    for seed, frame in ((1, 2), (2, 4)):
        images = add_volume_sequence(scene, recording(5, seed), f"sweep{seed}")
        run = segment_recording(scene, add_sequence_browser(scene, [images]), Segmenter.from_file(model, device="cpu"),
                                masks_as="segmentation")
        mask = np.zeros((64, 96), np.uint8)
        mask[10:30, 20:60] = 1
        correct_frame(run, frame, mask)
    parameters = panel._parameterNode
    parameters.outputFolder, parameters.batchSize, parameters.epochs = str(tmp_path / "run"), 3, 50
    panel.updateButtons()
    assert panel.ui.fineTuneButton.enabled
    started = []
    panel.logic.currentModelPath = lambda: model
    panel.logic.train = lambda *args, **kwargs: started.append((args, kwargs))
    panel.logic.fineTuneFromParameters(parameters)

    ((data, out, stage, overrides), _), = started
    assert (out, stage) == (str(tmp_path / "run"), "all") and data == tmp_path / "run" / "corrections_data"
    cases = {case.id: (case.split, case.labelled_frames) for case in load_manifest(data).cases}
    assert cases == {"sweep1": ("train", (2,)), "sweep2": ("val", (4,))}
    assert overrides["teacher.init"] == str(model) and overrides["optim.batch_size"] == 3
    assert overrides["optim.epochs"] == 5 and (overrides["data.height"], overrides["data.width"]) == (64, 96)

    # with a training-data folder: its train cases train alongside the corrections, its val cases validate
    from DTCSegmentationLib.mrml import new_scene
    from DTCTrainingLib.mrml import add_annotation_sequence, annotated_recordings, write_training_data

    other = new_scene()
    for seed, name in ((7, "old_train"), (8, "old_val")):
        images = add_volume_sequence(other, recording(5, seed), name)
        add_sequence_browser(other, [images])
        add_annotation_sequence(other, images, {1: mask}, f"{name} masks")
    parameters.dataFolder = str(write_training_data(other, annotated_recordings(other), tmp_path / "old").parent)
    started.clear()
    panel.logic.fineTuneFromParameters(parameters)
    ((data, *_), _), = started
    cases = {case.id: (case.split, case.labelled_frames) for case in load_manifest(data).cases}
    assert cases == {"sweep1": ("train", (2,)), "sweep2": ("train", (4,)), "training_old_train": ("train", (1,)),
                     "validation_old_val": ("val", (1,))}
