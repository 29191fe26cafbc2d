"""A recording in, mask files out: the streaming pipeline behind ``dtc segment``, callable from Python.

Frames stream from the reader through the segmenter into the writers one batch at a time, so
a recording of any length runs in the memory of one batch; every output is written under a
temporary name and appears only when complete.
"""

import contextlib
import itertools
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from tqdm import tqdm

from DTCSegmentationLib.atomic import output_folder
from DTCSegmentationLib.choices import MASK_FORMATS
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.inference.overlay import draw_contour
from DTCSegmentationLib.inference.preprocessing import float_value_range, probability_to_uint8
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.sequence_io import open_sequence, open_writer
from DTCSegmentationLib.sequence_io.naming import recording_stem


def segment_file(segmenter: Segmenter, source: PathLike, out: PathLike, mask_format: str = "seq.nrrd",
                 probabilities: bool = False, overlay: bool = False, overwrite: bool = False,
                 progress: Optional[bool] = None) -> Dict[str, object]:
    """Segment every frame of the recording ``source`` and write ``out/<stem>_masks<suffix>``.

    Masks (uint8, 1 = prostate) keep the input's geometry and frame times.

    Args:
        mask_format: a key of :data:`DTCSegmentationLib.choices.MASK_FORMATS`.
        probabilities: also write ``<stem>_probabilities`` (probability x 255 as uint8).
        overlay: also write ``<stem>_overlay.mp4`` (mask outline on the frames).
        progress: show a progress bar (None: only on a terminal).
    Returns:
        ``{"masks": path, ["probabilities": path,] ["overlay": path,] "frames": N, "frames_with_prostate": K}``.
    """
    if mask_format not in MASK_FORMATS:
        raise DTCError(f"unknown mask format {mask_format!r}.", fix=f"Use one of {', '.join(MASK_FORMATS)}.")
    reader = open_sequence(source)
    with output_folder(out):
        return _segment(segmenter, reader, Path(source), Path(out), mask_format, probabilities, overlay, overwrite,
                        progress)


def _segment(segmenter: Segmenter, reader, source: Path, out: Path, mask_format: str, probabilities: bool,
             overlay: bool, overwrite: bool, progress: Optional[bool]) -> Dict[str, object]:
    stem = recording_stem(source)
    rate = reader.metadata.get("frame_rate") or None
    outputs = {"masks": out / f"{stem}_masks{MASK_FORMATS[mask_format]}"}
    if probabilities:
        outputs["probabilities"] = out / f"{stem}_probabilities{MASK_FORMATS[mask_format]}"
    if overlay:
        outputs["overlay"] = out / f"{stem}_overlay.mp4"
    frames_done = with_prostate = 0
    with contextlib.ExitStack() as stack:
        writers = {
            key: stack.enter_context(open_writer(path, reader.geometry, "labelmap" if key == "masks" else "image",
                                                 rate, overwrite))
            for key, path in outputs.items()
        }
        times = reader.frame_times
        with reader:
            # Float recordings are scaled by their whole range, which takes one extra pass to know.
            value_range = float_value_range(reader, str(source)) if np.issubdtype(reader.dtype, np.floating) else None
            # tee holds at most one batch of frames: the model side runs ahead by a batch.
            shown, fed = itertools.tee(reader)
            results = zip(shown, segmenter.segment_stream(fed, value_range))
            for frame, result in tqdm(results, total=None if times is None else len(times), desc="segment",
                                      unit="frame", disable=None if progress is None else not progress):
                time = float(times[frames_done]) if times is not None and frames_done < len(times) else None
                writers["masks"].write(result.mask, time)
                if "probabilities" in writers:
                    writers["probabilities"].write(probability_to_uint8(result.probability), time)
                if "overlay" in writers:
                    writers["overlay"].write(draw_contour(frame, result.mask, value_range=value_range), time)
                with_prostate += bool(result.mask.any())
                frames_done += 1
    return {**outputs, "frames": frames_done, "frames_with_prostate": with_prostate}
