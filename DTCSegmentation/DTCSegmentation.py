"""DTCSegmentation: temporally consistent prostate segmentation of TRUS video in 3D Slicer.

The module is a thin GUI over ``DTCSegmentationLib``.  It loads without torch: the
library and its dependencies are imported only when the user needs them.
"""

import logging

import slicer
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)

from DTCSegmentationLib.dependencies import dependency_status_text


class DTCSegmentation(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "DTC Segmentation"
        self.parent.categories = ["Ultrasound"]
        self.parent.dependencies = []
        self.parent.contributors = ["DTC extension contributors"]
        self.parent.helpText = (
            "Segments the prostate on every frame of a transrectal ultrasound sequence with a 2D network "
            "trained for temporal consistency (DTC), and shows how stable the masks are over time."
        )
        self.parent.acknowledgementText = (
            "Implements 'Distilling Temporal Coherence into 2D Networks for Transrectal Ultrasound Prostate "
            "Video Segmentation' (MICCAI 2026)."
        )


class DTCSegmentationWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DTCSegmentation.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DTCSegmentationLogic()
        self.ui.refreshDependenciesButton.connect("clicked(bool)", self.updateDependencyStatus)
        self.updateDependencyStatus()

    def updateDependencyStatus(self):
        self.ui.dependencyStatusLabel.text = self.logic.dependencyStatusText()


class DTCSegmentationLogic(ScriptedLoadableModuleLogic):
    """Everything the panel does, callable from the Python console."""

    def dependencyStatusText(self):
        """One line per required package: name, installed version or 'missing'."""
        return dependency_status_text()


class DTCSegmentationTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_dependency_report()

    def test_dependency_report(self):
        text = DTCSegmentationLogic().dependencyStatusText()
        self.assertIn("numpy:", text)
        logging.info(text)
