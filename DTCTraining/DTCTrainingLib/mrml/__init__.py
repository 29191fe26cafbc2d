"""MRML adapter of the training side: training data from a scene, training progress as table and chart.

* :func:`write_training_data` turns recordings in a scene (an image volume sequence and a
  segmentation or labelmap sequence that may hold masks for only some frames) into a
  training-data folder with a ``dataset.json`` manifest, for ``dtc train``.
* :func:`annotated_recordings` finds those pairs in a scene: the sequences each browser plays;
  :func:`add_annotation_sequence` makes such a mask sequence from arrays.
* :func:`write_correction_data` writes the frames a user corrected in the Segment Editor
  (segmentation runs compared with the model's masks) as labelled, the rest as unlabelled video.
* :func:`training_curves` shows the trainer's JSON events as a ``vtkMRMLTableNode`` and a
  ``vtkMRMLPlotChartNode`` (loss and validation Dice per epoch), updated as events arrive;
  :func:`training_plot_view` the panel's plot view, which other modules' charts leave alone.

Like ``DTCSegmentationLib.mrml`` this takes the scene as an argument and uses no Qt, so it runs
headless on the ``slicer-core`` wheel.
"""


from DTCTrainingLib.mrml.annotations import SceneRecording, add_annotation_sequence, annotated_recordings
from DTCTrainingLib.mrml.correction_data import corrected_recordings, segmentation_runs, write_correction_data
from DTCTrainingLib.mrml.training_curves import CURVE_COLORS, curve_columns, training_curves, training_plot_view
from DTCTrainingLib.mrml.training_data import write_training_data

__all__ = ["CURVE_COLORS", "SceneRecording", "add_annotation_sequence", "annotated_recordings", "corrected_recordings",
           "curve_columns", "segmentation_runs", "training_curves", "training_plot_view", "write_correction_data",
           "write_training_data"]
