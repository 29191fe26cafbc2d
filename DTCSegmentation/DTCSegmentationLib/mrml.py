"""MRML adapter: frame sequences <-> Slicer volume sequences, sequence browsers and scene bundles.

Only MRML classes and ``slicer.util`` array helpers are used - never the application object
or its implicit scene, and no Qt - so this runs inside Slicer (with the scene passed in) and
headless on the ``slicer-core`` wheel (``pip install slicer-dtc[mrml]``).
"""

import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from .atomic import atomic_output
from .errors import DTCError, PathLike
from .sequence import FrameSequence

_NODE_CLASS = {"image": "vtkMRMLScalarVolumeNode", "labelmap": "vtkMRMLLabelMapVolumeNode"}


def _slicer():
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
    slicer = _slicer()
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


def _matrix(array):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    for row in range(4):
        for column in range(4):
            matrix.SetElement(row, column, float(array[row][column]))
    return matrix


def add_volume_sequence(scene, sequence: FrameSequence, name: str, kind: str = "image"):
    """A ``vtkMRMLSequenceNode`` of one volume per frame (IJK-to-RAS from the geometry, index = time in s)."""
    slicer = _slicer()
    node = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name)
    node.SetIndexName("time")
    node.SetIndexUnit("s")
    ijk_to_ras = _matrix(sequence.geometry.ijk_to_ras())
    for frame, time in zip(sequence.frames, sequence.frame_times):
        volume = getattr(slicer, _NODE_CLASS[kind])()
        slicer.util.updateVolumeFromArray(volume, frame[None])
        volume.SetIJKToRASMatrix(ijk_to_ras)
        node.SetDataNodeAtValue(volume, f"{time:.6g}")
    return node


def add_sequence_browser(scene, sequences: Sequence, name: str = "DTC browser", logic=None):
    """A browser playing ``sequences`` in sync (the first is the master) with their proxy nodes created.

    Args:
        logic: the Sequences module logic (in Slicer: ``slicer.modules.sequences.logic()``,
            passed in by the GUI layer); by default the one :func:`new_scene` attached.
    """
    if logic is None:
        logics = getattr(scene, "dtc_logics", None)
        if logics is None:
            raise DTCError("no Sequences logic for this scene.",
                           fix="Pass logic=slicer.modules.sequences.logic(), or create the scene with new_scene().")
        logic = logics[1]
    browser = scene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode", name)
    browser.SetAndObserveMasterSequenceNodeID(sequences[0].GetID())
    for node in sequences[1:]:
        browser.AddSynchronizedSequenceNode(node.GetID())
    logic.UpdateProxyNodesFromSequences(browser)
    return browser


def write_scene_bundle(scene, path: PathLike, overwrite: bool = False) -> Path:
    """Save ``scene`` with all its data as one ``.mrb`` file (atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".mrb":
        raise DTCError("scene bundles must end in .mrb.", path, "Rename the output.")
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSequenceNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLSequenceNode")
        if node.GetStorageNode() is None:
            node.AddDefaultStorageNode()
    with atomic_output(path, overwrite=overwrite) as temporary:
        # MRML names the folder inside the bundle after the file, so write under the final
        # name in a private folder, then move it to the temporary name.
        workdir = Path(tempfile.mkdtemp(prefix=".dtc-mrb-", dir=str(path.parent)))
        try:
            bundle = workdir / path.name
            if not scene.WriteToMRB(str(bundle)):
                raise DTCError("the scene could not be saved.", path, "Check the folder is writable and has space.")
            bundle.replace(temporary)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return path


def read_scene_bundle(path: PathLike):
    """Load a ``.mrb`` into a new headless scene."""
    path = Path(path)
    scene = new_scene()
    if not scene.ReadFromMRB(str(path)):
        raise DTCError("is not a readable Slicer scene bundle.", path, "Check the file is a complete .mrb.")
    return scene


def bundle_recording(path: PathLike, frames: FrameSequence, masks: Sequence[FrameSequence], names: Sequence[str],
                     overwrite: bool = False) -> Path:
    """Write frames and mask sequences with a synchronised browser as a ``.mrb`` ready for playback."""
    scene = new_scene()
    nodes = [add_volume_sequence(scene, frames, "frames", "image")]
    nodes += [add_volume_sequence(scene, mask, name, "labelmap") for mask, name in zip(masks, names)]
    add_sequence_browser(scene, nodes)
    return write_scene_bundle(scene, path, overwrite)
