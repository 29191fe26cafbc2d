"""The DTC Segmentation panel's own code (DTCSegmentation.py) on a real headless scene, with stand-ins
for Qt and the application (``slicer_stand_ins``)."""

import threading
import time

import numpy as np
import pytest
from samples import recording, require_mrml, tiny_segmenter

slicer = require_mrml()
stand_ins = pytest.importorskip("slicer_stand_ins")

from DTCSegmentationLib.mrml import add_volume_sequence, new_scene  # noqa: E402
from DTCSegmentationLib.mrml.volume_sequences import LABELMAP  # noqa: E402
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence  # noqa: E402
from ellipsoid_sweeps import analytic_volume_ml, ellipsoid_sweep  # noqa: E402


@pytest.fixture
def panel():
    """The module's widget with every widget of its .ui file, its logic and parameter node, on a new scene."""
    with stand_ins.installed(scene=new_scene()):
        module = stand_ins.load_module("DTCSegmentation")
        widget = module.DTCSegmentationWidget()
        widget.setup()
        yield widget
        widget.cleanup()


@pytest.mark.slow
def test_live_mode_runs_the_model_in_a_child_process_not_on_a_thread_of_slicer(panel, tmp_path):
    frames = recording(3)
    segmenter = tiny_segmenter(tmp_path, frames)
    image = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    slicer.util.updateVolumeFromArray(image, frames.frames[0][None])
    parameters = panel._parameterNode
    parameters.liveImage, parameters.modelPath = image, tmp_path / "tiny0.safetensors"
    parameters.device, parameters.backend = "cpu", "eager"
    parameters.useModelThreshold, parameters.threshold = False, segmenter.threshold
    threads_before = {thread.ident for thread in threading.enumerate()}
    panel.ui.liveButton.checked = True  # toggled(true)
    live = panel.logic.live
    assert live is not None and panel.ui.liveButton.text == "Stop live"
    new_threads = [thread.name for thread in threading.enumerate() if thread.ident not in threads_before]
    assert not any("inference" in name for name in new_threads), new_threads  # Slicer would starve it of the GIL
    child = live.worker._process
    assert child.poll() is None
    for frame in frames.frames[1:]:
        slicer.util.updateVolumeFromArray(image, frame[None])
        deadline = time.monotonic() + 30
        while live.shown == 0 or live.latest.sequence < live.worker.stats().received - 1:
            assert time.monotonic() < deadline, live.stats()
            panel.onLiveTimer()  # the panel's 10 ms timer
            time.sleep(0.005)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(live.mask_node)[0], segmenter.segment_frame(frame).mask)
    panel.ui.liveButton.checked = False
    assert panel.logic.live is None and child.poll() is not None


def errors():
    return [text for kind, text in stand_ins.DISPLAYED if kind == "error"]


@pytest.mark.slow
def test_a_live_start_that_fails_shows_why_and_leaves_live_off(panel, tmp_path):
    """slicer.util.tryWithErrorDisplay (the slicer-core wheel's, i.e. Slicer's own util.py) raises again after
    its message box: the panel must put the Live button back itself."""
    from DTCSegmentationLib.live.worker import LiveWorkerError

    image = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Image_Reference")
    slicer.util.updateVolumeFromArray(image, recording(1).frames[:1])
    panel._parameterNode.liveImage, panel._parameterNode.modelPath = image, str(tmp_path / "missing.safetensors")
    with pytest.raises(LiveWorkerError, match="does not exist"):
        panel.ui.liveButton.checked = True  # the user presses Live: toggled(true)
    assert panel.ui.liveButton.checked is False and panel.ui.liveButton.text == "Start live"
    assert errors() and errors()[-1].startswith("Could not start live segmentation.")
    assert slicer.app.cursors == [] and panel.logic.live is None


def test_a_failed_install_shows_why_and_refreshes_the_package_status(panel):
    from DTCSegmentationLib.errors import DTCError

    def fail():
        raise DTCError("pip did not install monai.", fix="See the Python console.")

    panel.logic.installDependencies = fail
    panel.ui.dependencyStatusLabel.text = "before the install"
    with pytest.raises(DTCError):
        panel.onInstallDependencies()
    assert panel.ui.dependencyStatusLabel.text == panel.logic.dependencyStatusText()
    assert "pip did not install monai" in errors()[-1]


def frame_plane(volume):
    """Unit normal and a point of the plane a frame volume's IJ axes span, in RAS."""
    matrix = vtk_array(volume.GetIJKToRASMatrix)
    normal = np.cross(matrix[:3, 0], matrix[:3, 1])
    return normal / np.linalg.norm(normal), matrix[:3, 3]


def vtk_array(getter):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    getter(matrix)
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])


@pytest.mark.slow
def test_compare_turns_the_red_and_yellow_views_to_the_frames_and_fits_them(panel, tmp_path):
    from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence

    frames = recording(4)  # an oblique probe (samples.OBLIQUE_GEOMETRY)
    browser = add_sequence_browser(slicer.mrmlScene, [add_volume_sequence(slicer.mrmlScene, frames, "sweep")])
    first, second = tiny_segmenter(tmp_path, frames, seed=0), tiny_segmenter(tmp_path, frames, seed=1)
    comparison = panel.logic.compare(browser, first, second)
    assert slicer.app.layoutManager().layout() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotView
    frame = next(iter(comparison.runs.values())).frames_node()
    normal, origin = frame_plane(frame)
    height, width = frames.frames.shape[1:3]
    extent = sorted([height * frames.geometry.spacing[1], width * frames.geometry.spacing[0]])
    for view in ("Red", "Yellow"):
        node = slicer.mrmlScene.GetFirstNode(view, "vtkMRMLSliceNode")
        slice_to_ras = vtk_array(lambda matrix: matrix.DeepCopy(node.GetSliceToRAS()))
        assert abs(np.dot(slice_to_ras[:3, 2], normal)) == pytest.approx(1.0, abs=1e-6), view  # not edge-on
        assert np.dot(slice_to_ras[:3, 3] - origin, normal) == pytest.approx(0.0, abs=1e-3), view  # on the frame
        field_of_view = sorted(node.GetFieldOfView()[:2])
        assert field_of_view[0] >= extent[0] - 1e-3 and field_of_view[1] >= extent[1] - 1e-3, view  # all of it shown
    green = slicer.mrmlScene.GetFirstNode("Green", "vtkMRMLSliceNode")
    assert green.GetOrientation() == "Coronal"  # a view the comparison does not use stays as it was


@pytest.mark.slow
def test_apply_adds_the_model_to_the_recent_models(panel, tmp_path):
    from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence

    frames = recording(3)
    tiny_segmenter(tmp_path, frames)
    parameters = panel._parameterNode
    parameters.inputNode = add_sequence_browser(slicer.mrmlScene, [add_volume_sequence(slicer.mrmlScene, frames, "sweep")])
    parameters.modelPath, parameters.device = str(tmp_path / "tiny0.safetensors"), "cpu"
    key = panel.ui.modelPathLineEdit.settingKey
    assert key == "DTCSegmentation/RecentModels"  # the .ui file's
    panel.onApply()
    assert errors() == [] and parameters.masks is not None
    assert qt_settings().value(key) == [str(tmp_path / "tiny0.safetensors")]


def qt_settings():
    return stand_ins.QSettings()


def test_unset_model_paths_show_empty_and_follow_the_parameter_node(panel):
    assert panel.ui.modelPathLineEdit.currentPath == "" and panel.ui.compareModelPathLineEdit.currentPath == ""
    panel.onDefaultModel()
    assert panel.ui.modelPathLineEdit.currentPath == str(panel.logic.defaultModelPath())
    panel.onPathEdited("compareModelPath", "/models/other.safetensors")  # the user picks a file
    assert panel._parameterNode.compareModelPath == "/models/other.safetensors"


def test_disabled_buttons_say_why(panel):
    apply = panel.ui.applyButton
    assert not apply.enabled and "Select a recording" in apply.toolTip
    assert not panel.ui.exportButton.enabled and "Apply first" in panel.ui.exportButton.toolTip
    panel._parameterNode.inputNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode")
    assert apply.enabled and apply.toolTip == "Segment every frame of the recording."  # the .ui file's tooltip
    compare = panel.ui.compareButton
    assert not compare.enabled and "second model" in compare.toolTip


def close_scene(panel):
    """File > Close scene: the singleton parameter node is reset (parameters and attributes go), then the panel
    takes it up again (ScriptedLoadableModule.py getParameterNode: "After close scene, ModuleName attribute may
    be removed")."""
    panel.onSceneStartClose(None, None)
    slicer.mrmlScene.Clear(0)
    panel.onSceneEndClose(None, None)
    return panel._parameterNode


def test_model_device_and_back_end_outlive_the_scene(panel):
    parameters = panel._parameterNode
    parameters.modelPath, parameters.device, parameters.backend = "/models/student.safetensors", "cpu", "onnx"
    parameters.threshold = 0.7  # a scene's own setting: not carried over
    fresh = close_scene(panel)
    assert (fresh.modelPath, fresh.device, fresh.backend) == ("/models/student.safetensors", "cpu", "onnx")
    assert fresh.threshold == 0.5
    # A scene saved with its own choices keeps them: its parameter node comes back with them (and the marker).
    node = fresh.parameterNode
    panel.onSceneStartClose(None, None)
    slicer.mrmlScene.Clear(0)
    node.SetAttribute("DTC.SettingsApplied", "1")
    node.SetParameter("device", "auto")
    node.SetParameter("backend", "eager")
    panel.onSceneEndClose(None, None)
    assert (panel._parameterNode.device, panel._parameterNode.backend) == ("auto", "eager")


def test_the_model_line_shows_the_chosen_file_and_an_int8_files_agreement_with_float32(panel, tmp_path):
    from DTCSegmentationLib.networks.export import read_onnx
    from DTCSegmentationLib.networks.model_file import load_model, read_model_info
    from DTCSegmentationLib.networks.quantization import export_int8_onnx
    from DTCSegmentationLib.sequence_io import write_sequence
    from samples import tiny_model_file

    shipped = read_model_info(panel.logic.defaultModelPath())
    assert f"input {shipped.input_size[0]} x {shipped.input_size[1]}" in panel.ui.modelInfoLabel.text  # empty: shipped
    frames = recording(24)
    model, info = load_model(tiny_model_file(tmp_path / "tiny.safetensors"))
    int8_path, _ = export_int8_onnx(model, info, tmp_path / "tiny_int8.onnx", [write_sequence(tmp_path / "s.seq.nrrd", frames)],
                                    calibration_frames=12, agreement_frames=12, min_agreement=0.0)
    panel.onPathEdited("modelPath", str(int8_path))  # the user picks the int8 file
    stored = read_onnx(int8_path)[1].quantization
    text = panel.ui.modelInfoLabel.text
    assert "int8" in text and f"Dice {stored['agreement_dice']:.3f}" in text and "on 12 held-out frames" in text
    panel.onPathEdited("modelPath", str(tmp_path / "tiny.safetensors"))
    assert "float32" in panel.ui.modelInfoLabel.text and "input 64 x 96" in panel.ui.modelInfoLabel.text
    (tmp_path / "tiny.safetensors").unlink()
    tiny_model_file(tmp_path / "tiny.safetensors", input_size=(32, 48))  # replaced on disk under the same name
    panel.updateGui()
    assert "input 32 x 48" in panel.ui.modelInfoLabel.text
    panel.onPathEdited("modelPath", str(tmp_path / "missing.safetensors"))
    assert "missing.safetensors" in panel.ui.modelInfoLabel.text and "does not exist" in panel.ui.modelInfoLabel.text


@pytest.mark.slow
def test_masks_as_segmentation_makes_a_segmentation_sequence_in_the_browser(panel, tmp_path):
    from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence

    frames = recording(3)
    tiny_segmenter(tmp_path, frames)
    parameters = panel._parameterNode
    browser = add_sequence_browser(slicer.mrmlScene, [add_volume_sequence(slicer.mrmlScene, frames, "sweep")])
    parameters.inputNode, parameters.modelPath, parameters.device = browser, str(tmp_path / "tiny0.safetensors"), "cpu"
    parameters.masksAs = "segmentation"
    panel.onApply()
    assert errors() == []
    run = panel.logic.findRun(parameters.masks)
    assert run.segmentation is not None and browser.IsSynchronizedSequenceNodeID(run.segmentation.GetID(), False)
    assert panel.logic.correctedFrames(run) == []
    labelmaps = panel.logic.labelmapsFromSegmentations(run.displayed["segmentation"])
    again = panel.logic.segmentationsFromLabelmaps(labelmaps, "again")
    for index in range(3):
        model = slicer.util.arrayFromVolume(run.masks.GetNthDataNode(index))[0]
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(labelmaps.GetNthDataNode(index))[0], model)
    assert again.GetNumberOfDataNodes() == 3 and browser.IsSynchronizedSequenceNodeID(again.GetID(), False)


# The "Gland in 3D" section ------------------------------------------------------------------------

def test_the_button_reconstructs_the_masks_and_reports_the_volume(panel):
    assert not panel.ui.reconstructGlandButton.enabled
    assert panel.ui.reconstructGlandButton.toolTip == "Apply first: there are no results yet."
    sweep = ellipsoid_sweep("axial")
    masks = add_volume_sequence(slicer.mrmlScene, FrameSequence(sweep.masks, FrameGeometry((0.5, 0.5, 1.0)), sweep.times,
                                                                frame_poses=sweep.frame_to_volume), "masks", LABELMAP)
    panel._parameterNode.masks = masks  # what Apply leaves there
    assert panel.ui.reconstructGlandButton.enabled
    assert panel.ui.reconstructGlandButton.signals["clicked"].slots == [panel.onReconstructGland]
    panel.onReconstructGland()  # the button's clicked() (PythonQt drops the bool for a slot without arguments)
    assert not [shown for shown in stand_ins.DISPLAYED if shown[0] == "error"], stand_ins.DISPLAYED
    text = panel.ui.glandLabel.text
    volume = float(text.split("Prostate volume ")[1].split(" mL")[0])
    assert volume == pytest.approx(analytic_volume_ml(), abs=0.2)  # 1.5 % and the label's rounding to 0.1 mL
    frames_with_gland = int(sweep.masks.reshape(len(sweep.masks), -1).any(1).sum())
    assert f"from {frames_with_gland} frames showing the gland of 40 tracked frames" in text
    assert slicer.app.reset_3d_views == [True]
    model = slicer.mrmlScene.GetFirstNodeByName("masks gland surface")
    assert model is not None and np.isclose(float(model.GetAttribute("DTC.VolumeML")), volume, atol=0.05)


def test_the_module_self_test_for_the_gland_passes_on_a_headless_scene():
    with stand_ins.installed(scene=new_scene()):
        module = stand_ins.load_module("DTCSegmentation")
        case = module.DTCSegmentationTest("test_gland_in_3d_from_a_tracked_sweep")
        case.setUp()
        case.test_gland_in_3d_from_a_tracked_sweep()
