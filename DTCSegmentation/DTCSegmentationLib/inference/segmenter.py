"""The segmenter: a trained 2D student applied frame by frame, recorded or live.

Example::

    segmenter = Segmenter.from_file("student.safetensors", device="auto", backend="onnx")
    for result in segmenter.segment_stream(open_sequence("sweep.mp4")):
        result.mask          # (H, W) uint8 on the frame's own pixel grid
        result.probability   # (H, W) float32

Recorded sequences run in batches (``segment_stream``); live frames one at a time
(``segment_frame``).  Memory stays bounded: a batch is the most held at once.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from DTCSegmentationLib.choices import MODEL_FILE_SUFFIXES
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.inference.backends import BACKENDS, make_backend
from DTCSegmentationLib.inference.postprocessing import postprocess
from DTCSegmentationLib.inference.preprocessing import float_value_range, prepare_batch, restore
from DTCSegmentationLib.networks.model_file import ModelInfo

ValueRange = Tuple[float, float]


@dataclass
class SegmentationResult:
    """One frame's output: ``mask`` uint8 ``(H, W)`` in {0, 1} and ``probability`` float32 ``(H, W)``."""

    mask: np.ndarray
    probability: np.ndarray


class Segmenter:
    """Runs a model on frames and maps the masks back onto each frame.

    Args:
        backend: callable mapping ``(B, C, h, w)`` float32 to logits ``(B, 1, h, w)``.
        info: the model's metadata (input size, channels, normalisation, threshold).
        threshold: probability threshold; default the model's own.
        largest_component: keep only the largest connected region.
        fill_holes: fill holes inside the mask.
        batch_size: frames per forward pass for recorded sequences.
    """

    _live_range: Optional[ValueRange] = None  # decided on the first float live frame

    def __init__(self, backend, info: ModelInfo, threshold: Optional[float] = None, largest_component: bool = True,
                 fill_holes: bool = True, batch_size: int = 8):
        self.backend = backend
        self.info = info
        self.threshold = info.threshold if threshold is None else float(threshold)
        if not 0.0 < self.threshold < 1.0:  # also false for NaN
            raise DTCError(f"threshold {threshold} is not a probability strictly between 0 and 1.",
                           fix="Use a threshold like 0.5 (--threshold).")
        self.largest_component = largest_component
        self.fill_holes = fill_holes
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def from_file(cls, path: PathLike, device: str = "auto", backend: str = "eager", **options) -> "Segmenter":
        """A segmenter for a model file: ``.safetensors`` (any back end), ``.onnx`` or TorchScript ``.pt``/``.ts``."""
        from DTCSegmentationLib.inference.devices import resolve_device
        from DTCSegmentationLib.networks.export import read_onnx, read_torchscript
        from DTCSegmentationLib.networks.model_file import load_model

        path = Path(path)
        if backend not in BACKENDS:
            raise DTCError(f"unknown back end {backend!r}.", fix=f"Use one of {', '.join(BACKENDS)}.")
        target = resolve_device(device)
        if not path.is_file():
            raise DTCError("does not exist.", path, "Check the model path (or train one with `dtc train`).")
        suffix = path.suffix.lower()
        if suffix in MODEL_FILE_SUFFIXES["onnx"]:
            import torch

            from DTCSegmentationLib.inference.backends import OnnxBackend

            data, info = read_onnx(path)
            # The same thread count as make_backend's, so `dtc live --threads` also limits .onnx (and int8) files.
            return cls(OnnxBackend(data, target, threads=torch.get_num_threads()), info, **options)
        if suffix in MODEL_FILE_SUFFIXES["torchscript"]:
            from DTCSegmentationLib.inference.backends import TorchScriptBackend

            module, info = read_torchscript(path, target)
            return cls(TorchScriptBackend(module, target), info, **options)
        model, info = load_model(path)
        return cls(make_backend(backend, model, info, target), info, **options)

    def probabilities(self, frames: Sequence[np.ndarray], value_range: Optional[ValueRange] = None) -> List[np.ndarray]:
        """Prostate probability maps, one ``(H, W)`` float32 per frame (each at its own size).

        ``value_range``: what float frames' values span (see
        :func:`~DTCSegmentationLib.inference.preprocessing.float_value_range`); default [0, 255].
        """
        info = self.info
        batch, placements = prepare_batch(frames, info.input_size, info.in_channels, info.resize_mode, info.normalization,
                                          value_range)
        logits = self.backend(batch)[:, 0]
        probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float32)))
        return [restore(p, where) for p, where in zip(probabilities, placements)]

    def _result(self, probability: np.ndarray) -> SegmentationResult:
        mask = postprocess(probability, self.threshold, self.largest_component, self.fill_holes)
        return SegmentationResult(mask, probability)

    def segment(self, frames: Sequence[np.ndarray], value_range: Optional[ValueRange] = None) -> List[SegmentationResult]:
        """Segment a list of frames in one forward pass (``value_range``: see :meth:`probabilities`)."""
        return [self._result(p) for p in self.probabilities(frames, value_range)]

    def segment_frame(self, frame: np.ndarray) -> SegmentationResult:
        """Segment one live frame (batch of 1, lowest latency).

        The value range of float frames is decided on the first one and kept, so that a live
        stream is never scaled two ways.
        """
        if self._live_range is None and _is_float(frame):
            self._live_range = float_value_range([frame], "live frames")
        return self.segment([frame], self._live_range)[0]

    def segment_stream(self, frames: Iterable[np.ndarray], value_range: Optional[ValueRange] = None,
                       source: str = "") -> Iterator[SegmentationResult]:
        """Segment a stream of frames in batches of :attr:`batch_size`, yielding results in order.

        Float frames are scaled by ``value_range``; without it, by the range the first batch shows
        (see :func:`~DTCSegmentationLib.inference.preprocessing.float_value_range`; ``source`` names the
        stream in its note). Callers that can see the whole recording should pass its range.
        """
        pending: List[np.ndarray] = []
        for frame in frames:
            pending.append(frame)
            if len(pending) == self.batch_size:
                if value_range is None and _is_float(pending[0]):
                    value_range = float_value_range(pending, source)
                yield from self.segment(pending, value_range)
                pending = []
        if pending:
            if value_range is None and _is_float(pending[0]):
                value_range = float_value_range(pending, source)
            yield from self.segment(pending, value_range)


def _is_float(frame: np.ndarray) -> bool:
    return np.issubdtype(np.asarray(frame).dtype, np.floating)
