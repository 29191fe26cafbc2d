"""The MRML scene: Slicer's libraries, a headless scene, the Sequences logic, matrices and node tags."""

import contextlib
import tempfile

import numpy as np

from DTCSegmentationLib.errors import DTCError

ROLE_ATTRIBUTE = "DTC.Role"
"""Node attribute naming what a node made by DTC holds (``masks``, ``flicker``, ``table`` ...)."""
RUN_ATTRIBUTE = "DTC.Run"
"""Node attribute naming the segmentation run a node belongs to (unique in a scene)."""


def slicer_module():
    """The ``slicer`` package with MRML classes (Slicer itself or the ``slicer-core`` wheel)."""
    try:
        import slicer
    except ImportError:
        slicer = None
    if slicer is None or not hasattr(slicer, "vtkMRMLScene"):
        raise DTCError("Slicer's MRML libraries are not available.",
                       fix="Run inside 3D Slicer, or pip install 'slicer-dtc[mrml]' (the slicer-core wheel).")
    return slicer


def new_scene():
    """A headless MRML scene with Slicer's default colour tables and a cache for reading bundles."""
    slicer = slicer_module()
    scene = slicer.vtkMRMLScene()
    cache = slicer.vtkCacheManager()
    cache.SetRemoteCacheDirectory(tempfile.mkdtemp(prefix="dtc-mrml-cache-"))
    io_manager = slicer.vtkDataIOManager()
    io_manager.SetCacheManager(cache)
    scene.SetCacheManager(cache)
    scene.SetDataIOManager(io_manager)
    colors = slicer.vtkSlicerColorLogic()
    colors.SetMRMLScene(scene)  # adds the default colour tables labelmaps need
    sequences = slicer.vtkSlicerSequencesLogic()
    sequences.SetMRMLScene(scene)  # registers the browser node class and updates proxies on playback
    # Inside Slicer the application owns these logics; headless, the scene keeps them alive.
    scene.dtc_logics = (colors, sequences)
    return scene


def sequences_logic(scene, logic=None):
    """The Sequences logic to update proxies with: ``logic``, else the one :func:`new_scene` attached, else None.

    None is fine in Slicer: the application's Sequences logic observes its scene and creates
    and updates the proxies of a browser whenever the browser changes.
    """
    if logic is not None:
        return logic
    logics = getattr(scene, "dtc_logics", None)
    return None if logics is None else logics[1]


def vtk_matrix(array):
    """A ``vtkMatrix4x4`` holding the ``(4, 4)`` ``array``."""
    import vtk

    matrix = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            matrix.SetElement(row, column, float(array[row][column]))
    return matrix


def ijk_to_ras(volume) -> np.ndarray:
    """``(4, 4)`` IJK-to-RAS matrix (mm) of a volume node."""
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])


def nodes_by_class(scene, class_name: str) -> list:
    """All nodes of ``class_name`` (subclasses included) in scene order."""
    return [scene.GetNthNodeByClass(index, class_name) for index in range(scene.GetNumberOfNodesByClass(class_name))]


def all_nodes(scene) -> list:
    """Every node of the scene, in scene order."""
    return [scene.GetNthNode(index) for index in range(scene.GetNumberOfNodes())]


def tag(node, role: str, **attributes):
    """Mark ``node`` as a DTC output holding ``role``; extra attributes are stored as ``DTC.<name>``."""
    node.SetAttribute(ROLE_ATTRIBUTE, role)
    for name, value in attributes.items():
        node.SetAttribute(f"DTC.{name}", str(value))
    return node


@contextlib.contextmanager
def removed_on_failure(scene):
    """Run a block that adds nodes; if it raises (a cancel included), remove every node it added.

    So a cancelled or failed run leaves the scene as it was, with no half-made outputs.
    """
    before = {node.GetID() for node in all_nodes(scene)}
    try:
        yield
    except BaseException:
        added = [node for node in all_nodes(scene) if node.GetID() not in before]
        for sequence in added:
            if sequence.IsA("vtkMRMLSequenceNode"):
                unsynchronize(scene, sequence)
        for node in reversed(added):
            if scene.IsNodePresent(node):
                scene.RemoveNode(node)
        raise


def unsynchronize(scene, sequence) -> None:
    """Take ``sequence`` out of every browser (its proxies stay in the scene).

    Done before removing a sequence: a browser whose proxy disappears while its sequence is
    still synchronised makes the Sequences logic create a new proxy.
    """
    for browser in nodes_by_class(scene, "vtkMRMLSequenceBrowserNode"):
        if browser.IsSynchronizedSequenceNodeID(sequence.GetID(), False):
            browser.RemoveSynchronizedSequenceNode(sequence.GetID())
