"""DTCTraining: train the DTC teacher and temporally distilled student from 3D Slicer.

The module is a thin GUI over ``DTCTrainingLib``.  It loads without torch: the
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


class DTCTraining(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "DTC Training"
        self.parent.categories = ["Ultrasound"]
        self.parent.dependencies = []
        self.parent.contributors = ["DTC extension contributors"]
        self.parent.helpText = (
            "Trains the DTC teacher on labelled frames, then a 2D student on video that learns temporal "
            "consistency from optical flow and prototype alignment, for use in DTC Segmentation."
        )
        self.parent.acknowledgementText = (
            "Implements 'Distilling Temporal Coherence into 2D Networks for Transrectal Ultrasound Prostate "
            "Video Segmentation' (MICCAI 2026)."
        )


class DTCTrainingWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DTCTraining.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DTCTrainingLogic()
        self.ui.refreshDependenciesButton.connect("clicked(bool)", self.updateDependencyStatus)
        self.updateDependencyStatus()

    def updateDependencyStatus(self):
        self.ui.dependencyStatusLabel.text = self.logic.dependencyStatusText()


class DTCTrainingLogic(ScriptedLoadableModuleLogic):
    """Everything the panel does, callable from the Python console."""

    def dependencyStatusText(self):
        """One line per required package: name, installed version or 'missing'."""
        return dependency_status_text()


class DTCTrainingTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_dependency_report()

    def test_dependency_report(self):
        text = DTCTrainingLogic().dependencyStatusText()
        self.assertIn("numpy:", text)
        logging.info(text)
