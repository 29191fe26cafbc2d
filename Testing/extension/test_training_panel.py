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
