"""Static int8 quantization for CPUs: ONNX Runtime QDQ, calibrated on the user's own recordings.

Example::

    model, info = load_model("student.safetensors")
    export_int8_onnx(model, info, "student_int8.onnx", ["sweep1.seq.nrrd", "sweep2.mp4"])
    segmenter = Segmenter.from_file("student_int8.onnx")   # like any exported model

How the file is made:

* frames are sampled evenly over every recording (streamed: memory holds only the samples)
  and brought to the network input exactly as inference does (``inference.preprocessing``);
  alternate samples calibrate and check, so both sets cover each whole sweep and no frame
  is in both;
* ONNX Runtime's ``quantize_static``: QDQ format, int8 weights per output channel, uint8
  activations whose ranges come from the calibration frames (99.999th percentile of the
  magnitudes, which ignores a few extreme activations that min/max would stretch the range
  for);
* the operators reading the image stay float32: the normalised input ``(p / 255 - 0.5) /
  0.25`` falls half-way between the steps of any uint8 grid, and rounding it alone moved
  the shipped model's masks by about 0.7 % Dice on real sweeps, for almost no speed (the
  first convolution has one input channel);
* the fp32 and int8 masks (thresholded and post-processed as ``dtc segment`` does) are
  compared on the held-out frames; below ``min_agreement`` mean Dice the export is refused
  and nothing is written.  The measured agreement is stored in the metadata
  (``ModelInfo.quantization``), so a user can see how much was traded.

Random data is never used: a range calibrated on noise does not match real ultrasound and
hides exactly the frames where quantization fails.
"""

import contextlib
import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from torch import nn

from DTCSegmentationLib.atomic import atomic_output, check_writable
from DTCSegmentationLib.choices import INT8_CALIBRATION_FRAMES, INT8_MIN_AGREEMENT
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.networks.model_file import METADATA_KEY, ModelInfo

QUANTIZATION_TYPE = "int8-static-qdq"
DEFAULT_MIN_AGREEMENT = INT8_MIN_AGREEMENT
DEFAULT_CALIBRATION_FRAMES = INT8_CALIBRATION_FRAMES
DEFAULT_AGREEMENT_FRAMES = INT8_CALIBRATION_FRAMES
MIN_CALIBRATION_FRAMES = 8
"""Fewer frames than this give activation ranges that say little about a whole recording."""
PERCENTILE = 99.999


class QuantizationError(DTCError):
    """Calibration data that is missing or too small, or an int8 model that disagrees with its float32 original."""


@dataclass
class CalibrationSet:
    """Frames at the network input size (uint8, before normalisation), from the user's recordings.

    Attributes:
        calibration: ``(N, h, w)`` / ``(N, h, w, 3)`` frames that set the activation ranges.
        held_out: frames of the same recordings, none of them in ``calibration``, for the agreement check.
        recordings: how many recordings they come from.
    """

    calibration: np.ndarray
    held_out: np.ndarray
    recordings: int


def sample_recording(path: PathLike, count: int, info: ModelInfo) -> List[np.ndarray]:
    """Up to ``count`` frames spread evenly over a recording, fitted to ``info``'s input (uint8).

    The recording is streamed once, whatever its format or length: frames are kept at a stride
    that doubles (dropping every other kept frame) whenever more than ``2 * count`` are held,
    so memory stays bounded and the samples stay evenly spaced.
    """
    from DTCSegmentationLib.inference.preprocessing import fit_frame
    from DTCSegmentationLib.sequence_io import open_sequence

    kept: List[np.ndarray] = []
    stride = 1
    with open_sequence(path) as reader:
        for index, frame in enumerate(reader):
            if index % stride:
                continue
            kept.append(fit_frame(frame, info.input_size, info.in_channels, info.resize_mode)[0])
            if len(kept) > 2 * count:
                kept, stride = kept[::2], stride * 2
    if len(kept) > count:
        kept = [kept[i] for i in np.linspace(0, len(kept) - 1, count).round().astype(int)]
    return kept


def calibration_set(recordings: Sequence[PathLike], info: ModelInfo, calibration_frames: int = DEFAULT_CALIBRATION_FRAMES,
                    agreement_frames: int = DEFAULT_AGREEMENT_FRAMES) -> CalibrationSet:
    """Calibration and held-out frames from ``recordings`` (any format :func:`open_sequence` reads).

    Each recording gives an equal share of evenly spaced frames; even samples calibrate, odd
    samples are held out.
    """
    recordings = list(recordings)
    if not recordings:
        raise QuantizationError("int8 quantization needs recordings to calibrate on.",
                                fix="Pass --calibration RECORDING... (frames like the ones the model will see).")
    if calibration_frames < MIN_CALIBRATION_FRAMES or agreement_frames < 1:
        raise QuantizationError(f"needs at least {MIN_CALIBRATION_FRAMES} calibration frames and 1 held-out frame "
                                f"(asked for {calibration_frames} and {agreement_frames}).",
                                fix=f"Use --calibration-frames {MIN_CALIBRATION_FRAMES} or more.")
    share = math.ceil(max(calibration_frames, agreement_frames) / len(recordings))
    calibration, held_out = [], []
    for path in recordings:
        samples = sample_recording(path, 2 * share, info)
        calibration += samples[0::2]
        held_out += samples[1::2]
    calibration = _evenly(calibration, calibration_frames)
    held_out = _evenly(held_out, agreement_frames)
    if len(calibration) < MIN_CALIBRATION_FRAMES or not held_out:
        raise QuantizationError(f"the calibration recordings hold {len(calibration) + len(held_out)} frames; "
                                f"int8 calibration needs at least {MIN_CALIBRATION_FRAMES + 1} "
                                f"({MIN_CALIBRATION_FRAMES} to calibrate, the rest to check the result).",
                                fix="Add longer or more recordings with --calibration.")
    return CalibrationSet(np.stack(calibration), np.stack(held_out), len(recordings))


def _evenly(frames: List[np.ndarray], count: int) -> List[np.ndarray]:
    if len(frames) <= count:
        return frames
    return [frames[i] for i in np.linspace(0, len(frames) - 1, count).round().astype(int)]


class _FrameReader:
    """ONNX Runtime's calibration data reader (it accepts any class with ``get_next``) over preprocessed frames.

    ``__len__`` and ``set_range`` let ONNX Runtime collect statistics a slice at a time
    (``CalibStridedMinMax``) instead of keeping every intermediate tensor of every frame.
    """

    def __init__(self, frames: np.ndarray, info: ModelInfo, input_name: str):
        from DTCSegmentationLib.inference.preprocessing import normalize

        self.inputs = [{input_name: normalize(frame[None], info.normalization)} for frame in frames]
        self.position, self.end = 0, len(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.position, self.end = start_index, min(end_index, len(self.inputs))

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        if self.position >= self.end:
            return None
        self.position += 1
        return self.inputs[self.position - 1]


def float_nodes(graph) -> List[str]:
    """Names of the nodes that read the network input (kept float32, see the module notes)."""
    inputs = {value.name for value in graph.graph.input}
    return [node.name for node in graph.graph.node if inputs & set(node.input)]


def quantize_onnx(fp32_onnx: bytes, info: ModelInfo, frames: np.ndarray) -> Tuple[bytes, List[str]]:
    """Static int8 (QDQ) quantization of an ONNX graph calibrated on ``frames`` (uint8 at the input size).

    Returns the int8 graph (metadata not yet updated) and the nodes left in float32.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="dtc-int8-") as folder:
        source, prepared, output = (Path(folder) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        source.write_bytes(fp32_onnx)
        # ONNX Runtime's calibrators print progress; `dtc export` keeps stdout for its JSON answer.
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
                graph = onnx.load(str(prepared))
                kept_float = float_nodes(graph)
                reader = _FrameReader(frames, info, graph.graph.input[0].name)
                quantize_static(str(prepared), str(output), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=kept_float,
                                extra_options={"CalibPercentile": PERCENTILE, "CalibStridedMinMax": 1})
            except Exception as error:  # ONNX Runtime raises plain Python and C++ errors alike
                raise QuantizationError(f"ONNX Runtime could not quantize the {info.architecture} network ({error}).",
                                        fix="Export it without --int8.") from None
        return output.read_bytes(), kept_float


def with_metadata(onnx_model: bytes, info: ModelInfo) -> bytes:
    """``onnx_model`` with ``info`` as its one ``dtc`` metadata entry."""
    import onnx

    graph = onnx.load_from_string(onnx_model)
    kept = [entry for entry in graph.metadata_props if entry.key != METADATA_KEY]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    return graph.SerializeToString()


def mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two binary masks; 1 when both are empty (they agree there is no prostate)."""
    a, b = a.astype(bool), b.astype(bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def mask_agreement(fp32_onnx: bytes, int8_onnx: bytes, info: ModelInfo, frames: np.ndarray) -> List[float]:
    """Per-frame Dice between the fp32 and int8 masks of ``frames``, post-processed as ``dtc segment`` does."""
    import torch

    from DTCSegmentationLib.inference.backends import OnnxBackend
    from DTCSegmentationLib.inference.segmenter import Segmenter

    cpu, threads = torch.device("cpu"), torch.get_num_threads()
    fp32 = Segmenter(OnnxBackend(fp32_onnx, cpu, threads), info, batch_size=8)
    int8 = Segmenter(OnnxBackend(int8_onnx, cpu, threads), info, batch_size=8)
    return [mask_dice(a.mask, b.mask) for a, b in zip(fp32.segment_stream(frames), int8.segment_stream(frames))]


def quantize_model(model: nn.Module, info: ModelInfo, recordings: Sequence[PathLike],
                   min_agreement: float = DEFAULT_MIN_AGREEMENT, calibration_frames: int = DEFAULT_CALIBRATION_FRAMES,
                   agreement_frames: int = DEFAULT_AGREEMENT_FRAMES) -> Tuple[bytes, ModelInfo]:
    """The int8 ONNX graph of ``model`` (metadata embedded) and its metadata.

    Raises:
        QuantizationError: no or too few calibration frames, or mean fp32/int8 mask Dice on the
            held-out frames below ``min_agreement``.
    """
    from DTCSegmentationLib.networks.export import onnx_bytes

    if info.quantization:
        raise QuantizationError("the model is already quantized.", fix="Quantize its float32 original.")
    frames = calibration_set(recordings, info, calibration_frames, agreement_frames)
    fp32 = onnx_bytes(model, info)
    int8, kept_float = quantize_onnx(fp32, info, frames.calibration)
    dice = mask_agreement(fp32, int8, info, frames.held_out)
    agreement = float(np.mean(dice))
    if agreement < min_agreement:
        raise QuantizationError(
            f"the int8 masks agree with the float32 ones at mean Dice {agreement:.4f} (lowest frame {min(dice):.4f}) "
            f"on {len(dice)} held-out frames, below the required {min_agreement}; nothing was written.",
            fix=f"Calibrate on more frames (--calibration-frames; {len(frames.calibration)} were used) or on more "
                "typical recordings, export float32 (no --int8), or lower --min-agreement.")
    quantization = {
        "type": QUANTIZATION_TYPE, "weights": "int8 per channel", "activations": "uint8",
        "calibration": f"percentile {PERCENTILE}", "calibration_frames": int(len(frames.calibration)),
        "calibration_recordings": frames.recordings, "agreement_frames": len(dice),
        "agreement_dice": round(agreement, 5), "agreement_dice_min": round(float(min(dice)), 5),
        "min_agreement": float(min_agreement), "float_nodes": kept_float,
    }
    quantized = ModelInfo.from_json(info.to_json())
    quantized.quantization = quantization
    return with_metadata(int8, quantized), quantized


def export_int8_onnx(model: nn.Module, info: ModelInfo, path: PathLike, recordings: Sequence[PathLike],
                     min_agreement: float = DEFAULT_MIN_AGREEMENT, calibration_frames: int = DEFAULT_CALIBRATION_FRAMES,
                     agreement_frames: int = DEFAULT_AGREEMENT_FRAMES, overwrite: bool = False) -> Tuple[Path, ModelInfo]:
    """Write the int8 ``.onnx`` file of ``model`` (atomically; nothing when refused); returns it and its metadata."""
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise QuantizationError("int8 models are ONNX files and must end in .onnx.", path, "Rename the output.")
    check_writable(path, overwrite)  # before minutes of calibration, not after
    data, quantized = quantize_model(model, info, recordings, min_agreement, calibration_frames, agreement_frames)
    with atomic_output(path, overwrite=overwrite) as temporary:
        Path(temporary).write_bytes(data)
    return path, quantized
