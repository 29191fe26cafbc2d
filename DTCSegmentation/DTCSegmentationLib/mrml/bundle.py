"""Scene bundles (``.mrb``): a whole scene with its data in one file that opens in Slicer."""

import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.mrml.scene import new_scene, nodes_by_class
from DTCSegmentationLib.mrml.volume_sequences import IMAGE, LABELMAP, add_sequence_browser, add_volume_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence


def write_scene_bundle(scene, path: PathLike, overwrite: bool = False) -> Path:
    """Save ``scene`` with all its data as one ``.mrb`` file (atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".mrb":
        raise DTCError("scene bundles must end in .mrb.", path, "Rename the output.")
    # Nodes made in code have no storage node yet; without one their data would not be saved.
    for node in nodes_by_class(scene, "vtkMRMLStorableNode"):
        if node.GetSaveWithScene() and node.GetStorageNode() is None:
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
    nodes = [add_volume_sequence(scene, frames, "frames", IMAGE)]
    nodes += [add_volume_sequence(scene, mask, name, LABELMAP) for mask, name in zip(masks, names)]
    add_sequence_browser(scene, nodes)
    return write_scene_bundle(scene, path, overwrite)
