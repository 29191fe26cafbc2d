"""Recordings degraded the way clinical video reaches users: screen captures that were downscaled,
JPEG-compressed and carry the scanner's on-screen text and scale.

Used to check that a model survives the path from the scanner to a researcher's disk; the masks
are unchanged, so the degraded copy of a labelled dataset is scored against the same truth.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.sequence_io import open_writer, read_sequence

from DTCTrainingLib.data.manifest import MANIFEST_NAME, Manifest, load_manifest


@dataclass(frozen=True)
class Degradation:
    """How a frame is degraded.

    Attributes:
        width: the capture's width in pixels (the frame is scaled to it and back, aspect kept).
        jpeg_quality: JPEG quality 1-100 of the capture (0: no compression).
        overlays: burn on-screen text, a depth scale with ticks and a focus marker into the frame.
    """

    width: int = 130
    jpeg_quality: int = 50
    overlays: bool = True

    def __post_init__(self):
        if self.width < 16:
            raise DTCError(f"a capture {self.width} pixels wide is too small to segment.", fix="Use a width of 16 or more.")
        if not 0 <= self.jpeg_quality <= 100:
            raise DTCError(f"JPEG quality {self.jpeg_quality} is outside 0-100.", fix="Use 1-100, or 0 for none.")


def degrade_frame(frame: np.ndarray, settings: Degradation, rng: np.random.Generator) -> np.ndarray:
    """``frame`` ``(H, W)`` or ``(H, W, 3)`` uint8 as a screen capture would store it, at its own size."""
    frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    if settings.overlays:
        frame = _overlays(frame, rng)
    small = (settings.width, max(1, round(height * settings.width / width)))
    captured = cv2.resize(frame, small, interpolation=cv2.INTER_AREA)
    if settings.jpeg_quality:
        ok, data = cv2.imencode(".jpg", captured, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        captured = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return cv2.resize(captured, (width, height), interpolation=cv2.INTER_LINEAR).reshape(frame.shape)


def _overlays(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Text in the top corners, a depth scale with ticks and a focus marker on the right edge."""
    frame = frame.copy()
    height, width = frame.shape[:2]
    white = (255, 255, 255) if frame.ndim == 3 else 255
    scale = max(height, width) / 500.0
    thickness = max(1, round(scale * 1.5))
    for text, x in ((f"ID {rng.integers(10**7, 10**8)}", 2), (f"G {rng.integers(30, 70)}% D 6cm", width // 2 + 2)):
        cv2.putText(frame, text, (x, max(8, round(14 * scale))), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, white,
                    thickness, cv2.LINE_AA)
    column = width - max(4, round(8 * scale))
    for y in np.linspace(0.1 * height, 0.95 * height, 7).astype(int):
        cv2.line(frame, (column, y), (width - 1, y), white, thickness)
    focus = int(rng.uniform(0.3, 0.7) * height)
    marker = np.array([[column - 2, focus], [column - 2 - round(5 * scale), focus - round(4 * scale)],
                       [column - 2 - round(5 * scale), focus + round(4 * scale)]], np.int32)
    cv2.fillPoly(frame, [marker], white)
    return frame


def degrade_dataset(source: PathLike, out: PathLike, settings: Degradation = Degradation(), seed: int = 0,
                    split: Optional[str] = None, overwrite: bool = False) -> Path:
    """A copy of the training-data folder ``source`` (only its ``split`` cases, if given) whose frames
    are degraded and masks kept.

    Only cases whose frames are one sequence file are supported (what ``dtc dataset simulate``
    and ``dtc dataset from-volumes`` write). Returns the new manifest's path; the folder appears
    only when complete.
    """
    manifest = load_manifest(source)
    chosen = [case for case in manifest.cases if split is None or case.split == split]
    if not chosen:
        raise DTCError(f"has no {split!r} cases.", manifest.root / MANIFEST_NAME, "Choose a split the dataset has.")
    out = Path(out)
    rng = np.random.default_rng(seed)
    with atomic_output(out, overwrite=overwrite, directory=True) as folder:
        cases = []
        for case in chosen:
            if isinstance(case.frames, tuple) or isinstance(case.masks, tuple):
                raise DTCError(f"case {case.id!r} lists single images; only sequence files are degraded.",
                               manifest.root / MANIFEST_NAME, "Convert the case to .seq.nrrd first.")
            recording = read_sequence(case.frames)
            (folder / case.id).mkdir(parents=True)
            rate = recording.metadata.get("frame_rate") or None
            with open_writer(folder / case.id / "images.seq.nrrd", recording.geometry, "image", rate) as writer:
                for frame, time in zip(recording.frames, recording.frame_times):
                    writer.write(degrade_frame(frame, settings, rng), float(time))
            masks = None
            if case.masks is not None:
                masks = out / case.id / ("masks" + "".join(case.masks.suffixes))
                target = folder / case.id / masks.name
                target.write_bytes(Path(case.masks).read_bytes())
            cases.append(type(case)(id=case.id, patient=case.patient, view=case.view, split=case.split,
                                    frames=out / case.id / "images.seq.nrrd", masks=masks,
                                    labelled_frames=case.labelled_frames))
        document = Manifest(root=out, name=f"{manifest.name} (degraded)", cases=cases).to_json()
        document["degradation"] = {"width": settings.width, "jpeg_quality": settings.jpeg_quality,
                                   "overlays": settings.overlays, "seed": seed}
        (folder / MANIFEST_NAME).write_text(json.dumps(document, indent=2) + "\n")
    return out / MANIFEST_NAME

