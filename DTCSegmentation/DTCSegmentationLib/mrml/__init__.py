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
* ``live_segmentation``: segment an image node that another module keeps updating;
* ``recording_export``: NIfTI / PNG / ``.seq.nrrd`` files and the per-frame CSV;
* ``bundle``: ``.mrb`` scene bundles.
"""

from DTCSegmentationLib.mrml.bundle import bundle_recording, read_scene_bundle, write_scene_bundle
from DTCSegmentationLib.mrml.frame_source import FrameSource, frame_source
from DTCSegmentationLib.mrml.live_segmentation import LiveSegmentation
from DTCSegmentationLib.mrml.model_comparison import ModelComparison, compare_models
from DTCSegmentationLib.mrml.recording_files import export_recording, write_table_csv
from DTCSegmentationLib.mrml.recording_segmentation import (
    RecordingSegmentation,
    SegmentationCancelled,
    find_run,
    segment_recording,
)
from DTCSegmentationLib.mrml.scene import new_scene
from DTCSegmentationLib.mrml.views import show_in_slice_views
from DTCSegmentationLib.mrml.volume_sequences import add_sequence_browser, add_volume_sequence

__all__ = [
    "FrameSource", "LiveSegmentation", "ModelComparison", "RecordingSegmentation", "SegmentationCancelled",
    "add_sequence_browser", "add_volume_sequence", "bundle_recording", "compare_models", "export_recording",
    "find_run", "frame_source", "new_scene", "read_scene_bundle", "segment_recording", "show_in_slice_views",
    "write_scene_bundle", "write_table_csv",
]
