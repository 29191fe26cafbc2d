"""The DTC Segmentation panel's "Gland in 3D" section on a real headless scene (stand-ins for Qt and the application)."""

import numpy as np
import pytest
from samples import require_mrml

slicer = require_mrml()
stand_ins = pytest.importorskip("slicer_stand_ins")

from DTCSegmentationLib.mrml import add_volume_sequence, new_scene  # noqa: E402
from DTCSegmentationLib.mrml.volume_sequences import LABELMAP  # noqa: E402
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence  # noqa: E402
from ellipsoid_sweeps import analytic_volume_ml, ellipsoid_sweep  # noqa: E402


@pytest.fixture
def panel():
    with stand_ins.installed(scene=new_scene()):
        module = stand_ins.load_module("DTCSegmentation")
        widget = module.DTCSegmentationWidget()
        widget.setup()
        yield widget
        widget.cleanup()


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
