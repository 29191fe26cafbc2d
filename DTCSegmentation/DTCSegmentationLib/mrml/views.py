"""How DTC outputs look in slice views: display nodes and slice-view layers (no Qt: composite nodes only)."""

from typing import Optional, Sequence

import numpy as np

from DTCSegmentationLib.mrml.consistency_nodes import flicker_color_table
from DTCSegmentationLib.mrml.scene import ijk_to_ras, nodes_by_class, vtk_matrix


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


def face_frame_plane(scene, volume, views: Sequence[str], application_logic=None) -> int:
    """Turn the named slice views to the plane of ``volume``'s frames and centre them on it; returns how many.

    A 2D frame lies in its volume's IJ plane; a view in another orientation (the Yellow view is
    sagittal in Slicer's layouts) shows it edge-on, as one line.  Each view's slice node is
    rotated onto the volume's axes with K as its normal (``vtkMRMLSliceNode.RotateToAxes``, which
    keeps the view's handedness and picks the in-plane axes closest to its current ones), then
    fitted: with ``application_logic`` (the application's vtkMRMLApplicationLogic) by the view's
    own slice logic (``FitSliceToAll``: field of view and centre for the view's size), else only
    centred on the volume.

    Args:
        views: layout names of the slice views (``"Red"``, ``"Yellow"``, ...).
    """
    matrix = vtk_matrix(ijk_to_ras(volume))
    transform = volume.GetParentTransformNode()
    if transform is not None and transform.IsTransformToWorldLinear():
        to_world = vtk_matrix(np.eye(4))
        transform.GetMatrixTransformToWorld(to_world)
        to_world.Multiply4x4(to_world, matrix, matrix)
    bounds = [0.0] * 6
    volume.GetRASBounds(bounds)
    center = [(bounds[2 * axis] + bounds[2 * axis + 1]) / 2.0 for axis in range(3)]
    turned = 0
    for node in nodes_by_class(scene, "vtkMRMLSliceNode"):
        if node.GetLayoutName() not in views:
            continue
        node.RotateToAxes(matrix, 2)
        slice_logic = application_logic.GetSliceLogic(node) if application_logic is not None else None
        if slice_logic is not None:
            slice_logic.FitSliceToAll()
        else:
            slice_to_ras = node.GetSliceToRAS()
            for axis in range(3):
                slice_to_ras.SetElement(axis, 3, center[axis])
            node.UpdateMatrices()
        turned += 1
    return turned
