"""The gland in 3D in a headless scene: per-frame IJK-to-RAS in volume sequences, reconstruct_gland, the README block."""

import re

import numpy as np
import pytest
from samples import REPO_ROOT, require_mrml

slicer = require_mrml()

from DTCSegmentationLib import mrml  # noqa: E402
from DTCSegmentationLib.errors import DTCError  # noqa: E402
from DTCSegmentationLib.mrml.scene import ijk_to_ras  # noqa: E402
from DTCSegmentationLib.mrml.volume_sequences import LABELMAP, UNTRACKED_ATTRIBUTE  # noqa: E402
from DTCSegmentationLib.reconstruction.surface import enclosed_volume_ml  # noqa: E402
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence  # noqa: E402
from ellipsoid_sweeps import analytic_volume_ml, centre_lps, ellipsoid_sweep  # noqa: E402

VOLUME_TOLERANCE = 0.015  # see Testing/segmentation/reconstruction/test_compounding.py


@pytest.fixture(scope="module")
def sweep():
    return ellipsoid_sweep("rotational")


def mask_sequence(scene, sweep, poses=None):
    poses = sweep.frame_to_volume if poses is None else poses
    frames = FrameSequence(sweep.masks, FrameGeometry((0.5, 0.5, 1.0)), sweep.times, frame_poses=poses)
    return mrml.add_volume_sequence(scene, frames, "sweep masks", LABELMAP)


def test_each_item_of_a_tracked_sequence_has_its_own_ijk_to_ras(sweep, tmp_path):
    scene = mrml.new_scene()
    poses = sweep.frame_to_volume.copy()
    poses[5] = np.nan  # untracked: placed by the shared geometry, and listed
    node = mask_sequence(scene, sweep, poses)
    for index in (0, 17, 39):
        # pixel (column 10, row 20) by hand: LPS = origin + 10 column steps + 20 row steps; RAS flips x and y
        lps = poses[index, :3, 3] + 10 * poses[index, :3, 0] + 20 * poses[index, :3, 1]
        ras = ijk_to_ras(node.GetNthDataNode(index)) @ [10, 20, 0, 1]
        np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], atol=1e-6)
    np.testing.assert_allclose(ijk_to_ras(node.GetNthDataNode(5)), FrameGeometry((0.5, 0.5, 1.0)).ijk_to_ras())
    assert node.GetAttribute(UNTRACKED_ATTRIBUTE) == "5"
    # Slicer saves a sequence whose items differ in geometry item by item (not as one .seq.nrrd): kept in a bundle
    mrml.write_scene_bundle(scene, tmp_path / "tracked.mrb")
    back = mrml.read_scene_bundle(tmp_path / "tracked.mrb").GetFirstNodeByName("sweep masks")
    np.testing.assert_allclose(ijk_to_ras(back.GetNthDataNode(17)), ijk_to_ras(node.GetNthDataNode(17)), atol=1e-6)


def test_reconstruct_gland_adds_labelmap_segmentation_and_model(sweep):
    scene = mrml.new_scene()
    node = mask_sequence(scene, sweep)
    gland = mrml.reconstruct_gland(scene, node)
    assert gland.volume_ml == pytest.approx(analytic_volume_ml(), rel=VOLUME_TOLERANCE)
    assert gland.summary["frames_used"] == 40 and gland.summary["volume_ml"] == round(gland.volume_ml, 3)
    # the labelmap holds the gland where it is: the centroid of its voxels (RAS) is the ellipsoid's centre
    array = slicer.util.arrayFromVolume(gland.labelmap)
    kji = np.argwhere(array > 0).mean(0)
    centroid = ijk_to_ras(gland.labelmap) @ [kji[2], kji[1], kji[0], 1]
    np.testing.assert_allclose(centroid[:3], centre_lps() * [-1, -1, 1], atol=0.3)
    # Slicer's closed surface, in the model the 3D views show, encloses the same volume (smoothing moves it a little)
    assert enclosed_volume_ml(gland.model.GetPolyData()) == pytest.approx(gland.volume_ml, rel=0.02)
    assert gland.model.GetDisplayNode().GetVisibility3D() and gland.model.GetDisplayNode().GetVisibility()
    assert gland.segmentation.GetSegmentation().GetNthSegment(0).GetName() == "prostate"
    assert gland.model.GetAttribute("DTC.VolumeML") == f"{gland.volume_ml:.3f}"


def test_untracked_items_are_left_out_and_bad_input_is_refused(sweep):
    scene = mrml.new_scene()
    node = mask_sequence(scene, sweep)
    node.SetAttribute(UNTRACKED_ATTRIBUTE, "0 1 2")
    assert mrml.reconstruct_gland(scene, node).summary["frames_used"] == 37
    before = scene.GetNumberOfNodes()
    empty = mrml.add_volume_sequence(scene, FrameSequence(np.zeros((3, 8, 8), np.uint8)), "empty", LABELMAP)
    with pytest.raises(DTCError, match="none of the 3 tracked frames shows a gland"):
        mrml.reconstruct_gland(scene, empty)
    assert scene.GetNumberOfNodes() == before + 1  # only the empty sequence itself: nothing half-made
    with pytest.raises(DTCError, match="not masks"):
        mrml.reconstruct_gland(scene, scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode"))


def console_block() -> str:
    block = re.search(r"<!-- slicer-console-gland -->\s*```python\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.S)
    assert block, "README.md has no console block after <!-- slicer-console-gland -->"
    return block.group(1)


def write_tracked_plus(path, frames, image_to_reference):
    """A PLUS sequence file (uint8 frames, one ImageToReference transform per frame) as PLUS writes it."""
    count, height, width = frames.shape
    lines = ["ObjectType = Image", "NDims = 3", "BinaryData = True", "BinaryDataByteOrderMSB = False",
             "CompressedData = False", f"DimSize = {width} {height} {count}", "ElementSpacing = 1 1 1",
             "ElementType = MET_UCHAR", "UltrasoundImageOrientation = MF"]
    for index, matrix in enumerate(image_to_reference):
        lines += [f"Seq_Frame{index:04d}_Timestamp = {index / 20}",
                  f"Seq_Frame{index:04d}_ImageToReferenceTransform = {' '.join(f'{v:.9g}' for v in matrix.ravel())}",
                  f"Seq_Frame{index:04d}_ImageToReferenceTransformStatus = OK"]
    path.write_bytes(("\n".join(lines + ["ElementDataFile = LOCAL"]) + "\n").encode() + frames.astype(np.uint8).tobytes())


def test_readme_gland_console_block_runs_on_a_headless_scene(tmp_path, monkeypatch, capsys):
    from DTCSegmentationLib.simulation import SimulationConfig, simulate

    frames = simulate(SimulationConfig(view="sagittal", num_frames=12, height=128, width=160, seed=4)).images.frames
    # A rotational fan: 0.4 mm pixels, columns along the probe axis (x), the frame turned 3 degrees per frame
    # about that axis, rows running from the far field (row 0) to the transducer 10 mm from the axis.
    matrices = []
    for index in range(len(frames)):
        angle = np.radians(3.0 * (index - 5.5))
        up = np.array([0.0, np.cos(angle), np.sin(angle)])
        matrix = np.eye(4)
        matrix[:3, 0], matrix[:3, 1] = [0.4, 0, 0], -0.4 * up
        matrix[:3, 2] = np.cross(matrix[:3, 0], matrix[:3, 1]) / 0.16
        matrix[:3, 3] = (10 + 127 * 0.4) * up
        matrices.append(matrix)
    write_tracked_plus(tmp_path / "sweep.igs.mha", frames, matrices)
    scene = mrml.new_scene()
    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    monkeypatch.chdir(tmp_path)

    namespace = {"slicer": slicer}
    exec(compile(console_block(), "README.md", "exec"), namespace)

    gland, run = namespace["gland"], namespace["run"]
    assert "volume_ml" in capsys.readouterr().out
    # the run's masks kept every frame's pose: item 7 pixel (0, 127) is the transducer centre of frame 7, by hand
    angle = np.radians(3.0 * 1.5)
    np.testing.assert_allclose(ijk_to_ras(run.masks.GetNthDataNode(7)) @ [0, 127, 0, 1],
                               [0.0, 10 * np.cos(angle), 10 * np.sin(angle), 1.0], atol=1e-6)
    assert gland.summary["frames_total"] == 12 and gland.volume_ml > 0
    assert scene.IsNodePresent(gland.model) and gland.model.GetPolyData().GetNumberOfPoints() > 0


def test_a_recording_placed_by_a_transform_sequence_as_slicer_loads_plus_files(sweep):
    # Slicer's PLUS reader: image items with identity IJK-to-RAS (pixel index = Image coordinates), the poses in an
    # ImageToReference transform sequence played by the same browser; the user puts the image under the transform.
    scene = mrml.new_scene()
    identity = FrameGeometry(direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))  # IJK-to-RAS = identity, as Slicer's reader makes
    images = mrml.add_volume_sequence(scene, FrameSequence(sweep.masks * 50, identity, sweep.times), "Image_Image")
    transforms = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "ImageToReference")
    item = slicer.vtkMRMLLinearTransformNode()
    ras_poses = sweep.frame_to_volume * np.array([-1, -1, 1, 1])[None, :, None]  # LPS -> RAS rows
    for index, pose in enumerate(ras_poses):
        item.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(pose))
        transforms.SetDataNodeAtValue(item, images.GetNthIndexValue(index))
    browser = mrml.add_sequence_browser(scene, [images, transforms], "Image browser")
    browser.GetProxyNode(images).SetAndObserveTransformNodeID(browser.GetProxyNode(transforms).GetID())
    masks = mrml.add_volume_sequence(scene, FrameSequence(sweep.masks, identity, sweep.times), "masks", LABELMAP)
    masks.SetNodeReferenceID("dtcInput", images.GetID())  # what segment_recording records
    gland = mrml.reconstruct_gland(scene, masks)
    assert gland.volume_ml == pytest.approx(analytic_volume_ml(), rel=VOLUME_TOLERANCE)
    array = slicer.util.arrayFromVolume(gland.labelmap)
    kji = np.argwhere(array > 0).mean(0)
    np.testing.assert_allclose((ijk_to_ras(gland.labelmap) @ [kji[2], kji[1], kji[0], 1])[:3],
                               centre_lps() * [-1, -1, 1], atol=0.3)
