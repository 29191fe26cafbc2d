"""Segmenting recordings held in a real MRML scene (slicer-core): outputs, browser sync, cancel, export, compare."""

import json

import numpy as np
import pytest
from samples import recording, require_mrml, tiny_segmenter

slicer = require_mrml()

from DTCSegmentationLib.errors import DTCError  # noqa: E402
from DTCSegmentationLib.mrml import (  # noqa: E402
    FrameSource,
    SegmentationCancelled,
    add_sequence_browser,
    add_volume_sequence,
    compare_models,
    export_recording,
    find_run,
    new_scene,
    read_scene_bundle,
    segment_recording,
    write_scene_bundle,
)
from DTCSegmentationLib.mrml.scene import ijk_to_ras, nodes_by_class  # noqa: E402
from DTCSegmentationLib.sequence_io import read_sequence  # noqa: E402
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence  # noqa: E402
from DTCSegmentationLib.temporal.consistency import ConsistencyTracker, analyze_consistency  # noqa: E402

T = 6


@pytest.fixture(scope="module")
def frames():
    return recording(T)


@pytest.fixture(scope="module")
def segmenter(frames, tmp_path_factory):
    return tiny_segmenter(tmp_path_factory.mktemp("model"), frames)


@pytest.fixture(scope="module")
def other(frames, tmp_path_factory):
    """A second, differently initialised network."""
    return tiny_segmenter(tmp_path_factory.mktemp("other"), frames, seed=7)


@pytest.fixture(scope="module")
def expected(frames, segmenter):
    """What the library computes without MRML: per-frame masks, probabilities and consistency."""
    results = segmenter.segment(list(frames.frames))
    masks = np.stack([r.mask for r in results])
    probabilities = np.stack([r.probability for r in results])
    maps = []
    spacing = frames.geometry.spacing
    tracker = ConsistencyTracker(threshold=segmenter.threshold, pixel_area=spacing[0] * spacing[1])
    report = analyze_consistency(frames.frames, probabilities, masks, tracker,
                                 on_frame=lambda index, result: maps.append(result.flicker_map))
    assert len({m.tobytes() for m in masks}) > 1, "the test needs masks that differ between frames"
    return masks, probabilities, report, np.stack(maps)


def browser_scene(frames):
    scene = new_scene()
    sequence = add_volume_sequence(scene, frames, "US frames")
    return scene, sequence, add_sequence_browser(scene, [sequence], "US browser")


def column(table, name):
    return slicer.util.arrayFromTableColumn(table, name)


def test_browser_gets_synchronised_masks_flicker_maps_table_and_chart(frames, segmenter, expected):
    masks, probabilities, report, flicker_maps = expected
    scene, sequence, browser = browser_scene(frames)
    done = []
    run = segment_recording(scene, browser, segmenter, probabilities=True, progress=lambda i, n: done.append((i, n)))
    assert done == [(i, T) for i in range(1, T + 1)]
    assert browser.GetNumberOfSynchronizedSequenceNodes() == 3
    for node in (run.masks, run.flicker, run.probabilities):
        assert node.GetNumberOfDataNodes() == T
        assert [node.GetNthIndexValue(i) for i in range(T)] == [sequence.GetNthIndexValue(i) for i in range(T)]
    assert run.masks.GetDataNodeClassName() == "vtkMRMLLabelMapVolumeNode"
    frame_proxy = browser.GetProxyNode(sequence)
    mask_proxy, flicker_proxy = run.displayed["masks"], run.displayed["flicker"]
    for item in (4, 1, 3):
        browser.SetSelectedItemNumber(item)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(frame_proxy)[0], frames.frames[item])
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(mask_proxy)[0], masks[item])
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(flicker_proxy)[0],
                                      np.rint(flicker_maps[item] * 255).astype(np.uint8))
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(run.displayed["probabilities"])[0],
                                      np.rint(probabilities[item] * 255).astype(np.uint8))
        for proxy in (mask_proxy, flicker_proxy):
            np.testing.assert_allclose(ijk_to_ras(proxy), ijk_to_ras(frame_proxy), atol=1e-9)
    np.testing.assert_allclose(ijk_to_ras(mask_proxy), frames.geometry.ijk_to_ras(), atol=1e-9)
    # the overlay's colours: transparent where the mask is stable, opaque red where it flickers most
    display = flicker_proxy.GetDisplayNode()
    colors = display.GetColorNode().GetLookupTable()
    assert colors.GetTableValue(0)[3] == 0.0 and colors.GetTableValue(255) == (1.0, 0.0, 0.0, 1.0)
    assert (display.GetWindow(), display.GetLevel()) == (255.0, 127.5)
    assert mask_proxy.GetDisplayNode().IsA("vtkMRMLLabelMapVolumeDisplayNode")

    table = run.table
    assert table.GetNumberOfRows() == T
    np.testing.assert_array_equal(column(table, "frame"), np.arange(T))
    np.testing.assert_allclose(column(table, "time"), frames.frame_times)
    assert table.GetColumnUnitLabel("time") == "s"
    np.testing.assert_allclose(column(table, "flow_dice"), report.flow_dice, equal_nan=True)
    np.testing.assert_allclose(column(table, "flow_consistency"), report.flow, equal_nan=True, rtol=1e-6)
    np.testing.assert_allclose(column(table, "area_mm2"), masks.reshape(T, -1).sum(1) * 0.3 * 0.25, rtol=1e-9)
    np.testing.assert_array_equal(column(table, "flicker"), report.flicker.astype(np.uint8))
    assert table.GetColumnUnitLabel("area_mm2") == "mm2"
    assert json.loads(table.GetAttribute("DTC.Summary")) == pytest.approx(report.summary(), nan_ok=True)
    assert run.summary == dict(report.summary(), frames=T)

    series = [run.chart.GetNthPlotSeriesNode(i) for i in range(run.chart.GetNumberOfPlotSeriesNodes())]
    assert [s.GetYColumnName() for s in series] == ["raw_consistency", "flow_consistency", "flow_dice", "flicker"]
    assert all(s.GetTableNode() is table and s.GetXColumnName() == "time" for s in series)
    assert series[3].GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar
    assert run.chart.GetXAxisTitle() == "time (s)"
    assert run.area_chart.GetNthPlotSeriesNode(0).GetYColumnName() == "area_mm2"


def test_cancel_and_failure_leave_the_scene_as_it_was(frames, segmenter):
    scene, sequence, browser = browser_scene(frames)
    before = [scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())]
    done = []
    with pytest.raises(SegmentationCancelled, match="frame 3 of 6"):
        segment_recording(scene, browser, segmenter, progress=lambda i, n: done.append(i), should_cancel=lambda: len(done) >= 3)
    assert [scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())] == before
    assert browser.GetNumberOfSynchronizedSequenceNodes() == 0
    with pytest.raises(DTCError, match="labelmap|holds vtkMRMLLabelMapVolumeNode"):
        segment_recording(scene, add_volume_sequence(scene, frames, "not images", "labelmap"), segmenter)
    assert scene.GetNumberOfNodes() == len(before) + 1


def test_every_kind_of_input(frames, segmenter, expected):
    masks = expected[0]
    scene = new_scene()
    # a sequence nobody plays gets a browser of its own
    sequence = add_volume_sequence(scene, frames, "bare")
    run = segment_recording(scene, sequence, segmenter)
    assert run.source.browser is not None and run.source.browser.GetNumberOfSynchronizedSequenceNodes() == 2
    run.source.browser.SetSelectedItemNumber(2)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(run.displayed["masks"])[0], masks[2])
    # a proxy volume stands for the sequence its browser plays
    proxy = run.source.browser.GetProxyNode(sequence)
    assert segment_recording(scene, proxy, segmenter, name="again").source.sequence is sequence
    # a volume whose slices are the frames gives volumes of the same shape and geometry
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "stack")
    slicer.util.updateVolumeFromArray(volume, frames.frames)
    volume.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(frames.geometry.ijk_to_ras()))
    stack = segment_recording(scene, volume, segmenter)
    assert stack.masks.IsA("vtkMRMLLabelMapVolumeNode") and stack.displayed["masks"] is stack.masks
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(stack.masks), masks)
    np.testing.assert_allclose(ijk_to_ras(stack.masks), frames.geometry.ijk_to_ras(), atol=1e-9)
    assert stack.chart.GetXAxisTitle() == "frame" and stack.table.GetColumnUnitLabel("time") == "frame"
    # RGB frames (vector volumes, as video grabbers send them) segment like their gray content
    rgb = FrameSequence(np.repeat(frames.frames[..., None], 3, axis=-1), frames.geometry, frames.frame_times)
    run = segment_recording(scene, add_volume_sequence(scene, rgb, "rgb"), segmenter)
    np.testing.assert_array_equal(FrameSource(sequence=run.masks)[4], masks[4])
    with pytest.raises(DTCError, match="no input"):
        segment_recording(scene, None, segmenter)
    with pytest.raises(DTCError, match="vtkMRMLTableNode"):
        segment_recording(scene, run.table, segmenter)
    # a flicker map is no recording: as a proxy (its sequence) or as a volume
    for flicker in (run.displayed["flicker"], stack.flicker):
        with pytest.raises(DTCError, match="DTC output"):
            segment_recording(scene, flicker, segmenter)


def test_views_show_each_models_mask_and_flicker_overlay(frames, segmenter, other):
    scene, sequence, browser = browser_scene(frames)
    red, yellow = (scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(2))
    red.SetLayoutName("Red")
    yellow.SetLayoutName("Yellow")
    runs = compare_models(scene, browser, {"A": segmenter, "B": other})
    assert runs.show(scene) == 2
    for composite, run in zip((red, yellow), runs.runs.values()):
        assert composite.GetBackgroundVolumeID() == browser.GetProxyNode(sequence).GetID()
        assert composite.GetLabelVolumeID() == run.displayed["masks"].GetID()
        assert composite.GetForegroundVolumeID() == run.displayed["flicker"].GetID()
        assert composite.GetForegroundOpacity() == pytest.approx(0.6)
    runs.runs["A"].show(scene, flicker=False, views=("Red",))
    assert red.GetForegroundOpacity() == 0.0 and yellow.GetForegroundOpacity() == pytest.approx(0.6)


def test_compare_two_models_side_by_side(frames, segmenter, other, expected):
    scene, sequence, browser = browser_scene(frames)
    seen = []
    comparison = compare_models(scene, browser, {"A": segmenter, "B": other}, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1] == (2 * T, 2 * T) and len(seen) == 2 * T
    assert browser.GetNumberOfSynchronizedSequenceNodes() == 4
    masks_b = np.stack([r.mask for r in other.segment(list(frames.frames))])
    browser.SetSelectedItemNumber(2)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(comparison.runs["A"].displayed["masks"])[0], expected[0][2])
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(comparison.runs["B"].displayed["masks"])[0], masks_b[2])
    dice = [2 * (a & b).sum() / (a.sum() + b.sum()) for a, b in zip(expected[0].astype(bool), masks_b.astype(bool))]
    np.testing.assert_allclose(column(comparison.table, "agreement_dice"), dice)
    np.testing.assert_allclose(column(comparison.table, "A flow_dice"), expected[2].flow_dice, equal_nan=True)
    assert comparison.summary()["agreement"]["mean_dice"] == pytest.approx(np.mean(dice))
    chart = comparison.chart
    names = [chart.GetNthPlotSeriesNode(i).GetYColumnName() for i in range(chart.GetNumberOfPlotSeriesNodes())]
    assert names == ["A flow_dice", "A flow_consistency", "B flow_dice", "B flow_consistency", "agreement_dice"]
    before = scene.GetNumberOfNodes()
    with pytest.raises(SegmentationCancelled):
        compare_models(scene, browser, {"A": segmenter, "B": other}, should_cancel=lambda: scene.GetNumberOfNodes() > before + 12)
    assert scene.GetNumberOfNodes() == before
    comparison.remove(scene)
    assert browser.GetNumberOfSynchronizedSequenceNodes() == 0
    assert not nodes_by_class(scene, "vtkMRMLTableNode") and not nodes_by_class(scene, "vtkMRMLPlotSeriesNode")


def test_scene_bundle_reloads_with_browser_outputs_table_and_chart(frames, segmenter, expected, tmp_path):
    scene, sequence, browser = browser_scene(frames)
    segment_recording(scene, browser, segmenter)
    path = write_scene_bundle(scene, tmp_path / "run.mrb")
    loaded = read_scene_bundle(path)
    browser = loaded.GetFirstNodeByClass("vtkMRMLSequenceBrowserNode")
    assert browser.GetNumberOfSynchronizedSequenceNodes() == 2
    sequences = {node.GetAttribute("DTC.Role"): node for node in nodes_by_class(loaded, "vtkMRMLSequenceNode")}
    assert sequences["masks"].GetNumberOfDataNodes() == T and sequences["flicker"].GetNumberOfDataNodes() == T
    browser.SetSelectedItemNumber(4)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(browser.GetProxyNode(sequences["masks"]))[0], expected[0][4])
    flicker_proxy = browser.GetProxyNode(sequences["flicker"])
    assert flicker_proxy.GetDisplayNode().GetColorNode().GetName() == "DTC flicker"
    table = loaded.GetFirstNodeByClass("vtkMRMLTableNode")
    # tables are stored as text: values come back to about 7 significant digits
    np.testing.assert_allclose(column(table, "flow_dice"), expected[2].flow_dice, equal_nan=True, rtol=1e-6)
    assert json.loads(table.GetAttribute("DTC.Summary")) == pytest.approx(expected[2].summary(), nan_ok=True)
    charts = {chart.GetName(): chart for chart in nodes_by_class(loaded, "vtkMRMLPlotChartNode")}
    assert charts["US frames DTC consistency"].GetNumberOfPlotSeriesNodes() == 4
    assert charts["US frames DTC consistency"].GetNthPlotSeriesNode(0).GetTableNode() is table
    # the run is whole again from any of its nodes: the panel restores it from a saved scene
    run = find_run(loaded, table)
    assert run.name == "US frames DTC" and run.masks is sequences["masks"] and run.displayed["flicker"] is flicker_proxy
    assert run.summary["frames"] == T and run.summary["flicker_events"] == expected[2].summary()["flicker_events"]
    np.testing.assert_allclose(run.report.area, expected[2].area, rtol=1e-6)
    masks = read_sequence(export_recording(run, tmp_path / "files", "seq.nrrd")["masks"])
    np.testing.assert_array_equal(masks.frames, expected[0])
    assert segment_recording(loaded, browser, segmenter).name == "US frames DTC 2"
    run.remove(loaded)
    assert find_run(loaded, table) is None and browser.GetNumberOfSynchronizedSequenceNodes() == 2


@pytest.mark.parametrize("format, suffix", [("nii.gz", ".nii.gz"), ("png", "")])
def test_export_files_keep_masks_geometry_and_table(frames, segmenter, expected, tmp_path, format, suffix):
    scene, sequence, browser = browser_scene(frames)
    run = segment_recording(scene, browser, segmenter)
    paths = export_recording(run, tmp_path / "out", format)
    masks = read_sequence(paths["masks"])
    np.testing.assert_array_equal(masks.frames, expected[0])
    flicker = read_sequence(paths["flicker"])
    np.testing.assert_array_equal(flicker.frames, np.rint(expected[3] * 255).astype(np.uint8))
    if format == "nii.gz":
        assert masks.geometry.isclose(frames.geometry, atol=1e-4)
    rows = paths["table"].read_text().splitlines()
    assert rows[0].startswith("frame,time,raw_consistency") and len(rows) == T + 1
    with pytest.raises(DTCError, match="already exists"):
        export_recording(run, tmp_path / "out", format)
