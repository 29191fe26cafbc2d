"""How DTC outputs look in slice views: display nodes and slice-view layers (no Qt: composite nodes only)."""

from typing import Optional, Sequence

from DTCSegmentationLib.mrml.consistency_nodes import flicker_color_table
from DTCSegmentationLib.mrml.scene import nodes_by_class


def display_labelmap(node) -> None:
    """Give a labelmap volume (or proxy) its display node, so the mask shows in the label layer."""
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()


def display_flicker_map(scene, node) -> None:
    """Show a 0-255 flicker-map volume through the flicker colour table (0 transparent, 255 red)."""
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetAndObserveColorNodeID(flicker_color_table(scene).GetID())
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(0.0, 255.0)


def show_in_slice_views(scene, background=None, label=None, foreground=None, foreground_opacity: float = 0.6,
                        views: Optional[Sequence[str]] = None) -> int:
    """Put volumes into the layers of the scene's slice views; returns how many views changed.

    Args:
        background, label, foreground: volume nodes (None leaves that layer as it is).
        foreground_opacity: 0-1.
        views: layout names of the views to change (e.g. ``("Red",)``); all views if None.
    """
    changed = 0
    for composite in nodes_by_class(scene, "vtkMRMLSliceCompositeNode"):
        if views is not None and composite.GetLayoutName() not in views:
            continue
        if background is not None:
            composite.SetBackgroundVolumeID(background.GetID())
        if label is not None:
            composite.SetLabelVolumeID(label.GetID())
        if foreground is not None:
            composite.SetForegroundVolumeID(foreground.GetID())
            composite.SetForegroundOpacity(foreground_opacity)
        changed += 1
    return changed
