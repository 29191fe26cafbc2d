"""Live mode: segment an image node that another module keeps updating (e.g. OpenIGTLink from PLUS).

Every image update hands a copy of the frame to a :class:`~DTCSegmentationLib.live.worker.LiveWorker`
(one inference thread, newest frame wins: frames that arrive while the model is busy are
dropped rather than queued).  :meth:`LiveSegmentation.poll`, called from the main thread (a
``qt.QTimer`` in Slicer, a loop headless), writes the newest mask into the mask node with the
frame's geometry.  MRML nodes are only touched on the thread that calls :meth:`poll`.
"""

from typing import Dict, Optional

import numpy as np

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.live.worker import LiveWorker
from DTCSegmentationLib.mrml.scene import ijk_to_ras, slicer_module, tag, vtk_matrix
from DTCSegmentationLib.mrml.views import display_labelmap


class LiveSegmentation:
    """Keeps ``mask_node`` showing the segmentation of the newest frame of ``image_node``.

    Args:
        scene: the scene holding ``image_node``.
        image_node: scalar or RGB volume node holding one 2D frame, updated by another module.
        segmenter: a :class:`~DTCSegmentationLib.inference.segmenter.Segmenter`, run on a thread of this process
            (ignored when ``worker`` is given).
        mask_node: labelmap node to update (default: a new ``"<image> live mask"`` node).
        worker: where inference runs: a :class:`~DTCSegmentationLib.live.worker.LiveWorker` (a thread here) or a
            :class:`~DTCSegmentationLib.live.bridge_worker.BridgeWorker` (a child process; what the Slicer panel
            uses, because a thread of Slicer's GUI process only runs while the main thread runs Python).

    Use :meth:`start`, then :meth:`poll` regularly, then :meth:`stop` (or ``with``).
    """

    def __init__(self, scene, image_node, segmenter=None, mask_node=None, worker=None):
        if image_node is None or not image_node.IsA("vtkMRMLScalarVolumeNode") or image_node.IsA(
                "vtkMRMLLabelMapVolumeNode"):
            raise DTCError("live mode needs an image volume node to watch.",
                           fix="Select the volume that OpenIGTLink (or another module) updates.")
        self.scene = scene
        self.image_node = image_node
        if mask_node is None:
            mask_node = tag(scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", f"{image_node.GetName()} live mask"),
                            "live mask")
        self.mask_node = mask_node
        if worker is None and segmenter is None:
            raise DTCError("live mode needs a model.", fix="Pass a segmenter or a worker.")
        self.worker = worker if worker is not None else LiveWorker(segmenter)
        self.latest = None
        """The :class:`~DTCSegmentationLib.live.worker.LiveResult` shown last (None before the first)."""
        self.shown = 0
        self.skipped = 0
        self._observer = None

    def start(self) -> "LiveSegmentation":
        """Start watching the image node (a frame already there is segmented at once)."""
        if self._observer is None:
            self.worker.start()
            self._observer = self.image_node.AddObserver(slicer_module().vtkMRMLVolumeNode.ImageDataModifiedEvent,
                                                         self._on_image_modified)
            self._on_image_modified()
        return self

    def stop(self) -> None:
        """Stop watching and stop the inference thread (the mask node keeps the last mask)."""
        if self._observer is not None:
            self.image_node.RemoveObserver(self._observer)
            self._observer = None
        self.worker.stop()

    @property
    def running(self) -> bool:
        return self._observer is not None

    def __enter__(self) -> "LiveSegmentation":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _on_image_modified(self, caller=None, event=None) -> None:
        image = self.image_node.GetImageData()
        if image is None or image.GetPointData().GetScalars() is None:
            return  # a new, still empty image (the sender fills it and signals again)
        frames = slicer_module().util.arrayFromVolume(self.image_node)
        if frames.shape[0] != 1:
            self.skipped += 1  # a 3D volume is not a live 2D frame
            return
        # The sender may reuse the image buffer for its next frame: hand the thread a copy.
        self.worker.submit(np.array(frames[0]), context=ijk_to_ras(self.image_node))

    def poll(self) -> bool:
        """Show the newest finished mask, if there is one since the last call; True if the mask node changed.

        Raises :class:`~DTCSegmentationLib.live.worker.LiveWorkerError` if the model failed on the worker thread.
        """
        result = self.worker.poll()
        if result is None:
            return False
        slicer_module().util.updateVolumeFromArray(self.mask_node, result.mask[None])
        self.mask_node.SetIJKToRASMatrix(vtk_matrix(result.context))
        self.latest = result
        if self.shown == 0:
            display_labelmap(self.mask_node)
        self.shown += 1
        return True

    def stats(self) -> Dict[str, Optional[float]]:
        """Frames received / segmented / dropped / shown, frames per second and latency p50 / p99 (ms)."""
        return dict(self.worker.stats().as_dict(), shown=self.shown, skipped=self.skipped)
