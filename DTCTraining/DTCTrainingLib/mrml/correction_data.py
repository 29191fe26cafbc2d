"""Corrections made in the Segment Editor as training data: corrected frames labelled, the rest unlabelled video.

Each segmentation run in the scene (``segment_recording(..., masks_as="segmentation")``) whose
segmentation differs from the model's own masks on some frames becomes one case: its frames, the
corrected masks of those frames as the labelled ones, and every other frame unlabelled (the
student learns temporal consistency from them; the model's uncorrected masks are not used as
labels, so its mistakes are not taught back to it).
"""

from pathlib import Path
from typing import List, Optional, Sequence

from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.mrml.corrections import corrected_frames
from DTCSegmentationLib.mrml.recording_segmentation import find_run
from DTCSegmentationLib.mrml.scene import ROLE_ATTRIBUTE, nodes_by_class

from DTCTrainingLib.mrml.annotations import SceneRecording
from DTCTrainingLib.mrml.training_data import write_training_data


def segmentation_runs(scene) -> list:
    """Every run of the scene that has a segmentation sequence (``RecordingSegmentation`` objects, scene order)."""
    runs = []
    for node in nodes_by_class(scene, "vtkMRMLSequenceNode"):
        if node.GetAttribute(ROLE_ATTRIBUTE) == "segmentation":
            run = find_run(scene, node)
            if run is not None:
                runs.append(run)
    return runs


def corrected_recordings(scene, runs: Optional[Sequence] = None, min_pixels: int = 1) -> List[SceneRecording]:
    """One :class:`SceneRecording` per run with corrected frames (``frames`` = those frames).

    Args:
        runs: the runs to look at (default: :func:`segmentation_runs`).
        min_pixels: how many pixels must differ from the model's mask for a frame to count as corrected.
    """
    found = []
    for run in segmentation_runs(scene) if runs is None else runs:
        frames = corrected_frames(scene, run, min_pixels)
        if frames:
            recording = run.source.sequence
            found.append(SceneRecording(recording, run.segmentation, case_id=recording.GetName(), frames=tuple(frames)))
    return found


def write_correction_data(scene, out: PathLike, runs: Optional[Sequence] = None, validation: Optional[PathLike] = None,
                          min_pixels: int = 1, overwrite: bool = False, training: Optional[PathLike] = None) -> Path:
    """Write the corrected recordings as a training-data folder; returns its ``dataset.json``.

    Validation: with ``validation`` (a training-data folder) its ``val`` cases are copied in and every
    corrected recording trains; without it the last of two or more corrected recordings validates
    (:func:`~.training_data.write_training_data`'s rule).  One corrected recording and no
    ``validation`` is an error: training needs labelled validation frames, and frames of the
    recording it trains on would only measure how well it memorised them.  ``training`` (a training-data
    folder, e.g. the model's own training data) adds its ``train`` cases, so that fine-tuning on a few
    corrected frames is not fine-tuning on those frames alone (see ``bench/bench_corrections.py``).
    """
    recordings = corrected_recordings(scene, runs, min_pixels)
    if not recordings:
        raise DTCError("no frame of a segmentation run differs from the model's masks.",
                       fix='Segment with masks as "segmentation", correct frames in the Segment Editor, then export.')
    if len(recordings) == 1 and validation is None:
        raise DTCError(f"only '{recordings[0].case_id}' has corrections, and no validation data was given.",
                       fix="Give a training-data folder with validation cases (e.g. the one the model was trained "
                           "with), or correct frames of a second recording (the last one then validates).")
    return write_training_data(scene, recordings, out, name="corrections", overwrite=overwrite, validation=validation,
                               training=training)
