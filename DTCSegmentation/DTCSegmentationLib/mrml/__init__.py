"""MRML adapter: recordings in a Slicer scene <-> the segmenter and the consistency analysis.

Only MRML classes and ``slicer.util`` array helpers are used - never the application object
or its implicit scene, and no Qt - so this runs inside Slicer (with the scene passed in) and
headless on the ``slicer-core`` wheel (``pip install slicer-dtc[mrml]``).

One concept per module:

* ``scene``: Slicer's libraries, headless scenes, matrices, node tags, rollback on failure;
* ``volume_sequences``: volume sequences and the browsers that play them;
* ``frame_source``: the frames of a browser / sequence / volume with their geometry and times;
* ``output_volumes``: per-frame outputs laid out like their recording;
* ``consistency_nodes``: the per-frame table, plot charts and flicker colour table;
* ``views``: display nodes and slice-view layers;
* ``recording_segmentation``: segment a recording in the scene (the panel's Apply);
* ``model_comparison``: two models on one recording, side by side;
* ``segmentations``: masks as segmentation sequences (one "Prostate" segment per frame), both ways;
* ``corrections``: which frames the user corrected in the Segment Editor;
* ``live_segmentation``: segment an image node that another module keeps updating;
* ``gland_reconstruction``: a segmented sweep's masks compounded into the gland in 3D, its volume;
* ``recording_export``: NIfTI / PNG / ``.seq.nrrd`` files and the per-frame CSV;
* ``bundle``: ``.mrb`` scene bundles.
"""

from DTCSegmentationLib.lazy_exports import lazy_exports

# Imported now, although light: importing the submodule of the same name makes the package attribute
# ``frame_source`` that module, and this import puts the function back (before any lazy lookup).
from DTCSegmentationLib.mrml.frame_source import FrameSource as FrameSource
from DTCSegmentationLib.mrml.frame_source import frame_source as frame_source

# The other names are imported from their modules on first use (PEP 562), so that the Slicer panel can
# look up a run or show it (``recording_segmentation``, ``views``) before OpenCV and torch are
# installed: importing any ``DTCSegmentationLib.mrml.<module>`` runs this file first.
_EXPORTS = {
    "bundle": ("bundle_recording", "read_scene_bundle", "write_scene_bundle"),
    "gland_reconstruction": ("GlandReconstruction", "reconstruct_gland"),
    "corrections": ("changed_pixels", "correct_frame", "corrected_frames"),
    "live_segmentation": ("LiveSegmentation",),
    "model_comparison": ("ModelComparison", "compare_models"),
    "recording_files": ("export_recording", "write_table_csv"),
    "recording_segmentation": ("RecordingSegmentation", "SegmentationCancelled", "find_run", "segment_recording"),
    "scene": ("new_scene",),
    "segmentations": ("labelmaps_from_segmentations", "segmentations_from_labelmaps"),
    "views": ("show_in_slice_views",),
    "volume_sequences": ("add_sequence_browser", "add_volume_sequence"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, eager=("FrameSource", "frame_source"))
