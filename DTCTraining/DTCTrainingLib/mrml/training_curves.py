"""Training progress in a scene: the trainer's events as a table and a chart of loss and validation Dice per epoch."""

import math
from typing import Dict, Iterable, Sequence, Tuple

import numpy as np
from DTCSegmentationLib.mrml.consistency_nodes import add_chart
from DTCSegmentationLib.mrml.scene import ROLE_ATTRIBUTE, nodes_by_class, slicer_module, tag

CURVES_ROLE = "training curves"
VIEW_ROLE = "training view"
CURVE_COLORS = {("teacher", "loss"): (0.84, 0.37, 0.0), ("teacher", "val_dice"): (0.94, 0.65, 0.25),
                 ("student", "loss"): (0.12, 0.47, 0.71), ("student", "val_dice"): (0.42, 0.68, 0.84)}


def curve_columns(events: Iterable[Dict], stages: Sequence[str]) -> Dict[str, np.ndarray]:
    """``epoch`` and ``<stage>_loss`` / ``<stage>_val_dice`` per epoch (NaN where a stage has no value yet).

    A later event for the same stage and epoch (after a resume) replaces the earlier one.
    """
    values: Dict[Tuple[str, int], Tuple[float, float]] = {}
    for event in events:
        if event.get("event") == "epoch" and event.get("stage") in stages:
            values[(event["stage"], int(event["epoch"]))] = (float(event["losses"]["total"]), float(event["val"]["dice"]))
    count = max([epoch for _, epoch in values] or [0])
    columns = {"epoch": np.arange(1, count + 1, dtype=np.int32)}
    for stage in stages:
        for position, quantity in enumerate(("loss", "val_dice")):
            columns[f"{stage}_{quantity}"] = np.array(
                [values.get((stage, epoch), (math.nan, math.nan))[position] for epoch in range(1, count + 1)])
    return columns


def training_curves(scene, events: Iterable[Dict], stages: Sequence[str] = ("teacher", "student"),
                    name: str = "DTC training"):
    """Create (first call) or update the table ``name`` and its chart of loss and validation Dice per epoch.

    Returns ``(table, chart)``; calling again with more events updates the same nodes, so a
    plot view showing the chart follows the training live.
    """
    columns = curve_columns(events, stages)
    table = _tagged_node(scene, "vtkMRMLTableNode", f"{name} table")
    if table is None:
        table = tag(scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} table"), CURVES_ROLE)
    slicer_module().util.updateTableFromArray(table, list(columns.values()), list(columns))
    chart = _tagged_node(scene, "vtkMRMLPlotChartNode", name)
    if chart is None:
        series = [(f"{stage} {quantity.replace('val_dice', 'validation Dice')}", f"{stage}_{quantity}",
                   CURVE_COLORS.get((stage, quantity), (0.5, 0.5, 0.5)), False)
                  for stage in stages for quantity in ("loss", "val_dice")]
        chart = add_chart(scene, name, table, "epoch", series, "epoch", "loss / Dice", role=CURVES_ROLE)
    return table, chart


def training_plot_view(scene, name: str = "DTC training view"):
    """The plot view node of the training panel's own plot widget (made once per scene).

    Showing a chart in Slicer (the Plots logic's ``ShowChartInLayout``, which DTC Segmentation's curves
    use) makes it the selection node's active chart and sets it on every plot view node whose
    ``DoPropagatePlotChartSelection`` is on - the default (vtkMRMLApplicationLogic.cxx
    ``PropagatePlotChartSelection``, vtkMRMLPlotViewNode.h): this view keeps the training curves.
    """
    view = _tagged_node(scene, "vtkMRMLPlotViewNode", name, VIEW_ROLE)
    if view is None:
        view = tag(scene.AddNewNodeByClass("vtkMRMLPlotViewNode", name), VIEW_ROLE)
    view.SetDoPropagatePlotChartSelection(False)
    return view


def _tagged_node(scene, class_name: str, name: str, role: str = CURVES_ROLE):
    for node in nodes_by_class(scene, class_name):
        if node.GetName() == name and node.GetAttribute(ROLE_ATTRIBUTE) == role:
            return node
    return None
