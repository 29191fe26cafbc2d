"""The closed, smoothed surface of a gland labelmap, made the way Slicer's segmentations make it.

The steps and parameters are those of Slicer's binary-labelmap-to-closed-surface conversion
(``Libs/vtkSegmentationCore/vtkBinaryLabelmapToClosedSurfaceConversionRule.cxx``, default
smoothing factor 0.5): pad by one voxel, ``vtkDiscreteFlyingEdges3D`` in voxel index space,
``vtkWindowedSincPolyDataFilter`` with pass band ``10^(-4 s)`` and ``20 + 40 s`` iterations (boundary
and feature-edge smoothing off, non-manifold smoothing and coordinate normalisation on), then the
index-to-world transform.  Needs VTK (Slicer's, or the ``slicer-core`` wheel's).
"""

import numpy as np
import SimpleITK as sitk

LPS, RAS = "LPS", "RAS"


def closed_surface(labelmap: sitk.Image, smoothing: float = 0.5, space: str = RAS):
    """``vtkPolyData`` triangles of the 0/1 ``labelmap``'s boundary, in ``space`` (``"RAS"`` for Slicer, or ``"LPS"``) mm.

    Raises:
        ValueError: an empty labelmap or an unknown ``space``.
    """
    import vtk
    from vtk.util import numpy_support

    if space not in (LPS, RAS):
        raise ValueError(f"space must be 'LPS' or 'RAS', got {space!r}")
    array = (sitk.GetArrayFromImage(labelmap) > 0).astype(np.uint8)
    if not array.any():
        raise ValueError("the labelmap is empty: there is no surface")
    padded = np.pad(array, 1)  # closes the surface where the gland touches the grid's edge
    image = vtk.vtkImageData()
    image.SetDimensions(padded.shape[2], padded.shape[1], padded.shape[0])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(padded.ravel(), deep=True, array_type=vtk.VTK_UNSIGNED_CHAR))
    edges = vtk.vtkDiscreteFlyingEdges3D()
    edges.SetInputData(image)
    edges.ComputeGradientsOff()
    edges.ComputeNormalsOff()
    edges.SetValue(0, 1)
    edges.Update()
    surface = edges.GetOutput()
    if smoothing > 0:
        smoother = vtk.vtkWindowedSincPolyDataFilter()
        smoother.SetInputData(surface)
        smoother.SetNumberOfIterations(int(20 + smoothing * 40))
        smoother.SetPassBand(10.0 ** (-4.0 * smoothing))
        smoother.BoundarySmoothingOff()
        smoother.FeatureEdgeSmoothingOff()
        smoother.NonManifoldSmoothingOn()
        smoother.NormalizeCoordinatesOn()
        smoother.Update()
        surface = smoother.GetOutput()
    # padded index (i, j, k) -> the labelmap's index (i - 1, ...) -> LPS (-> RAS)
    matrix = np.eye(4)
    axes = np.asarray(labelmap.GetDirection(), float).reshape(3, 3) * np.asarray(labelmap.GetSpacing(), float)[None, :]
    matrix[:3, :3] = axes
    matrix[:3, 3] = np.asarray(labelmap.GetOrigin(), float) - axes @ np.ones(3)
    if space == RAS:
        matrix = np.diag([-1.0, -1.0, 1.0, 1.0]) @ matrix
    transform = vtk.vtkTransform()
    transform.SetMatrix(matrix.ravel().tolist())
    moved = vtk.vtkTransformPolyDataFilter()
    moved.SetTransform(transform)
    moved.SetInputData(surface)
    moved.Update()
    return moved.GetOutput()


def enclosed_volume_ml(surface) -> float:
    """Volume (mL) a closed triangle surface encloses (``vtkMassProperties``)."""
    import vtk

    triangles = vtk.vtkTriangleFilter()
    triangles.SetInputData(surface)
    properties = vtk.vtkMassProperties()
    properties.SetInputConnection(triangles.GetOutputPort())
    properties.Update()
    return properties.GetVolume() / 1000.0
