"""Consistency results as MRML nodes: the per-frame table, its plot charts and the flicker colour table."""

import json
from typing import Dict, Sequence, Tuple

import numpy as np

from DTCSegmentationLib.mrml.scene import ROLE_ATTRIBUTE, nodes_by_class, slicer_module, tag
from DTCSegmentationLib.temporal.consistency import ConsistencyReport

FLICKER_COLORS = "DTC flicker"
SUMMARY_ATTRIBUTE = "DTC.Summary"

# Table columns made from ConsistencyReport.curves(): name, curve key, unit, description.
TABLE_COLUMNS = (
    ("raw_consistency", "raw_consistency", "", "1 - mean|p_t - p_t-1| (no motion compensation)"),
    ("flow_consistency", "flow_consistency", "", "1 - mean|p_t - warped p_t-1| (optical-flow compensated)"),
    ("flow_dice", "flow_dice", "", "Dice of the mask with the flow-warped previous mask"),
    ("area_mm2", "area", "mm2", "mask area"),
    ("area_second_difference_mm2", "area_second_difference", "mm2", "a[t+1] - 2 a[t] + a[t-1]: area jitter"),
    ("flicker", "flicker", "", "1 where flow_dice fell below the flicker threshold"),
)

# Chart series: column, colour (RGB 0-1), bars instead of a line.
CONSISTENCY_SERIES = (
    ("raw_consistency", (0.55, 0.55, 0.55), False),
    ("flow_consistency", (0.12, 0.47, 0.71), False),
    ("flow_dice", (0.17, 0.63, 0.17), False),
    ("flicker", (0.84, 0.15, 0.16), True),
)


def flicker_color_table(scene):
    """The scene's colour table for flicker maps (created once): transparent at 0, through yellow to opaque red at 255.

    Flicker maps store ``|p_t - warp(p_t-1)|`` scaled to 0-255; stable pixels vanish from an overlay.
    """
    for node in nodes_by_class(scene, "vtkMRMLColorTableNode"):
        if node.GetAttribute(ROLE_ATTRIBUTE) == "flicker colours":
            return node
    table = scene.AddNewNodeByClass("vtkMRMLColorTableNode", FLICKER_COLORS)
    table.SetTypeToUser()
    table.SetNumberOfColors(256)
    for value in range(256):
        level = value / 255.0
        table.SetColor(value, f"{level:.2f}", 1.0, 1.0 - level, 0.0, min(1.0, 2.0 * level))
    return tag(table, "flicker colours")


def add_table(scene, name: str, columns: Dict[str, np.ndarray], units: Dict[str, str] = None,
              descriptions: Dict[str, str] = None, role: str = "table"):
    """A ``vtkMRMLTableNode`` with one column per entry of ``columns`` (equal lengths, numeric)."""
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    slicer_module().util.updateTableFromArray(table, [np.asarray(v) for v in columns.values()], list(columns))
    for column, unit in (units or {}).items():
        if unit:
            table.SetColumnUnitLabel(column, unit)
    for column, text in (descriptions or {}).items():
        table.SetColumnDescription(column, text)
    return tag(table, role)


def consistency_table(scene, name: str, report: ConsistencyReport, times: np.ndarray, time_unit: str = "s"):
    """Per-frame table: ``frame``, ``time`` (in ``time_unit``: s or frame) and the :data:`TABLE_COLUMNS`.

    The recording-level summary is stored as JSON in :data:`SUMMARY_ATTRIBUTE`.
    """
    curves = report.curves()
    columns = {"frame": np.arange(len(times), dtype=np.int32), "time": np.asarray(times, float)}
    columns.update({column: curves[key] for column, key, _, _ in TABLE_COLUMNS})
    table = add_table(scene, name, columns, {"time": time_unit, **{c: u for c, _, u, _ in TABLE_COLUMNS}},
                      {c: d for c, _, _, d in TABLE_COLUMNS})
    table.SetAttribute(SUMMARY_ATTRIBUTE, json.dumps(report.summary()))
    return table


def report_from_table(table) -> ConsistencyReport:
    """The per-frame curves back from a table made by :func:`consistency_table` (e.g. in a reloaded scene)."""
    util = slicer_module().util
    curves = {key: np.array(util.arrayFromTableColumn(table, column), float) for column, key, _, _ in TABLE_COLUMNS}
    return ConsistencyReport(curves["raw_consistency"], curves["flow_consistency"], curves["flow_dice"],
                             curves["flicker"].astype(bool), curves["area"], curves["area_second_difference"])


def table_summary(table) -> Dict[str, float]:
    """The recording-level summary stored on a consistency table (empty if none)."""
    text = table.GetAttribute(SUMMARY_ATTRIBUTE) if table is not None else None
    return json.loads(text) if text else {}


def add_chart(scene, name: str, table, x_column: str, series: Sequence[Tuple[str, str, Tuple[float, float, float], bool]],
              x_title: str, y_title: str, role: str = "chart"):
    """A plot chart of ``table`` columns: ``series`` is ``(label, y column, colour, bars)``."""
    slicer = slicer_module()
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    for label, column, color, bars in series:
        plot = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{name}: {label}")
        plot.SetAndObserveTableNodeID(table.GetID())
        plot.SetXColumnName(x_column)
        plot.SetYColumnName(column)
        if bars:
            plot.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeBar)
        else:
            plot.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
            plot.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleNone)
        plot.SetColor(*color)
        tag(plot, "series")
        chart.AddAndObservePlotSeriesNodeID(plot.GetID())
    chart.SetTitle(name)
    chart.SetXAxisTitle(x_title)
    chart.SetYAxisTitle(y_title)
    return tag(chart, role)


def consistency_chart(scene, name: str, table, x_title: str):
    """Consistency curves (raw, flow-compensated, flow Dice, 0-1) with flicker events as bars."""
    series = [(column.replace("_", " "), column, color, bars) for column, color, bars in CONSISTENCY_SERIES]
    return add_chart(scene, name, table, "time", series, x_title, "score (0-1)")


def area_chart(scene, name: str, table, x_title: str):
    """Mask area per frame."""
    return add_chart(scene, name, table, "time", [("area", "area_mm2", (0.58, 0.4, 0.74), False)],
                     x_title, "area (mm2)", role="area chart")


def chart_series(chart) -> list:
    """The plot series nodes of ``chart``, in order."""
    return [chart.GetNthPlotSeriesNode(index) for index in range(chart.GetNumberOfPlotSeriesNodes())]


def remove_chart(scene, chart) -> None:
    """Remove ``chart`` and its series from the scene."""
    for plot in chart_series(chart):
        scene.RemoveNode(plot)
    scene.RemoveNode(chart)
