"""Training side of the MRML adapter on Slicer's own MRML (slicer-core): scene -> training data, events -> curves.

Annotations are real segmentation sequences (vtkMRMLSegmentationNode items, which slicer-core
handles headless once the representation converters are registered) and labelmap sequences.
"""

import math

import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.sequence_io import read_sequence
from DTCSegmentationLib.simulation import SimulationConfig, simulate

slicer = pytest.importorskip("slicer")
if not hasattr(slicer, "vtkMRMLScene"):
    pytest.skip("slicer-core is not installed", allow_module_level=True)

from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, new_scene  # noqa: E402
from DTCTrainingLib.data.dataset_check import check_dataset  # noqa: E402
from DTCTrainingLib.data.manifest import load_manifest  # noqa: E402
from DTCTrainingLib.mrml import (  # noqa: E402
    SceneRecording,
    add_annotation_sequence,
    annotated_recordings,
    curve_columns,
    training_curves,
    write_training_data,
)


@pytest.fixture(scope="module")
def recordings():
    return [simulate(SimulationConfig(view=view, num_frames=6, height=48, width=64, seed=seed))
            for seed, view in ((1, "axial"), (2, "sagittal"))]


def labelmap_node(mask, ijk_to_ras):
    from DTCSegmentationLib.mrml.scene import vtk_matrix

    node = slicer.vtkMRMLLabelMapVolumeNode()
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(mask, dtype=np.uint8)[None])
    node.SetIJKToRASMatrix(vtk_matrix(ijk_to_ras))
    return node


def segmentation_node(labels, ijk_to_ras, names):
    """A segmentation made from a label image: label value i + 1 becomes segment ``names[i]`` (one shared layer)."""
    node = slicer.vtkMRMLSegmentationNode()
    slicer.vtkMRMLScene().AddNode(node)  # the import wants a node in some scene; the sequence keeps a copy
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
        labelmap_node(labels, ijk_to_ras), node, "")
    for index, name in enumerate(names):
        node.GetSegmentation().GetNthSegment(index).SetName(name)
    return node


def annotated_scene(recordings, segmentation_frames=(0, 2, 5), labelmap_frames=(1, 4)):
    """Recording 1 annotated in a segmentation sequence, recording 2 in a labelmap sequence, both sparse."""
    scene = new_scene()
    first, second = recordings
    images = add_volume_sequence(scene, first.images, "axial sweep")
    add_sequence_browser(scene, [images], "axial browser")
    add_annotation_sequence(scene, images, {i: first.masks.frames[i] for i in segmentation_frames}, "axial annotations")
    images2 = add_volume_sequence(scene, second.images, "sagittal sweep")
    predicted = add_volume_sequence(scene, second.masks, "predicted masks", "labelmap")
    predicted.SetAttribute("DTC.Role", "masks")  # a DTC output: never an annotation
    add_sequence_browser(scene, [images2, predicted], "sagittal browser")
    add_annotation_sequence(scene, images2, {i: second.masks.frames[i] * 3 for i in labelmap_frames},
                            "sagittal annotations", kind="labelmap")
    return scene


def test_scene_recordings_become_a_training_folder_with_sparse_labels(recordings, tmp_path):
    scene = annotated_scene(recordings)
    annotations = scene.GetFirstNodeByName("axial annotations")
    # the browser pads a synchronised sparse sequence with empty items: those frames are unannotated
    assert annotations.GetNumberOfDataNodes() == 6 and annotations.GetNthDataNode(1) is None
    segmentation_item = annotations.GetNthDataNode(0)
    assert segmentation_item.GetClassName() == "vtkMRMLSegmentationNode"
    assert segmentation_item.GetSegmentation().GetNthSegment(0).GetName() == "prostate"
    found = annotated_recordings(scene)
    assert [(r.images.GetName(), r.masks.GetName()) for r in found] == [
        ("axial sweep", "axial annotations"), ("sagittal sweep", "sagittal annotations")]
    path = write_training_data(scene, found, tmp_path / "data")
    manifest = load_manifest(path)
    assert [(c.id, c.split, c.labelled_frames) for c in manifest.cases] == [
        ("axial_sweep", "train", (0, 2, 5)), ("sagittal_sweep", "val", (1, 4))]
    for case, recording in zip(manifest.cases, recordings):
        images, masks = read_sequence(case.frames), read_sequence(case.masks)
        np.testing.assert_array_equal(images.frames, recording.images.frames)
        np.testing.assert_allclose(images.frame_times, recording.images.frame_times, atol=1e-5)
        np.testing.assert_allclose(images.geometry.ijk_to_ras(), recording.images.geometry.ijk_to_ras(), atol=1e-5)
        for index in range(6):
            expected = (recording.masks.frames[index] > 0) if index in case.labelled_frames else 0
            np.testing.assert_array_equal(masks.frames[index], np.zeros((48, 64), np.uint8) + expected)
    report = check_dataset(tmp_path / "data")
    assert report["problems"] == [] and report["cases"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temporary folder left
    with pytest.raises(DTCError, match="already exists"):
        write_training_data(scene, found, tmp_path / "data")


def test_the_prostate_segment_is_taken_from_a_shared_layer_and_a_cropped_labelmap_is_resampled(recordings, tmp_path):
    recording = recordings[0]
    scene = new_scene()
    images = add_volume_sequence(scene, recording.images, "sweep")
    matrix = recording.images.geometry.ijk_to_ras()
    truth = recording.masks.frames[3] > 0
    labels = truth.astype(np.uint8) * 2  # the prostate is label 2 ...
    labels[:5, :5] = 1  # ... next to another structure, label 1, in the same layer
    segmentations = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "segments")
    segmentations.SetDataNodeAtValue(segmentation_node(labels, matrix, ["bladder", "Prostate"]), images.GetNthIndexValue(3))
    # a labelmap cropped to the gland's bounding box, placed by its own IJK-to-RAS
    rows, columns = np.nonzero(truth)
    top, left = rows.min(), columns.min()
    crop = truth[top:rows.max() + 1, left:columns.max() + 1]
    shifted = matrix.copy()
    shifted[:3, 3] += matrix[:3, 0] * left + matrix[:3, 1] * top
    cropped = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "cropped")
    cropped.SetDataNodeAtValue(labelmap_node(crop, shifted), images.GetNthIndexValue(3))
    for masks, name in ((segmentations, "segments"), (cropped, "cropped")):
        path = write_training_data(scene, [SceneRecording(images, masks, split="val")], tmp_path / name)
        mask = read_sequence(path.parent / "sweep" / "masks.seq.nrrd").frames[3]
        np.testing.assert_array_equal(mask, truth.astype(np.uint8))
    with pytest.raises(DTCError, match="no segment named 'urethra'"):
        write_training_data(scene, [(images, segmentations)], tmp_path / "other", segment="urethra")
    assert not (tmp_path / "other").exists()


def test_mask_items_off_the_recording_and_non_mask_nodes_are_refused(recordings, tmp_path):
    scene = new_scene()
    images = add_volume_sequence(scene, recordings[0].images, "sweep")
    masks = scene.AddNewNodeByClass("vtkMRMLSequenceNode", "masks")
    masks.SetDataNodeAtValue(labelmap_node(recordings[0].masks.frames[0], np.eye(4)), "99")
    with pytest.raises(DTCError, match="index value 99"):
        write_training_data(scene, [(images, masks)], tmp_path / "a")
    with pytest.raises(DTCError, match="sequence of segmentations or labelmaps"):
        write_training_data(scene, [(images, images)], tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def epoch(stage, number, loss, dice):
    return {"event": "epoch", "stage": stage, "epoch": number, "losses": {"total": loss}, "val": {"dice": dice}}


def test_training_events_become_a_live_table_and_chart():
    scene = new_scene()
    events = [{"event": "start", "stage": "teacher"}, epoch("teacher", 1, 1.2, 0.3), epoch("teacher", 2, 0.9, 0.5)]
    table, chart = training_curves(scene, events, ("teacher", "student"))
    assert [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())] == [
        "epoch", "teacher_loss", "teacher_val_dice", "student_loss", "student_val_dice"]
    np.testing.assert_allclose(slicer.util.arrayFromTableColumn(table, "teacher_val_dice"), [0.3, 0.5])
    assert np.isnan(slicer.util.arrayFromTableColumn(table, "student_loss")).all()
    series = [chart.GetNthPlotSeriesNode(i) for i in range(chart.GetNumberOfPlotSeriesNodes())]
    assert [(s.GetXColumnName(), s.GetYColumnName()) for s in series] == [
        ("epoch", "teacher_loss"), ("epoch", "teacher_val_dice"), ("epoch", "student_loss"), ("epoch", "student_val_dice")]
    assert all(s.GetTableNode() is table for s in series)

    # more events (a resume repeats epoch 2 with new values, the student starts): same nodes, updated rows
    events += [epoch("teacher", 2, 0.8, 0.6), epoch("teacher", 3, 0.7, 0.7), epoch("student", 1, 3.0, 0.72)]
    again = training_curves(scene, events, ("teacher", "student"))
    assert again == (table, chart) and scene.GetNumberOfNodesByClass("vtkMRMLPlotChartNode") == 1
    np.testing.assert_allclose(slicer.util.arrayFromTableColumn(table, "teacher_loss"), [1.2, 0.8, 0.7])
    student = slicer.util.arrayFromTableColumn(table, "student_val_dice")
    assert student[0] == pytest.approx(0.72) and np.isnan(student[1:]).all()


def test_curve_columns_without_epochs_are_empty():
    columns = curve_columns([{"event": "start", "stage": "teacher"}], ("teacher",))
    assert list(columns) == ["epoch", "teacher_loss", "teacher_val_dice"]
    assert all(len(column) == 0 for column in columns.values())
    assert not math.isnan(curve_columns([epoch("teacher", 1, 1.0, 0.5)], ("teacher",))["teacher_loss"][0])
