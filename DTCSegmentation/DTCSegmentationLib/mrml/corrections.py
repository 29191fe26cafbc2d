"""Which frames of a run the user corrected: the run's segmentation compared with the model's own masks.

A run made with ``masks_as="segmentation"`` keeps two mask sequences in the recording's browser:
the labelmap sequence (the model's output, never edited by the Segment Editor) and the
segmentation sequence the user edits.  A frame is *corrected* when its "Prostate" segment,
read on the frame's pixel grid, differs from the model's mask in at least ``min_pixels`` pixels.
Comparing with the kept output needs no observer, so corrections made before a scene was saved
and reloaded, or from the Python console, count the same as live edits.
"""

from typing import Dict, List

import numpy as np

from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.mrml.scene import slicer_module
from DTCSegmentationLib.mrml.segmentations import frame_lookup, frame_mask, replace_segment


def changed_pixels(scene, run) -> Dict[int, int]:
    """``{frame index: number of pixels where the segmentation differs from the model's mask}`` for every frame.

    Args:
        run: a :class:`~.recording_segmentation.RecordingSegmentation` with a ``segmentation``
            (``segment_recording(..., masks_as="segmentation")``, or ``find_run`` on one).
    """
    if run.segmentation is None:
        raise DTCError(f"run '{run.name}' has no segmentation to correct.",
                       fix='Segment the recording with masks as "segmentation" (panel) or masks_as="segmentation".')
    slicer = slicer_module()
    source, sequence = run.source, run.segmentation
    lookup = frame_lookup(source)
    model = run.masks
    counts = {}
    for item in range(sequence.GetNumberOfDataNodes()):
        index = lookup(sequence.GetNthIndexValue(item))
        if index is None:
            continue
        corrected = frame_mask(sequence.GetNthDataNode(item), source, index)
        model_item = model.GetItemNumberFromIndexValue(sequence.GetNthIndexValue(item))
        original = slicer.util.arrayFromVolume(model.GetNthDataNode(model_item))[0] > 0
        counts[index] = int(np.count_nonzero((corrected > 0) != original))
    return counts


def corrected_frames(scene, run, min_pixels: int = 1) -> List[int]:
    """Frame indices (ascending) whose segment differs from the model's mask in at least ``min_pixels`` pixels."""
    return sorted(index for index, count in changed_pixels(scene, run).items() if count >= min_pixels)


def correct_frame(scene, run, index: int, mask: np.ndarray) -> None:
    """Replace frame ``index``'s Prostate segment by ``mask`` ``(H, W)`` from a script, as an edit in the Segment Editor.

    The browser shows the frame first, so the edit goes through the segmentation it displays and
    is saved into that frame's item (the run's segmentation sequence saves proxy changes).
    """
    if run.segmentation is None:
        raise DTCError(f"run '{run.name}' has no segmentation to correct.",
                       fix='Segment the recording with masks as "segmentation" (panel) or masks_as="segmentation".')
    run.source.browser.SetSelectedItemNumber(index)
    replace_segment(run.displayed["segmentation"], mask, run.source.ijk_to_ras(index))
