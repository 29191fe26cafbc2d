"""DTCSegmentation: temporally consistent prostate segmentation of TRUS video in 3D Slicer.

The module is a thin GUI over ``DTCSegmentationLib``: the panel's settings live in a parameter
node (saved with the scene), and every button is one call of :class:`DTCSegmentationLogic`,
which passes ``slicer.mrmlScene`` to ``DTCSegmentationLib.mrml``.  The module loads without
torch: the library and its dependencies are imported only when the user needs them.
"""

import contextlib
import logging
import os
import pathlib
import sys
import tempfile
import unittest
from typing import Annotated, Union

import qt
import slicer
import vtk
from DTCSegmentationLib.choices import BACKENDS, DEVICES, MASK_FORMATS, MASK_NODES
from DTCSegmentationLib.dependencies import dependencies_ready, dependency_status_text
from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLPlotChartNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSequenceBrowserNode,
    vtkMRMLSequenceNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

LIVE_POLL_MS = 10
LIVE_STATS_MS = 500
SETTINGS = {"modelPath": "DTCSegmentation/ModelPath", "device": "DTCSegmentation/Device",
            "backend": "DTCSegmentation/Backend"}
"""Parameters that outlive a scene: a new scene's panel starts from the user's last choice (QSettings)."""
SETTINGS_APPLIED = "DTC.SettingsApplied"
PATH_EDITS = {"modelPathLineEdit": "modelPath", "compareModelPathLineEdit": "compareModelPath"}
"""ctkPathLineEdits kept in step with string parameters here: bound to a pathlib.Path parameter by the
wrapper, an unset path would show as "." (``str(pathlib.Path())``)."""
SIMULATED_SWEEP = "DTC simulated TRUS sweep"


class DTCSegmentation(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DTC Segmentation")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Ultrasound")]
        self.parent.dependencies = ["Sequences", "Plots"]
        self.parent.contributors = ["DTC extension contributors"]
        self.parent.helpText = _(
            "Segments the prostate on every frame of a transrectal ultrasound sequence with a 2D network "
            "trained for temporal consistency (DTC), and shows how stable the masks are over time."
        )
        self.parent.acknowledgementText = _(
            "Implements 'Distilling Temporal Coherence into 2D Networks for Transrectal Ultrasound Prostate "
            "Video Segmentation' (MICCAI 2026)."
        )
        slicer.app.connect("startupCompleted()", registerSampleData)


def registerSampleData():
    """A simulated TRUS sweep in the Sample Data module, made on the fly (nothing is downloaded)."""
    import SampleData

    # SampleDataSource needs a URI and a file name to build its button, and only the button calls
    # customDownloader (SampleData.py, 5.6.2 to main); neither is ever fetched.
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="DTC", sampleName=SIMULATED_SWEEP, uris="dtc://simulated-trus-sweep",
        fileNames=f"{SIMULATED_SWEEP}.seq.nrrd", nodeNames=SIMULATED_SWEEP,
        thumbnailFileName=os.path.join(os.path.dirname(__file__), "Resources", "Icons", "DTCSegmentation.png"),
        customDownloader=loadSimulatedSweep)


def loadSimulatedSweep(source=None):
    """Sample Data's button: simulate a sweep into the scene (offering to install the packages first)."""
    logic = DTCSegmentationLogic()
    with slicer.util.tryWithErrorDisplay(_("The simulated sweep could not be made."), waitCursor=True):
        if logic.dependenciesReady() or logic.installDependencies():
            return logic.loadSimulatedSweep()
    return None


@parameterNodeWrapper
class DTCSegmentationParameterNode:
    """The panel's settings and its latest outputs (an empty model path means the shipped default model).

    A union of node types names None as well: the wrapper writes each field's default (None) when it
    creates the node, and only a None member can write it (Slicer's parameterNodeWrapper/serializers.py).
    """

    inputNode: Union[vtkMRMLSequenceBrowserNode, vtkMRMLSequenceNode, vtkMRMLScalarVolumeNode, None]
    modelPath: str = ""
    device: Annotated[str, Choice(list(DEVICES))] = "auto"
    backend: Annotated[str, Choice(list(BACKENDS))] = "eager"
    useModelThreshold: bool = True
    threshold: Annotated[float, WithinRange(0.01, 0.99)] = 0.5
    largestComponent: bool = True
    fillHoles: bool = True
    saveProbabilities: bool = False
    flickerDice: Annotated[float, WithinRange(0.5, 0.999)] = 0.9
    masksAs: Annotated[str, Choice(list(MASK_NODES))] = "labelmap"
    masks: Union[vtkMRMLSequenceNode, vtkMRMLLabelMapVolumeNode, None]
    consistencyTable: vtkMRMLTableNode
    consistencyChart: vtkMRMLPlotChartNode
    showFlicker: bool = True
    compareModelPath: str = ""
    comparisonChart: vtkMRMLPlotChartNode
    liveImage: vtkMRMLScalarVolumeNode
    liveMask: vtkMRMLLabelMapVolumeNode
    exportFolder: pathlib.Path = pathlib.Path.home() / "DTC"
    exportFormat: Annotated[str, Choice(list(MASK_FORMATS))] = "nii.gz"


class DTCSegmentationWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._cancelRequested = False
        self._liveTimer = None
        self._liveStatsElapsed = qt.QElapsedTimer()
        self._toolTips = {}
        self._modelSummary = (None, "")  # (path and file stamp, text): updateGui runs on every parameter change

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DTCSegmentation.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DTCSegmentationLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApply)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.defaultModelButton.connect("clicked(bool)", self.onDefaultModel)
        self.ui.showCurvesButton.connect("clicked(bool)", self.onShowCurves)
        self.ui.showFlickerCheckBox.connect("toggled(bool)", self.onShowFlicker)
        self.ui.compareButton.connect("clicked(bool)", self.onCompare)
        self.ui.liveButton.connect("toggled(bool)", self.onLiveToggled)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.reconstructGlandButton.connect("clicked(bool)", self.onReconstructGland)
        self.ui.saveBundleButton.connect("clicked(bool)", self.onSaveBundle)
        self.ui.refreshDependenciesButton.connect("clicked(bool)", self.updateDependencyStatus)
        self.ui.installDependenciesButton.connect("clicked(bool)", self.onInstallDependencies)
        for widgetName, parameterName in PATH_EDITS.items():
            getattr(self.ui, widgetName).connect(
                "currentPathChanged(QString)", lambda path, name=parameterName: self.onPathEdited(name, path))
        # The .ui's tooltips say what an enabled button does; a disabled one says why instead.
        self._toolTips = {name: getattr(self.ui, name).toolTip for name in (
            "applyButton", "compareButton", "showCurvesButton", "showFlickerCheckBox", "exportButton", "liveButton",
            "reconstructGlandButton")}

        self._liveTimer = qt.QTimer()
        self._liveTimer.setInterval(LIVE_POLL_MS)
        self._liveTimer.connect("timeout()", self.onLiveTimer)

        self.ui.cancelButton.enabled = False
        self.ui.progressBar.visible = False
        self.updateDependencyStatus()
        self.initializeParameterNode()

    def cleanup(self):
        self.stopLive()
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGui)

    def onReload(self):
        """Reload the library too, so that edits to DTCSegmentationLib take effect without restarting Slicer."""
        for name in [name for name in sys.modules if name == "DTCSegmentationLib" or name.startswith("DTCSegmentationLib.")]:
            del sys.modules[name]
        ScriptedLoadableModuleWidget.onReload(self)

    def onSceneStartClose(self, caller, event):
        self.stopLive()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        parameters = self.logic.getParameterNode()
        if not parameters.parameterNode.GetAttribute(SETTINGS_APPLIED):  # new, not restored with a scene
            settings = qt.QSettings()
            for name, key in SETTINGS.items():
                if settings.contains(key):
                    try:
                        setattr(parameters, name, str(settings.value(key)))
                    except ValueError:  # a choice this version no longer offers
                        logging.info(f"DTCSegmentation: setting {key}={settings.value(key)!r} ignored")
            parameters.parameterNode.SetAttribute(SETTINGS_APPLIED, "1")
        self.setParameterNode(parameters)
        if not self._parameterNode.inputNode:
            browser = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSequenceBrowserNode")
            if browser:
                self._parameterNode.inputNode = browser

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGui)
        self._parameterNode = parameterNode
        if self._parameterNode:
            # Widgets with a "SlicerParameterName" property in the .ui follow the parameter node both ways.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGui)
            self.updateGui()

    def onPathEdited(self, parameterName, path):
        if self._parameterNode is not None and getattr(self._parameterNode, parameterName) != path:
            setattr(self._parameterNode, parameterName, path)

    def updateGui(self, caller=None, event=None):
        parameters = self._parameterNode
        if parameters is None:
            return
        for widgetName, parameterName in PATH_EDITS.items():
            edit, value = getattr(self.ui, widgetName), getattr(parameters, parameterName)
            if edit.currentPath != value:
                edit.currentPath = value
        settings = qt.QSettings()
        for name, key in SETTINGS.items():
            settings.setValue(key, str(getattr(parameters, name)))
        running = self.ui.cancelButton.enabled
        noInput = _("Select a recording first: a sequence browser, a volume sequence or a volume.")
        busy = _("Wait for the run in progress to finish (or cancel it).")
        self._enable("applyButton", busy if running else None if parameters.inputNode else noInput)
        self.ui.thresholdSliderWidget.enabled = not parameters.useModelThreshold
        hasRun = bool(parameters.masks)
        for name in ("showCurvesButton", "showFlickerCheckBox", "exportButton", "reconstructGlandButton"):
            self._enable(name, busy if running else None if hasRun else _("Apply first: there are no results yet."))
        self._enable("compareButton", busy if running else noInput if not parameters.inputNode else None if _isSet(
            parameters.compareModelPath) else _("Choose a second model to compare with."))
        self.ui.summaryLabel.text = self.logic.summaryText(parameters.masks) if hasRun else _("No results yet.")
        self.ui.modelInfoLabel.text = self.modelSummary(parameters.modelPath)
        self._enable("liveButton", None if parameters.liveImage or self.ui.liveButton.checked else _(
            "Select the image volume that OpenIGTLink (or another module) updates."))

    def modelSummary(self, modelPath):
        """The model line under the model field, read again only when the path or the file changes."""
        path = pathlib.Path(modelPath) if _isSet(modelPath) else None
        try:
            stat = (path or self.logic.defaultModelPath()).stat()
            key = (path, stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (path, None, None)
        if key != self._modelSummary[0]:
            self._modelSummary = (key, self.logic.modelSummaryText(modelPath))
        return self._modelSummary[1]

    def _enable(self, widgetName, disabledBecause):
        """Enable a widget, or disable it with the reason as its tooltip (as Slicer's module template does)."""
        widget = getattr(self.ui, widgetName)
        widget.enabled = disabledBecause is None
        widget.toolTip = self._toolTips[widgetName] if disabledBecause is None else disabledBecause

    def packagesReady(self):
        """True when the packages are installed; otherwise offers to install them (any error in a dialog)."""
        if self.logic.dependenciesReady():
            return True
        try:
            with slicer.util.tryWithErrorDisplay(_("Installing the Python packages failed."), waitCursor=True):
                return bool(self.logic.installDependencies())
        finally:
            self.updateDependencyStatus()

    # ------------------------------------------------------------------ segmentation
    @contextlib.contextmanager
    def running(self, failure):
        """Progress bar and Cancel button shown while a run lasts; errors are shown in one message.

        ``tryWithErrorDisplay`` raises again after its message box, so the panel is put back in ``finally``.
        """
        self._cancelRequested = False
        self.ui.cancelButton.enabled = True
        self.ui.progressBar.visible = True
        self.updateGui()
        try:
            with slicer.util.tryWithErrorDisplay(failure, waitCursor=True):
                yield
        finally:
            self.ui.cancelButton.enabled = False
            self.ui.progressBar.visible = False
            self.updateGui()

    def onApply(self):
        if not self.packagesReady():
            return
        with self.running(_("Segmentation failed.")):
            run = self.logic.segmentFromParameters(self._parameterNode, self.onProgress, self.isCancelRequested)
            self.ui.modelPathLineEdit.addCurrentPathToHistory()  # the model loaded: remember it for the drop-down
            if run is not None:
                self.logic.show(run, flicker=self._parameterNode.showFlicker)
                self.logic.showChart(run.chart)

    def onProgress(self, done, total):
        self.ui.progressBar.maximum = total
        self.ui.progressBar.value = done
        slicer.app.processEvents()  # lets the Cancel button be pressed during the run

    def onCancel(self):
        self._cancelRequested = True

    def isCancelRequested(self):
        return self._cancelRequested

    def onDefaultModel(self):
        self._parameterNode.modelPath = str(self.logic.defaultModelPath())

    def onReconstructGland(self):
        with self.running(_("3D reconstruction failed.")):
            gland = self.logic.reconstructGland(self._parameterNode.masks)
            self.ui.glandLabel.text = self.logic.glandText(gland)
            slicer.util.resetThreeDViews()  # centre the 3D views on the new gland

    def onShowCurves(self):
        self.logic.showChart(self._parameterNode.consistencyChart)

    def onShowFlicker(self, checked):
        run = self.logic.findRun(self._parameterNode.masks)
        if run is not None:
            self.logic.show(run, flicker=checked)

    def onCompare(self):
        if not self.packagesReady():
            return
        parameters = self._parameterNode
        with self.running(_("Comparison failed.")):
            comparison = self.logic.compare(
                parameters.inputNode, self.logic.segmenterFromParameters(parameters),
                self.logic.segmenterFromParameters(parameters, parameters.compareModelPath),
                progress=self.onProgress, shouldCancel=self.isCancelRequested)
            self.ui.modelPathLineEdit.addCurrentPathToHistory()
            self.ui.compareModelPathLineEdit.addCurrentPathToHistory()
            if comparison is not None:
                parameters.comparisonChart = comparison.chart
                self.ui.comparisonLabel.text = self.logic.comparisonText(comparison)

    # ------------------------------------------------------------------ live
    def onLiveToggled(self, checked):
        if not checked:
            self.stopLive()
            return
        if not self.packagesReady():
            self.ui.liveButton.checked = False
            return
        try:
            with slicer.util.tryWithErrorDisplay(_("Could not start live segmentation."), waitCursor=True):
                live = self.logic.startLiveFromParameters(self._parameterNode)
        except Exception:
            self.ui.liveButton.checked = False  # the message box has been shown; the error goes on to the console
            raise
        self.ui.modelPathLineEdit.addCurrentPathToHistory()
        self._parameterNode.liveMask = live.mask_node
        self._liveStatsElapsed.start()
        self._liveTimer.start()
        self.ui.liveButton.text = _("Stop live")

    def onLiveTimer(self):
        try:
            self.logic.pollLive()
        except Exception as error:  # the model failed in the live process: stop and say why
            self.ui.liveButton.checked = False
            self.stopLive()
            slicer.util.errorDisplay(_("Live segmentation stopped: {error}").format(error=error))
            return
        if self._liveStatsElapsed.elapsed() >= LIVE_STATS_MS:
            self._liveStatsElapsed.restart()
            self.ui.liveStatsLabel.text = self.logic.liveStatsText()

    def stopLive(self):
        if self._liveTimer is not None:
            self._liveTimer.stop()
        if self.logic is not None and self.logic.live is not None:
            self.ui.liveStatsLabel.text = self.logic.liveStatsText()
            self.logic.stopLive()
        self.ui.liveButton.text = _("Start live")

    # ------------------------------------------------------------------ export and setup
    def onExport(self):
        if not self.packagesReady():
            return
        parameters = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Export failed."), waitCursor=True):
            paths = self.logic.export(self.logic.findRun(parameters.masks), parameters.exportFolder,
                                      parameters.exportFormat)
            slicer.util.infoDisplay(_("Written:") + "\n" + "\n".join(str(path) for path in paths.values()))

    def onSaveBundle(self):
        path = qt.QFileDialog.getSaveFileName(None, _("Save scene bundle"), str(self._parameterNode.exportFolder),
                                              _("Slicer scene bundle") + " (*.mrb)")
        if path:
            with slicer.util.tryWithErrorDisplay(_("The scene bundle could not be saved."), waitCursor=True):
                self.logic.saveBundle(path)

    def updateDependencyStatus(self):
        self.ui.dependencyStatusLabel.text = self.logic.dependencyStatusText()

    def onInstallDependencies(self):
        try:
            with slicer.util.tryWithErrorDisplay(_("Installing the Python packages failed."), waitCursor=True):
                self.logic.installDependencies()
        finally:  # also after a failure: the packages installed before it are there
            self.updateDependencyStatus()


class DTCSegmentationLogic(ScriptedLoadableModuleLogic):
    """Everything the panel does, each one call from the Python console (on ``slicer.mrmlScene``)."""

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self.live = None

    def getParameterNode(self):
        return DTCSegmentationParameterNode(super().getParameterNode())

    @staticmethod
    def dependenciesReady():
        """Whether torch and the other packages are installed (nothing is imported to find out)."""
        return dependencies_ready()

    @staticmethod
    def defaultModelPath():
        """The model shipped with the extension."""
        from DTCSegmentationLib.networks.default_model import default_model_path

        return default_model_path()

    def modelSummaryText(self, modelPath=None):
        """One line about ``modelPath`` (default: the shipped model), or why it cannot be read."""
        if not self.dependenciesReady():
            return _("Install the Python packages to read the model file.")
        from DTCSegmentationLib.errors import DTCError
        from DTCSegmentationLib.networks.model_description import describe_model_file

        path = modelPath if _isSet(modelPath) else self.defaultModelPath()
        try:
            return describe_model_file(path)
        except DTCError as error:
            return str(error)

    def segmenter(self, modelPath=None, device="auto", backend="eager", threshold=None, largestComponent=True,
                  fillHoles=True):
        """A segmenter for ``modelPath`` (default: the shipped model); ``threshold`` None keeps the model's."""
        from DTCSegmentationLib.inference.segmenter import Segmenter

        path = modelPath if _isSet(modelPath) else self.defaultModelPath()
        return Segmenter.from_file(path, device=device, backend=backend, threshold=threshold,
                                   largest_component=largestComponent, fill_holes=fillHoles)

    def segmenterFromParameters(self, parameters, modelPath=None):
        """The segmenter the panel's settings describe (``modelPath`` overrides the panel's model)."""
        return self.segmenter(modelPath or parameters.modelPath, parameters.device, parameters.backend,
                              None if parameters.useModelThreshold else parameters.threshold,
                              parameters.largestComponent, parameters.fillHoles)

    def segment(self, inputNode, segmenter, probabilities=False, flickerDice=0.9, progress=None, shouldCancel=None,
                masksAs="labelmap"):
        """Segment a browser / sequence / volume; returns the run (masks, flicker maps, table, charts, summary).

        ``masksAs="segmentation"`` adds a segmentation sequence (one Prostate segment per frame) to correct in the
        Segment Editor; ``correctedFrames(run)`` then lists the frames that differ from the model's masks."""
        from DTCSegmentationLib.mrml import segment_recording

        return segment_recording(slicer.mrmlScene, inputNode, segmenter, probabilities=probabilities,
                                 flicker_dice=flickerDice, progress=progress, should_cancel=shouldCancel,
                                 masks_as=masksAs)

    @staticmethod
    def segmentationsFromLabelmaps(labelmaps, name=None):
        """A segmentation sequence (one Prostate segment per frame) from a labelmap sequence or its proxy, played by
        the same browser with its edits saved."""
        from DTCSegmentationLib.mrml import segmentations_from_labelmaps

        return segmentations_from_labelmaps(slicer.mrmlScene, labelmaps, name)

    @staticmethod
    def labelmapsFromSegmentations(segmentations, frames=None, name=None):
        """A labelmap sequence (0/1 on each frame's grid) from a segmentation sequence or its proxy."""
        from DTCSegmentationLib.mrml import labelmaps_from_segmentations

        return labelmaps_from_segmentations(slicer.mrmlScene, segmentations, frames, name)

    @staticmethod
    def correctedFrames(run):
        """Frame indices whose segment the user changed (the run's segmentation against the model's masks)."""
        from DTCSegmentationLib.mrml import corrected_frames

        return corrected_frames(slicer.mrmlScene, run)

    def segmentFromParameters(self, parameters, progress=None, shouldCancel=None):
        """Apply: segment with the panel's settings, replacing the previous run's outputs; None if cancelled."""
        from DTCSegmentationLib.mrml import SegmentationCancelled

        previous = self.findRun(parameters.masks)
        try:
            run = self.segment(parameters.inputNode, self.segmenterFromParameters(parameters),
                               parameters.saveProbabilities, parameters.flickerDice, progress, shouldCancel,
                               parameters.masksAs)
        except SegmentationCancelled as cancelled:
            logging.info(str(cancelled))
            return None
        if previous is not None and _recordingID(previous) == _recordingID(run):
            previous.remove(slicer.mrmlScene)  # Apply again on the same recording replaces its results
        parameters.masks = run.masks
        parameters.consistencyTable = run.table
        parameters.consistencyChart = run.chart
        return run

    @staticmethod
    def findRun(node):
        """The run a DTC output node belongs to (restored from the scene), or None."""
        from DTCSegmentationLib.mrml import find_run

        return find_run(slicer.mrmlScene, node) if node is not None else None

    def summaryText(self, masksNode):
        """The consistency summary of the run that made ``masksNode``, for the panel."""
        run = self.findRun(masksNode)
        if run is None:
            return _("No results yet.")
        summary = run.summary
        return _("{frames} frames | consistency {raw:.4f} (flow-compensated {flow:.4f}) | flow Dice {dice:.3f} | "
                 "flicker events {events} ({rate:.1f} %) | area jitter {jitter:.3f}").format(
            frames=summary["frames"], raw=summary["raw_consistency"], flow=summary["flow_consistency"],
            dice=summary["flow_dice"], events=summary["flicker_events"], rate=100 * summary["flicker_rate"],
            jitter=summary["area_jitter"])

    def reconstructGland(self, masksNode, spacingMm=0.5):
        """The gland in 3D from a run's masks (each frame placed by its own IJK-to-RAS, as tracked recordings are):
        labelmap, segmentation and surface model in the scene; ``.summary`` has the volume in mL and the frames used."""
        from DTCSegmentationLib.mrml import reconstruct_gland

        return reconstruct_gland(slicer.mrmlScene, masksNode, spacing_mm=spacingMm)

    @staticmethod
    def glandText(gland):
        """The reconstruction's volume and frames, for the panel."""
        summary = gland.summary
        return _("Prostate volume {volume:.1f} mL, from {withGland} frames showing the gland of {used} tracked frames "
                 "({total} in the recording).").format(volume=summary["volume_ml"], withGland=summary["frames_with_gland"],
                                                      used=summary["frames_used"], total=summary["frames_total"])

    def show(self, run, flicker=True):
        """Frames, mask and (optionally) the flicker overlay in every slice view."""
        run.show(slicer.mrmlScene, flicker=flicker)

    @staticmethod
    def showChart(chart):
        """Switch to a layout with a plot view and show ``chart`` in it."""
        if chart is not None:
            slicer.modules.plots.logic().ShowChartInLayout(chart)

    def compare(self, inputNode, segmenter, otherSegmenter, labels=("model", "compared"), progress=None,
                shouldCancel=None):
        """Two models on one recording: both runs, a combined table and chart, shown side by side; None if cancelled."""
        from DTCSegmentationLib.mrml import SegmentationCancelled, compare_models

        try:
            comparison = compare_models(slicer.mrmlScene, inputNode, dict(zip(labels, (segmenter, otherSegmenter))),
                                        progress=progress, should_cancel=shouldCancel)
        except SegmentationCancelled as cancelled:
            logging.info(str(cancelled))
            return None
        slicer.app.layoutManager().setLayout(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotView)
        # Red is axial and Yellow sagittal in this layout: both are turned to the frames' plane and fitted.
        comparison.show(slicer.mrmlScene, views=("Red", "Yellow"), application_logic=slicer.app.applicationLogic())
        self.showChart(comparison.chart)
        return comparison

    @staticmethod
    def comparisonText(comparison):
        summary = comparison.summary()
        lines = [_("{label}: flow Dice {dice:.3f}, flicker events {events}").format(
            label=label, dice=scores["flow_dice"], events=scores["flicker_events"])
            for label, scores in summary.items() if label != "agreement"]
        agreement = summary["agreement"]
        return "\n".join(lines + [_("agreement: mean Dice {mean:.3f} (min {minimum:.3f})").format(
            mean=agreement["mean_dice"], minimum=agreement["min_dice"])])

    def startLive(self, imageNode, modelPath=None, device="auto", backend="onnx", threshold=None, largestComponent=True,
                  fillHoles=True, maskNode=None):
        """Segment every update of ``imageNode`` into ``maskNode`` (created if None); call :meth:`pollLive` often.

        The model runs in a child process (``PythonSlicer -m DTCSegmentationLib.live``), not on a thread
        of Slicer's process: such a thread advances only while Slicer's main thread runs Python
        (``bench/bench_live_in_slicer.py`` measures both; numbers in the README).
        """
        from DTCSegmentationLib.live.bridge_worker import BridgeWorker
        from DTCSegmentationLib.mrml import LiveSegmentation

        self.stopLive()
        worker = BridgeWorker(modelPath if _isSet(modelPath) else self.defaultModelPath(), device, backend, threshold,
                              largestComponent, fillHoles)  # python: sys.executable, which is PythonSlicer in Slicer
        self.live = LiveSegmentation(slicer.mrmlScene, imageNode, mask_node=maskNode, worker=worker).start()
        slicer.util.setSliceViewerLayers(background=imageNode, label=self.live.mask_node)
        return self.live

    def startLiveFromParameters(self, parameters):
        """Start live mode on the panel's image with the panel's model and settings."""
        return self.startLive(parameters.liveImage, parameters.modelPath, parameters.device, parameters.backend,
                              None if parameters.useModelThreshold else parameters.threshold, parameters.largestComponent,
                              parameters.fillHoles, parameters.liveMask)

    def pollLive(self):
        """Show the newest live mask; True if the mask node changed."""
        return self.live.poll() if self.live is not None else False

    def liveStatsText(self):
        if self.live is None:
            return ""
        stats = self.live.stats()
        latency = "-" if stats["latency_p50_ms"] is None else f"{stats['latency_p50_ms']:.0f} / {stats['latency_p99_ms']:.0f}"
        return _("{rate:.1f} frames/s | latency p50 / p99 {latency} ms | {segmented} segmented, {dropped} dropped").format(
            rate=stats["frames_per_second"], latency=latency, segmented=stats["segmented"], dropped=stats["dropped"])

    def stopLive(self):
        if self.live is not None:
            self.live.stop()
            self.live = None

    @staticmethod
    def export(run, folder, format="nii.gz", overwrite=False):
        """Masks, flicker maps (and probabilities) as files plus the per-frame CSV; returns name -> path."""
        from DTCSegmentationLib.mrml import export_recording

        return export_recording(run, folder, format, overwrite)

    @staticmethod
    def saveBundle(path, overwrite=True):
        """The whole scene (frames, masks, flicker maps, browser, table, charts) as one ``.mrb``."""
        from DTCSegmentationLib.mrml import write_scene_bundle

        return write_scene_bundle(slicer.mrmlScene, path, overwrite)

    def dependencyStatusText(self):
        """One line per required package: name, installed version or 'missing'."""
        return dependency_status_text()

    @staticmethod
    def installDependencies():
        """PyTorch through the PyTorch extension, then the missing packages with pip (asks first); True when done."""
        from DTCSegmentationLib.dependencies import ensure_with_pytorch_utils
        from PyTorchUtils import PyTorchUtilsLogic

        return ensure_with_pytorch_utils(PyTorchUtilsLogic(), lambda text: slicer.util.confirmOkCancelDisplay(
            text, _("DTC Segmentation")), slicer.util.pip_install)

    @staticmethod
    def loadSimulatedSweep(view="axial", frames=60, seed=0, name=SIMULATED_SWEEP):
        """A simulated TRUS sweep (``dtc simulate``) as a volume sequence with its browser, shown in the views."""
        from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence
        from DTCSegmentationLib.simulation import SimulationConfig, simulate

        images = simulate(SimulationConfig(view=view, num_frames=frames, seed=seed)).images
        sequence = add_volume_sequence(slicer.mrmlScene, images, name)
        browser = add_sequence_browser(slicer.mrmlScene, [sequence], f"{name} browser")
        slicer.util.setSliceViewerLayers(background=browser.GetProxyNode(sequence), fit=True)
        return browser


def _isSet(path):
    """False for an unset path parameter (None, empty, or the wrapper's default ".")."""
    return path is not None and str(path) not in ("", ".")


def _recordingID(run):
    """ID of the sequence or volume a run segmented."""
    return (run.source.sequence or run.source.volume).GetID()


class DTCSegmentationTest(ScriptedLoadableModuleTest):
    """The headless MRML checks again, inside Slicer on ``slicer.mrmlScene`` with the application's logics.

    ctest runs each ``test_*`` method on its own (``slicer.testing.runUnitTest`` loads them by name), so
    every method that needs torch or the other packages skips itself while they are missing.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        """What the panel's Reload and Test runs: every test, a skipped one logged rather than raised."""
        for name in ("test_dependency_report", "test_segment_browser_and_reload_bundle",
                     "test_parameter_node_restores_the_panel", "test_live_mask_follows_image_updates",
                     "test_gland_in_3d_from_a_tracked_sweep", "test_corrected_frame_in_the_segmentation"):
            self.setUp()
            try:
                getattr(self, name)()
            except unittest.SkipTest as skipped:
                logging.info(f"DTCSegmentation self-test {name} skipped: {skipped}")

    def requirePackages(self):
        if not dependencies_ready():
            self.skipTest("torch or other Python packages are missing (Setup > Install missing packages)")

    def test_dependency_report(self):
        text = DTCSegmentationLogic().dependencyStatusText()
        self.assertIn("numpy:", text)
        logging.info(text)

    def _tinyModel(self, folder):
        import torch
        from DTCSegmentationLib.networks import build_network
        from DTCSegmentationLib.networks.model_file import ModelInfo, save_model

        torch.manual_seed(0)
        arguments = {"features": [8, 8, 16, 16]}
        return save_model(pathlib.Path(folder) / "tiny.safetensors", build_network("fast_unet", arguments=arguments),
                          ModelInfo(arguments=arguments, input_size=(64, 96)))

    def _tinySegmenter(self, folder):
        return DTCSegmentationLogic().segmenter(self._tinyModel(folder), device="cpu", threshold=0.5)

    def _recording(self):
        from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence
        from DTCSegmentationLib.simulation import SimulationConfig, simulate

        images = simulate(SimulationConfig(num_frames=5, height=64, width=96, seed=3)).images
        sequence = add_volume_sequence(slicer.mrmlScene, images, "US frames")
        return images, sequence, add_sequence_browser(slicer.mrmlScene, [sequence], "US browser")

    def test_segment_browser_and_reload_bundle(self):
        self.requirePackages()
        import numpy as np

        logic = DTCSegmentationLogic()
        images, sequence, browser = self._recording()
        with tempfile.TemporaryDirectory() as folder:
            segmenter = self._tinySegmenter(folder)
            run = logic.segment(browser, segmenter)
            self.assertEqual(run.masks.GetNumberOfDataNodes(), 5)
            self.assertEqual(browser.GetNumberOfSynchronizedSequenceNodes(), 2)
            browser.SetSelectedItemNumber(3)
            expected = segmenter.segment_frame(images.frames[3]).mask
            np.testing.assert_array_equal(slicer.util.arrayFromVolume(run.displayed["masks"])[0], expected)
            frameMatrix, maskMatrix = vtk.vtkMatrix4x4(), vtk.vtkMatrix4x4()
            browser.GetProxyNode(sequence).GetIJKToRASMatrix(frameMatrix)
            run.displayed["masks"].GetIJKToRASMatrix(maskMatrix)
            self.assertTrue(all(frameMatrix.GetElement(r, c) == maskMatrix.GetElement(r, c)
                                for r in range(4) for c in range(4)))
            self.assertEqual(run.table.GetNumberOfRows(), 5)
            self.assertEqual(run.chart.GetNumberOfPlotSeriesNodes(), 4)
            path = logic.saveBundle(pathlib.Path(folder) / "run.mrb")
            slicer.mrmlScene.Clear()
            slicer.util.loadScene(str(path))
            reloaded = logic.findRun(slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLTableNode"))
            self.assertEqual(reloaded.masks.GetNumberOfDataNodes(), 5)
            reloaded.source.browser.SetSelectedItemNumber(3)
            np.testing.assert_array_equal(slicer.util.arrayFromVolume(reloaded.displayed["masks"])[0], expected)

    def test_gland_in_3d_from_a_tracked_sweep(self):
        """A ball of radius 12 mm cut by 41 tracked parallel frames 1 mm apart: the gland's volume is 4/3 pi r^3."""
        self.requirePackages()
        import numpy as np
        from DTCSegmentationLib.mrml import add_volume_sequence
        from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence

        radius, pixel = 12.0, 0.5
        rows, columns = np.mgrid[:64, :64] * pixel - 15.75  # pixel centres, mm from the ball's axis
        heights = np.arange(-20.0, 21.0)
        masks = np.stack([(rows ** 2 + columns ** 2 + z ** 2 <= radius ** 2).astype(np.uint8) for z in heights])
        poses = np.repeat(np.diag([pixel, pixel, 1.0, 1.0])[None], len(heights), axis=0)
        poses[:, :3, 3] = np.stack([np.full_like(heights, -15.75), np.full_like(heights, -15.75), heights], axis=1)
        sequence = add_volume_sequence(slicer.mrmlScene, FrameSequence(
            masks, FrameGeometry((pixel, pixel, 1.0)), frame_poses=poses), "tracked masks", "labelmap")
        gland = DTCSegmentationLogic().reconstructGland(sequence)
        self.assertAlmostEqual(gland.volume_ml, 4.0 / 3.0 * np.pi * radius ** 3 / 1000.0, delta=0.1)  # 7.24 mL, 1.4 %
        self.assertEqual(gland.summary["frames_with_gland"], 23)  # |z| <= 11 mm: at 12 mm the cut is a single point
        self.assertTrue(gland.model.GetDisplayNode().GetVisibility3D())
        self.assertIn("mL", DTCSegmentationLogic.glandText(gland))

    def test_corrected_frame_in_the_segmentation(self):
        """Masks as a segmentation; an edit of the shown frame through slicer.util (the Segmentations module's
        logic, as Segment Editor effects use it) is kept by the browser and counts as a correction."""
        self.requirePackages()
        import numpy as np

        logic = DTCSegmentationLogic()
        images, sequence, browser = self._recording()
        with tempfile.TemporaryDirectory() as folder:
            run = logic.segment(browser, self._tinySegmenter(folder), masksAs="segmentation")
        self.assertEqual(browser.GetNumberOfSynchronizedSequenceNodes(), 3)
        browser.SetSelectedItemNumber(3)
        mask = np.zeros((1,) + images.frames.shape[1:3], np.uint8)
        mask[0, 20:40, 30:60] = 1
        slicer.util.updateSegmentBinaryLabelmapFromArray(mask, run.displayed["segmentation"], "Prostate",
                                                         browser.GetProxyNode(sequence))
        browser.SetSelectedItemNumber(0)
        self.assertEqual(logic.correctedFrames(run), [3])

    def test_parameter_node_restores_the_panel(self):
        self.requirePackages()
        logic = DTCSegmentationLogic()
        parameters = logic.getParameterNode()
        _, _, browser = self._recording()
        parameters.inputNode = browser
        parameters.threshold = 0.3
        parameters.backend = "onnx"
        restored = DTCSegmentationParameterNode(parameters.parameterNode)
        self.assertIs(restored.inputNode, browser)
        self.assertEqual((restored.threshold, restored.backend), (0.3, "onnx"))

    def test_live_mask_follows_image_updates(self):
        self.requirePackages()
        import time

        import numpy as np

        logic = DTCSegmentationLogic()
        images, _, _ = self._recording()
        image = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
        with tempfile.TemporaryDirectory() as folder:
            model = self._tinyModel(folder)
            segmenter = logic.segmenter(model, device="cpu", threshold=0.5)
            live = logic.startLive(image, model, device="cpu", backend="eager", threshold=0.5)
            try:
                for frame in images.frames:
                    slicer.util.updateVolumeFromArray(image, frame[None])
                    deadline = time.time() + 10
                    while not logic.pollLive():
                        self.assertLess(time.time(), deadline)
                        time.sleep(0.005)
                    np.testing.assert_array_equal(slicer.util.arrayFromVolume(live.mask_node)[0],
                                                  segmenter.segment_frame(frame).mask)
                self.assertEqual(live.stats()["segmented"], len(images.frames))
            finally:
                logic.stopLive()
