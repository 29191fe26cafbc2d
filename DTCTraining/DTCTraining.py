"""DTCTraining: train the DTC teacher and temporally distilled student from 3D Slicer.

The module is a thin GUI over ``DTCTrainingLib``: training runs in a child process
(``TrainingProcess``, Slicer's own Python), polled by a timer; the MRML adapter turns the scene's
annotated sequences into training data and the run's events into live curves.  It loads
without torch: the heavy libraries are imported, and installed if the user agrees, only on use.
"""

import logging
import pathlib
import shutil
import sys
import unittest
from typing import Annotated, Optional

import qt
import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

try:
    from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
except ImportError:  # Slicer before 5.4
    raise ImportError("DTC Training needs 3D Slicer 5.4 or newer (typed parameter nodes).") from None

from DTCSegmentationLib.choices import DEVICES, FLOW_METHODS, NETWORK_NAMES
from DTCSegmentationLib.dependencies import dependencies_ready, dependency_status_text, ensure_with_pytorch_utils
from DTCTrainingLib.panel_settings import (
    PANEL_SETTINGS,
    STAGE_CHOICES,
    default_value,
    panel_overrides,
)
from DTCTrainingLib.run_folder import has_checkpoint
from DTCTrainingLib.training_process import TrainingProcess, event_summary

SCENE_DATA_FOLDER = "scene_data"  # inside the output folder: the scene's recordings as a training-data folder
CORRECTIONS_FOLDER = "corrections_data"  # inside the output folder: the corrected frames as a training-data folder
FINE_TUNE_PANEL_SETTINGS = ("batchSize", "weightSegmentation", "weightDistillation", "weightConsistency",
                            "weightPrototype", "flowMethod", "device", "amp")
"""Panel settings a fine-tuning run takes; network, input size and the (short) schedule come from the model."""


class DTCTraining(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DTC Training")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Ultrasound")]
        self.parent.dependencies = []
        self.parent.contributors = ["DTC extension contributors"]
        self.parent.helpText = _(
            "Trains the DTC teacher on labelled frames, then a 2D student on video that learns temporal "
            "consistency from optical flow and prototype alignment, for use in DTC Segmentation."
        )
        self.parent.acknowledgementText = _(
            "Implements 'Distilling Temporal Coherence into 2D Networks for Transrectal Ultrasound Prostate "
            "Video Segmentation' (MICCAI 2026)."
        )


@parameterNodeWrapper
class DTCTrainingParameterNode:
    """The panel's state; saved with the scene.

    Numbers shown in spin boxes carry their .ui range as ``WithinRange``: the wrapper sets the widget's
    range from the annotation, and a ``Minimum`` alone raises the maximum to 2**31 - 1 or infinity
    (Slicer's parameterNodeWrapper/guiConnectors.py, the spin box connectors).  The folders are strings,
    kept in step with their path edits by the panel (a pathlib.Path would show "." while unset).
    """

    dataFolder: str = ""
    useSceneData: bool = False
    outputFolder: str = ""
    stage: Annotated[str, Choice(list(STAGE_CHOICES))] = "all"
    network: Annotated[str, Choice(list(NETWORK_NAMES))] = default_value(PANEL_SETTINGS["network"])
    epochs: Annotated[int, WithinRange(1, 10000)] = default_value(PANEL_SETTINGS["epochs"])
    batchSize: Annotated[int, WithinRange(1, 1024)] = default_value(PANEL_SETTINGS["batchSize"])
    height: Annotated[int, WithinRange(16, 4096)] = default_value(PANEL_SETTINGS["height"])
    width: Annotated[int, WithinRange(16, 4096)] = default_value(PANEL_SETTINGS["width"])
    weightSegmentation: Annotated[float, WithinRange(0.0, 100.0)] = default_value(PANEL_SETTINGS["weightSegmentation"])
    weightDistillation: Annotated[float, WithinRange(0.0, 100.0)] = default_value(PANEL_SETTINGS["weightDistillation"])
    weightConsistency: Annotated[float, WithinRange(0.0, 100.0)] = default_value(PANEL_SETTINGS["weightConsistency"])
    weightPrototype: Annotated[float, WithinRange(0.0, 100.0)] = default_value(PANEL_SETTINGS["weightPrototype"])
    flowMethod: Annotated[str, Choice(list(FLOW_METHODS))] = default_value(PANEL_SETTINGS["flowMethod"])
    device: Annotated[str, Choice(list(DEVICES))] = default_value(PANEL_SETTINGS["device"])
    amp: bool = default_value(PANEL_SETTINGS["amp"])
    gpus: Annotated[int, WithinRange(1, 64)] = 1
    otherSettings: str = ""


PATH_EDITS = {"dataFolderPathLineEdit": "dataFolder", "outputFolderPathLineEdit": "outputFolder"}


def _isSet(path) -> bool:
    return path is not None and str(path) not in ("", ".")


class DTCTrainingWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._plotViewNode = None
        self._toolTips = {}

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DTCTraining.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DTCTrainingLogic()

        import ctk

        for widgetName, parameterName in PATH_EDITS.items():
            pathEdit = getattr(self.ui, widgetName)
            pathEdit.filters = ctk.ctkPathLineEdit.Dirs
            pathEdit.connect("currentPathChanged(QString)", lambda path, name=parameterName: self.onPathEdited(name, path))
        # The .ui's tooltips say what an enabled button does; a disabled one says why instead.
        self._toolTips = {name: getattr(self.ui, name).toolTip for name in (
            "startButton", "cancelButton", "resumeButton", "useModelButton", "installDependenciesButton",
            "fineTuneButton")}
        self.plotWidget = slicer.qMRMLPlotWidget()
        self.plotWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.curvesFrame.layout().addWidget(self.plotWidget)
        self.timer = qt.QTimer()
        self.timer.setInterval(250)
        self.timer.timeout.connect(self.onPoll)

        self.ui.refreshDependenciesButton.clicked.connect(self.updateDependencyStatus)
        self.ui.installDependenciesButton.clicked.connect(self.onInstallDependencies)
        self.ui.findSceneRecordingsButton.clicked.connect(self.updateSceneRecordings)
        self.ui.startButton.clicked.connect(self.onStart)
        self.ui.fineTuneButton.clicked.connect(self.onFineTune)
        self.ui.cancelButton.clicked.connect(self.onCancel)
        self.ui.resumeButton.clicked.connect(self.onResume)
        self.ui.useModelButton.clicked.connect(self.onUseModel)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()
        self.updateDependencyStatus()

    def cleanup(self):
        self.timer.stop()
        if self.logic.process is not None and self.logic.process.running:
            self.logic.process.cancel(grace=10)
            self.logic.process.wait(timeout=15)
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)

    def onReload(self):
        """Reload the library too, so that edits to DTCTrainingLib take effect without restarting Slicer."""
        for name in [name for name in sys.modules if name == "DTCTrainingLib" or name.startswith("DTCTrainingLib.")]:
            del sys.modules[name]
        ScriptedLoadableModuleWidget.onReload(self)

    def onSceneStartClose(self, caller, event):
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            # e.g. another output folder may hold a checkpoint to resume
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateButtons)
            self.updateButtons()

    def onPathEdited(self, parameterName, path):
        if self._parameterNode is not None and getattr(self._parameterNode, parameterName) != path:
            setattr(self._parameterNode, parameterName, path)

    # ------------------------------------------------------------------ dependencies
    def updateDependencyStatus(self):
        self.ui.dependencyStatusLabel.text = self.logic.dependencyStatusText()
        ready = self.logic.dependenciesReady()
        self._enable("installDependenciesButton", _("Every package is installed.") if ready else None)
        self.ui.setupCollapsibleButton.collapsed = ready

    def onInstallDependencies(self):
        try:
            with slicer.util.tryWithErrorDisplay(_("Installing the Python packages failed."), waitCursor=True):
                self.logic.ensureDependencies()
        finally:  # also after a failure: the packages installed before it are there
            self.updateDependencyStatus()

    def packagesReady(self):
        """True when the packages are installed; otherwise offers to install them (any error in a dialog)."""
        if self.logic.dependenciesReady():
            return True
        try:
            with slicer.util.tryWithErrorDisplay(_("Installing the Python packages failed."), waitCursor=True):
                return bool(self.logic.ensureDependencies())
        finally:
            self.updateDependencyStatus()

    # ------------------------------------------------------------------ data
    def updateSceneRecordings(self):
        if not self.packagesReady():
            return
        with slicer.util.tryWithErrorDisplay(_("The scene's sequences could not be read."), waitCursor=True):
            recordings = self.logic.sceneRecordings()
            if recordings:
                names = ", ".join(f"{r.images.GetName()} ({r.masks.GetName()})" for r in recordings)
                self.ui.sceneRecordingsLabel.text = _("{count} annotated recording(s): {names}").format(
                    count=len(recordings), names=names)
            else:
                self.ui.sceneRecordingsLabel.text = _(
                    "No sequence browser plays an image sequence with a segmentation sequence.")

    # ------------------------------------------------------------------ run
    def onStart(self):
        if not self.packagesReady():
            return
        with slicer.util.tryWithErrorDisplay(_("Training could not start."), waitCursor=True):
            self.ui.logTextEdit.clear()
            self.logic.startTraining(self._parameterNode)
        self.onStarted()

    def onFineTune(self):
        if not self.packagesReady():
            return
        with slicer.util.tryWithErrorDisplay(_("Fine-tuning could not start."), waitCursor=True):
            self.ui.logTextEdit.clear()
            self.logic.fineTuneFromParameters(self._parameterNode)
        self.onStarted()

    def onResume(self):
        if not self.packagesReady():
            return
        with slicer.util.tryWithErrorDisplay(_("Training could not resume."), waitCursor=True):
            self.logic.resumeTraining(self._parameterNode)
        self.onStarted()

    def onCancel(self):
        self.logic.cancelTraining()
        self.ui.statusLabel.text = _("Stopping after the current step...")
        self._enable("cancelButton", _("Stopping after the current step..."))

    def onStarted(self):
        self._showChart(self.logic.updateCurves()[1])
        self.updateButtons()
        self.timer.start()

    def onPoll(self):
        process = self.logic.process
        events = process.poll_events()
        for line in process.read_log():
            self.ui.logTextEdit.appendPlainText(line)
        for event in events:
            summary = event_summary(event)
            if summary:
                self.ui.logTextEdit.appendPlainText(summary)
        if any(event["event"] == "epoch" for event in events):
            self._showChart(self.logic.updateCurves()[1])  # recreated if the scene was closed meanwhile
        fraction, text = process.progress()
        self.ui.progressBar.value = int(round(fraction * self.ui.progressBar.maximum))
        self.ui.statusLabel.text = text
        if not process.running:
            self.timer.stop()
            self.ui.statusLabel.text = self.logic.resultText()
            self.updateButtons()

    def updateButtons(self, caller=None, event=None):
        parameters = self._parameterNode
        if parameters is not None:
            for widgetName, parameterName in PATH_EDITS.items():
                edit, value = getattr(self.ui, widgetName), getattr(parameters, parameterName)
                if edit.currentPath != value:
                    edit.currentPath = value
        process = self.logic.process
        running = process is not None and process.running
        busy = _("A training run is in progress; cancel it first.")
        self._enable("startButton", busy if running else None)
        self._enable("fineTuneButton", busy if running else None if parameters is not None and _isSet(
            parameters.outputFolder) else _("Choose an output folder first."))
        self._enable("cancelButton", None if running else _("No training run is in progress."))
        stopped = process is not None and process.state in ("cancelled", "failed")
        self._enable("resumeButton", busy if running else None if stopped or self.logic.hasCheckpoint(parameters) else _(
            "Nothing to resume: the output folder holds no checkpoint."))
        self._enable("useModelButton", busy if running else None if process is not None and process.model_path()
                     is not None else _("This session has not trained a model yet."))

    def _enable(self, widgetName, disabledBecause):
        """Enable a widget, or disable it with the reason as its tooltip (as Slicer's module template does)."""
        widget = getattr(self.ui, widgetName)
        widget.enabled = disabledBecause is None
        widget.toolTip = self._toolTips[widgetName] if disabledBecause is None else disabledBecause

    def _showChart(self, chart):
        if self._plotViewNode is None or self._plotViewNode.GetScene() is None:
            from DTCTrainingLib.mrml import training_plot_view

            self._plotViewNode = training_plot_view(slicer.mrmlScene)
            self.plotWidget.setMRMLPlotViewNode(self._plotViewNode)
        self._plotViewNode.SetPlotChartNodeID(chart.GetID())

    def onUseModel(self):
        with slicer.util.tryWithErrorDisplay(_("The model could not be handed to DTC Segmentation.")):
            path = self.logic.useModel()
            self.ui.statusLabel.text = _("DTC Segmentation now uses {path}.").format(path=path)


class DTCTrainingLogic(ScriptedLoadableModuleLogic):
    """Everything the panel does, callable from the Python console.

    ``logic = slicer.util.getModuleLogic("DTCTraining")``; ``logic.train(data, out, "all", {"optim.epochs": 20})``
    starts a run, ``logic.process`` follows it (``wait()``, ``events``, ``cancel()``), ``logic.resumeTraining()``,
    ``logic.updateCurves()``, ``logic.useModel()``; ``logic.fineTuneFromCorrections(out)`` fine-tunes DTC
    Segmentation's model on the frames corrected in the Segment Editor.
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self.process: Optional[TrainingProcess] = None

    def getParameterNode(self):
        return DTCTrainingParameterNode(super().getParameterNode())

    # ------------------------------------------------------------------ dependencies
    def dependencyStatusText(self):
        """One line per required package: name, installed version or 'missing'."""
        return dependency_status_text()

    def dependenciesReady(self):
        return dependencies_ready()

    def ensureDependencies(self):
        """Offer to install torch (PyTorch extension) and the other packages (pip); True when all are there."""
        import PyTorchUtils

        return ensure_with_pytorch_utils(PyTorchUtils.PyTorchUtilsLogic(), lambda text: slicer.util.confirmOkCancelDisplay(
            text, _("DTC Training")), slicer.util.pip_install)

    # ------------------------------------------------------------------ data
    def sceneRecordings(self, scene=None):
        """The annotated recordings (image sequence + segmentation/labelmap sequence) of the scene."""
        from DTCTrainingLib.mrml import annotated_recordings

        return annotated_recordings(scene or slicer.mrmlScene)

    def exportSceneData(self, folder, scene=None):
        """Write the scene's annotated recordings as a training-data folder (replacing an earlier export)."""
        from DTCTrainingLib.mrml import write_training_data

        recordings = self.sceneRecordings(scene)
        return write_training_data(scene or slicer.mrmlScene, recordings, folder, overwrite=True).parent

    def exportCorrections(self, folder, validation=None, training=None, scene=None):
        """Write the frames corrected in the scene's segmentation runs as a training-data folder (replacing an
        earlier export): corrected frames labelled, the others unlabelled, plus the val cases of ``validation``
        and the train cases of ``training`` (training-data folders); returns the folder."""
        from DTCTrainingLib.mrml import write_correction_data

        return write_correction_data(scene or slicer.mrmlScene, folder, validation=validation or None,
                                     training=training or None, overwrite=True).parent

    def currentModelPath(self):
        """The model DTC Segmentation uses (its panel's model, else the shipped one)."""
        from DTCSegmentationLib.networks.default_model import default_model_path

        parameterNode = slicer.util.getModuleLogic("DTCSegmentation").getParameterNode()
        path = parameterNode.modelPath if hasattr(parameterNode, "modelPath") else parameterNode.GetParameter("modelPath")
        return pathlib.Path(path) if _isSet(path) else default_model_path()

    def fineTuneFromCorrections(self, out, model=None, validation=None, training=None, epochs=None, settings=None,
                                scene=None):
        """Correct-and-retrain in one call: export the corrections to ``out/corrections_data`` and start ``dtc train
        all`` from ``model``'s weights (default: DTC Segmentation's model) with a short schedule; returns the
        TrainingProcess. ``validation`` / ``training``: training-data folders whose val / train cases validate /
        train alongside the corrections (see exportCorrections)."""
        from DTCTrainingLib.fine_tuning import FINE_TUNE_EPOCHS, fine_tune_settings

        pathlib.Path(out).mkdir(parents=True, exist_ok=True)
        data = self.exportCorrections(pathlib.Path(out) / CORRECTIONS_FOLDER, validation, training, scene)
        model = pathlib.Path(model) if model else self.currentModelPath()
        overrides = fine_tune_settings(model, epochs or FINE_TUNE_EPOCHS, extra=settings)
        return self.train(data, out, "all", overrides)

    def fineTuneFromParameters(self, parameterNode):
        """What Fine-tune on corrections does: the panel's output folder, its training-data folder (if set: its train
        cases train alongside the corrections, its val cases validate), and the panel's batch size, loss weights,
        flow, device and AMP."""
        p = parameterNode
        if not _isSet(p.outputFolder):
            raise ValueError("Choose an output folder.")
        values = {name: getattr(p, name) for name in FINE_TUNE_PANEL_SETTINGS}
        settings = panel_overrides(values, p.otherSettings)
        data = p.dataFolder if _isSet(p.dataFolder) else None
        return self.fineTuneFromCorrections(p.outputFolder, validation=data, training=data, settings=settings)

    # ------------------------------------------------------------------ run
    def pythonExecutable(self):
        """Slicer's own Python (PythonSlicer is on the application's PATH)."""
        python = shutil.which("PythonSlicer")
        if not python:
            raise RuntimeError("PythonSlicer was not found on the PATH of this Slicer.")
        return python

    def train(self, data, out, stage="all", settings=None, gpus=1, resume=False):
        """Start ``dtc train STAGE`` on the training-data folder ``data`` into ``out``; returns the TrainingProcess."""
        if self.process is not None and self.process.running:
            raise RuntimeError("A training run is in progress; cancel it first.")
        self.process = TrainingProcess(stage, data, out, settings, python=self.pythonExecutable(), gpus=gpus)
        return self.process.start(resume=resume)

    def startTraining(self, parameterNode, resume=False):
        """What Start (or Resume) does: the panel's settings, data from the folder or the scene."""
        p = parameterNode
        if not _isSet(p.outputFolder):
            raise ValueError("Choose an output folder.")
        out = pathlib.Path(p.outputFolder)
        if p.useSceneData:
            exported = out / SCENE_DATA_FOLDER
            # a resumed run must see the data it started with
            data = exported if resume and (exported / "dataset.json").is_file() else self.exportSceneData(exported)
        elif _isSet(p.dataFolder):
            data = pathlib.Path(p.dataFolder)
        else:
            raise ValueError("Choose a training-data folder, or use the annotated sequences of this scene.")
        values = {name: getattr(p, name) for name in PANEL_SETTINGS}
        return self.train(data, out, p.stage, panel_overrides(values, p.otherSettings), p.gpus, resume)

    def hasCheckpoint(self, parameterNode):
        """Whether the panel's output folder holds a checkpoint to resume."""
        out = parameterNode.outputFolder if parameterNode else None
        return _isSet(out) and has_checkpoint(out)

    def resumeTraining(self, parameterNode=None):
        """Continue this session's last run, or (with the panel's parameter node) the run in its output folder."""
        sameRun = parameterNode is None or (
            self.process is not None and pathlib.Path(parameterNode.outputFolder).resolve() == self.process.out)
        if self.process is not None and sameRun:
            return self.process.resume()
        if parameterNode is None:
            raise RuntimeError("There is no run to resume; pass the panel's parameter node, or start a run.")
        return self.startTraining(parameterNode, resume=True)

    def cancelTraining(self):
        if self.process is not None:
            self.process.cancel()

    def resultText(self):
        process = self.process
        if process.state == "finished":
            return _("Finished. Best model: {path}").format(path=process.model_path())
        if process.state == "cancelled":
            return _("Cancelled; Resume continues from the last finished epoch.")
        return _("Failed: {error}").format(error=process.error or _("see the log"))

    def updateCurves(self, scene=None):
        """The run's loss and validation Dice per epoch as a table and plot chart (updated in place)."""
        from DTCTrainingLib.mrml import training_curves

        name = f"DTC training {self.process.out.name}"
        return training_curves(scene or slicer.mrmlScene, self.process.events, self.process.stages, name)

    def useModel(self, path=None):
        """Set DTC Segmentation's model to ``path`` (default: this run's best model); returns the path."""
        path = pathlib.Path(path) if path else (self.process.model_path() if self.process else None)
        if path is None or not path.is_file():
            raise ValueError("This run has not produced a model yet.")
        parameterNode = slicer.util.getModuleLogic("DTCSegmentation").getParameterNode()
        if hasattr(parameterNode, "modelPath"):  # the module's typed parameter node
            current = parameterNode.modelPath
            parameterNode.modelPath = type(current)(path) if isinstance(current, pathlib.PurePath) else str(path)
        else:
            parameterNode.SetParameter("modelPath", str(path))
        return path


class DTCTrainingTest(ScriptedLoadableModuleTest):
    """The training MRML layer and a tiny training run, inside Slicer.

    ctest runs each ``test_*`` method on its own (``slicer.testing.runUnitTest`` loads them by name), so
    every method that needs torch or the other packages skips itself while they are missing.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        """What the panel's Reload and Test runs: every test, a skipped one logged rather than raised."""
        for name in ("test_dependency_report", "test_scene_to_training_data_and_curves", "test_training_process"):
            self.setUp()
            try:
                getattr(self, name)()
            except unittest.SkipTest as skipped:
                logging.info(f"DTCTraining self-test {name} skipped: {skipped}")

    def requirePackages(self):
        if not DTCTrainingLogic().dependenciesReady():
            self.skipTest("torch or other Python packages are missing (Setup > Install missing packages)")

    def test_dependency_report(self):
        text = DTCTrainingLogic().dependencyStatusText()
        self.assertIn("numpy:", text)
        logging.info(text)

    def _annotatedScene(self, seeds=(1, 2)):
        from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence
        from DTCSegmentationLib.simulation import SimulationConfig, simulate
        from DTCTrainingLib.mrml import add_annotation_sequence

        recordings = []
        for seed in seeds:
            recording = simulate(SimulationConfig(num_frames=6, height=64, width=96, seed=seed))
            images = add_volume_sequence(slicer.mrmlScene, recording.images, f"sweep {seed}")
            add_sequence_browser(slicer.mrmlScene, [images], f"browser {seed}")
            add_annotation_sequence(slicer.mrmlScene, images, {0: recording.masks.frames[0], 3: recording.masks.frames[3]},
                                    f"annotations {seed}")
            recordings.append(recording)
        return recordings

    def test_scene_to_training_data_and_curves(self):
        self.requirePackages()
        import tempfile

        from DTCSegmentationLib.sequence_io import read_sequence
        from DTCTrainingLib.data.manifest import load_manifest
        from DTCTrainingLib.mrml import training_curves

        recordings = self._annotatedScene()
        logic = DTCTrainingLogic()
        self.assertEqual(len(logic.sceneRecordings()), 2)
        folder = logic.exportSceneData(pathlib.Path(tempfile.mkdtemp()) / "data")
        manifest = load_manifest(folder)
        self.assertEqual([case.labelled_frames for case in manifest.cases], [(0, 3), (0, 3)])
        masks = read_sequence(manifest.cases[1].masks).frames
        self.assertTrue(((masks[3] > 0) == (recordings[1].masks.frames[3] > 0)).all())
        events = [{"event": "epoch", "stage": "teacher", "epoch": 1, "losses": {"total": 1.0}, "val": {"dice": 0.5}}]
        table, chart = training_curves(slicer.mrmlScene, events, ("teacher",))
        self.assertEqual(table.GetNumberOfRows(), 1)
        self.assertEqual(chart.GetNumberOfPlotSeriesNodes(), 2)

    def test_training_process(self):
        self.requirePackages()
        import tempfile

        self._annotatedScene()
        logic = DTCTrainingLogic()
        out = pathlib.Path(tempfile.mkdtemp()) / "run"
        data = logic.exportSceneData(out.parent / "data")
        settings = {"optim.epochs": 1, "optim.steps_per_epoch": 1, "optim.batch_size": 2, "data.height": 32,
                    "data.width": 48, "network.arguments": {"features": [4, 8, 8, 16]}, "device": "cpu"}
        process = logic.train(data, out, "teacher", settings)
        self.assertEqual(process.wait(timeout=300), "finished", list(process.log))
        self.assertTrue(process.model_path().is_file())
        table, _ = logic.updateCurves()
        self.assertEqual(table.GetNumberOfRows(), 1)
