"""The gland of a recording file in 3D, as one call: poses from the file (or a ``sweep.json``), masks from a
mask file or a model, a labelmap file out and its volume (``dtc reconstruct``)."""

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import SimpleITK as sitk

from DTCSegmentationLib.atomic import atomic_output, check_writable
from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.reconstruction.compounding import ReconstructionError, compound_masks
from DTCSegmentationLib.reconstruction.frame_poses import poses_from_sweep_json

LABELMAP_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def write_labelmap(image: sitk.Image, path: PathLike, overwrite: bool = False) -> Path:
    """Write ``image`` to ``path`` (one of :data:`LABELMAP_SUFFIXES`) atomically; returns ``path``."""
    path = Path(path)
    if not path.name.lower().endswith(LABELMAP_SUFFIXES):
        raise ReconstructionError("is not a labelmap file name.", path,
                                  f"End the output in one of {', '.join(LABELMAP_SUFFIXES)}.")
    with atomic_output(path, overwrite) as temporary:  # keeps the suffix SimpleITK picks the writer by
        sitk.WriteImage(image, str(temporary), useCompression=True)
    return path


def reconstruct_file(recording: PathLike, out: PathLike, masks: Optional[PathLike] = None, segmenter=None,
                     poses: Optional[PathLike] = None, spacing_mm: float = 0.5, largest_component: bool = True,
                     overwrite: bool = False) -> Dict:
    """Compound the gland of ``recording`` into the labelmap file ``out``; returns its summary (volume in mL, frames).

    Args:
        recording: a sweep whose frames carry their poses (a tracked PLUS ``.igs.mha``), or any
            readable sweep with ``poses``.
        masks: the sweep's mask sequence; without it ``segmenter`` segments ``recording``.
        poses: a ``sweep.json`` of ``dtc dataset from-volumes`` holding the frames' poses.
        spacing_mm: voxel size of the output (mm).

    Raises:
        ReconstructionError / FramePoseError / SequenceReadError: no per-frame poses, masks that do not
        match the recording, no gland in any mask (each names the file and the fix).
    """
    from DTCSegmentationLib.sequence_io import read_sequence

    check_writable(out, overwrite)  # before reading and segmenting, not after
    sequence = read_sequence(recording)
    frame_poses = poses_from_sweep_json(poses) if poses is not None else sequence.frame_poses
    if frame_poses is None:
        raise ReconstructionError("has no per-frame poses.", recording,
                                  "Use a tracked recording (PLUS .igs.mha with ImageToReference transforms) or pass "
                                  "the sweep.json that holds its poses (--poses).")
    if masks is not None:
        mask_frames = read_sequence(masks).frames
        source = str(masks)
    else:
        mask_frames = np.stack([result.mask for result in segmenter.segment_stream(sequence.frames)])
        source = "model"
    if mask_frames.shape[0] != len(frame_poses) or mask_frames.shape[1:3] != sequence.frames.shape[1:3]:
        raise ReconstructionError(f"has {mask_frames.shape[0]} masks of {mask_frames.shape[1:3]} for "
                                  f"{len(frame_poses)} frames of {sequence.frames.shape[1:3]}.", masks,
                                  "Give the mask sequence of this recording.")
    reconstruction = compound_masks(mask_frames, frame_poses, spacing_mm=spacing_mm,
                                    largest_component=largest_component)
    path = write_labelmap(reconstruction.labelmap, out, overwrite)
    return {"labelmap": str(path), "masks": source, **reconstruction.summary()}
