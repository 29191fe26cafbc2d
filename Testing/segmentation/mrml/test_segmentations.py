"""Masks as a segmentation sequence on Slicer's own MRML (slicer-core): the "Prostate" segment per frame, edits
made through the proxy as the Segment Editor makes them, which frames were corrected, and conversion both ways."""

import numpy as np
import pytest
from samples import paint_segment, recording, require_mrml, tiny_segmenter

slicer = require_mrml()

from DTCSegmentationLib.errors import DTCError  # noqa: E402
from DTCSegmentationLib.mrml import (  # noqa: E402
    add_sequence_browser,
    add_volume_sequence,
    changed_pixels,
    corrected_frames,
    find_run,
    labelmaps_from_segmentations,
    new_scene,
    read_scene_bundle,
    segment_recording,
    segmentations_from_labelmaps,
    write_scene_bundle,
)
from DTCSegmentationLib.mrml.scene import vtk_matrix  # noqa: E402

T = 5
EDITED = 3


@pytest.fixture(scope="module")
def frames():
    return recording(T)


@pytest.fixture(scope="module")
def segmenter(frames, tmp_path_factory):
    return tiny_segmenter(tmp_path_factory.mktemp("model"), frames)


def segmented(frames, segmenter):
    scene = new_scene()
    sequence = add_volume_sequence(scene, frames, "US frames")
    browser = add_sequence_browser(scene, [sequence], "US browser")
    return scene, browser, segment_recording(scene, browser, segmenter, masks_as="segmentation")


def model_mask(run, index):
    return slicer.util.arrayFromVolume(run.masks.GetNthDataNode(index))[0]


def segment_array(node, frames, index):
    """The Prostate segment of a segmentation node on frame ``index``'s pixels, read the way Slicer exports it
    (ExportSegmentsToLabelmapNode onto the frame volume), independently of the module's own reader."""
    import vtk

    scene = node.GetScene() or new_scene()
    if node.GetScene() is None:
        scene.AddNode(node)
    reference = slicer.vtkMRMLScalarVolumeNode()
    slicer.util.updateVolumeFromArray(reference, np.ascontiguousarray(frames.frames[index])[None])
    reference.SetIJKToRASMatrix(vtk_matrix(frames.geometry.ijk_to_ras()))
    scene.AddNode(reference)
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    ids = vtk.vtkStringArray()
    ids.InsertNextValue("Prostate")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(node, ids, labelmap, reference)
    array = slicer.util.arrayFromVolume(labelmap)[0].copy()
    scene.RemoveNode(labelmap)
    scene.RemoveNode(reference)
    return (array > 0).astype(np.uint8)


def paint(proxy, mask, frames):
    paint_segment(proxy, mask, frames.geometry.ijk_to_ras())


def correction(frames):
    mask = np.zeros(frames.frames.shape[1:3], np.uint8)
    mask[20:44, 30:70] = 1  # a rectangle of 24 x 40 pixels
    return mask


def test_each_frame_gets_one_prostate_segment_in_slicers_colour_synchronised_in_the_browser(frames, segmenter):
    scene, browser, run = segmented(frames, segmenter)
    sequence = run.segmentation
    assert browser.IsSynchronizedSequenceNodeID(sequence.GetID(), False)
    assert browser.GetSaveChanges(sequence)  # else the Sequences logic drops every edit of the proxy
    assert sequence.GetNumberOfDataNodes() == T
    assert [sequence.GetNthIndexValue(i) for i in range(T)] == [run.masks.GetNthIndexValue(i) for i in range(T)]
    for index in range(T):
        segmentation = sequence.GetNthDataNode(index).GetSegmentation()
        assert segmentation.GetNumberOfSegments() == 1
        segment = segmentation.GetSegment("Prostate")
        assert segment.GetName() == "Prostate"
        # SCT 41216001 in Slicer's SegmentationCategoryTypeModifier-SlicerGeneralAnatomy.json: RGB 230, 158, 140
        np.testing.assert_allclose(segment.GetColor(), (230 / 255, 158 / 255, 140 / 255))
        entry = slicer.vtkSlicerTerminologyEntry()  # read back by Slicer's own parser
        assert slicer.vtkSlicerTerminologiesModuleLogic.DeserializeTerminologyEntry(segment.GetTerminology(), entry)
        assert (entry.GetCategoryObject().GetCodeValue(), entry.GetTypeObject().GetCodeValue()) == ("123037004", "41216001")
        assert entry.GetTypeObject().GetCodeMeaning() == "Prostate"
        np.testing.assert_array_equal(segment_array(sequence.GetNthDataNode(index), frames, index), model_mask(run, index))
    proxy = run.displayed["segmentation"]
    assert proxy.IsA("vtkMRMLSegmentationNode") and proxy.GetDisplayNode() is not None
    for index in (2, 0, 4):  # playback: the proxy shows the selected frame's segment
        browser.SetSelectedItemNumber(index)
        np.testing.assert_array_equal(segment_array(proxy, frames, index), model_mask(run, index))
    assert changed_pixels(scene, run) == {index: 0 for index in range(T)}


def test_an_edit_of_the_shown_frame_is_kept_and_only_that_frame_counts_as_corrected(frames, segmenter):
    scene, browser, run = segmented(frames, segmenter)
    browser.SetSelectedItemNumber(EDITED)
    before = model_mask(run, EDITED).copy()
    new = correction(frames)
    paint(run.displayed["segmentation"], new, frames)
    browser.SetSelectedItemNumber(0)  # the user moves on; the edit must stay in the sequence
    browser.SetSelectedItemNumber(EDITED)
    edited = segment_array(run.segmentation.GetNthDataNode(EDITED), frames, EDITED)
    np.testing.assert_array_equal(edited, new)
    expected = int(np.count_nonzero(new != (model_mask(run, EDITED) > 0)))
    assert expected > 0
    assert changed_pixels(scene, run) == {**{index: 0 for index in range(T)}, EDITED: expected}
    assert corrected_frames(scene, run) == [EDITED]
    assert corrected_frames(scene, run, min_pixels=expected) == [EDITED]  # at least min_pixels
    assert corrected_frames(scene, run, min_pixels=expected + 1) == []
    np.testing.assert_array_equal(model_mask(run, EDITED), before)  # the model's own mask stays as it was


def test_corrections_survive_a_saved_and_reloaded_scene(frames, segmenter, tmp_path):
    scene, browser, run = segmented(frames, segmenter)
    browser.SetSelectedItemNumber(EDITED)
    paint(run.displayed["segmentation"], correction(frames), frames)
    write_scene_bundle(scene, tmp_path / "scene.mrb")
    reloaded = read_scene_bundle(tmp_path / "scene.mrb")
    table = reloaded.GetFirstNode(run.table.GetName(), "vtkMRMLTableNode")
    again = find_run(reloaded, table)
    assert again.segmentation is not None and again.segmentation.GetID() != ""
    assert corrected_frames(reloaded, again) == [EDITED]


def test_conversion_both_ways_keeps_every_frame(frames, segmenter):
    scene, browser, run = segmented(frames, segmenter)
    browser.SetSelectedItemNumber(EDITED)
    paint(run.displayed["segmentation"], correction(frames), frames)
    labelmaps = labelmaps_from_segmentations(scene, run.displayed["segmentation"])  # a proxy names its sequence
    assert browser.IsSynchronizedSequenceNodeID(labelmaps.GetID(), False)
    for index in range(T):
        expected = correction(frames) if index == EDITED else model_mask(run, index)
        item = labelmaps.GetNthDataNode(index)
        assert item.IsA("vtkMRMLLabelMapVolumeNode")
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(item)[0], expected)
        np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(_matrix(item)), frames.geometry.ijk_to_ras())
    back = segmentations_from_labelmaps(scene, labelmaps, "back")
    for index in range(T):
        expected = correction(frames) if index == EDITED else model_mask(run, index)
        np.testing.assert_array_equal(segment_array(back.GetNthDataNode(index), frames, index), expected)


def _matrix(volume):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    return matrix


def test_show_draws_the_segmentation_not_the_labelmap_twice(frames, segmenter):
    scene, browser, run = segmented(frames, segmenter)
    composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    composite.SetLayoutName("Red")
    composite.SetLabelVolumeID(run.displayed["masks"].GetID())
    run.show(scene, flicker=True)
    assert composite.GetBackgroundVolumeID() == run.frames_node().GetID()
    assert composite.GetForegroundVolumeID() == run.displayed["flicker"].GetID()
    assert composite.GetLabelVolumeID() is None
    assert run.displayed["segmentation"].GetDisplayNode().GetVisibility()


def test_remove_takes_the_segmentation_too(frames, segmenter):
    scene, browser, run = segmented(frames, segmenter)
    run.remove(scene)
    assert not scene.IsNodePresent(run.segmentation)
    assert browser.GetNumberOfSynchronizedSequenceNodes() == 0


def test_bad_input_is_one_clear_error(frames, segmenter):
    scene = new_scene()
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "frames as slices")
    slicer.util.updateVolumeFromArray(volume, frames.frames)
    with pytest.raises(DTCError, match="is a volume, not a sequence"):
        segment_recording(scene, volume, segmenter, masks_as="segmentation")
    with pytest.raises(ValueError, match="masks_as"):
        segment_recording(scene, volume, segmenter, masks_as="mesh")
    _, _, run = segmented(frames, segmenter)
    with pytest.raises(DTCError, match="sequence of segmentation nodes"):
        labelmaps_from_segmentations(run.masks.GetScene(), run.masks)
