"""What a model file is, in words: network, input, precision and, for int8 files, what quantization traded.

The Segmentation panel shows this line under its model field, so a user who picks an int8
``.onnx`` file sees how well its masks agreed with the float32 model's when it was exported
(see :mod:`DTCSegmentationLib.networks.quantization`), without opening the metadata.
"""

from pathlib import Path

from DTCSegmentationLib.choices import MODEL_FILE_SUFFIXES
from DTCSegmentationLib.errors import PathLike


def read_any_model_info(path: PathLike):
    """The :class:`~DTCSegmentationLib.networks.model_file.ModelInfo` of a ``.safetensors``, ``.onnx`` or TorchScript file.

    Raises:
        ModelFileError: missing, unreadable or without DTC metadata (the message names the file and the fix).
    """
    from DTCSegmentationLib.networks.export import read_onnx, read_torchscript
    from DTCSegmentationLib.networks.model_file import read_model_info

    suffix = Path(path).suffix.lower()
    if suffix in MODEL_FILE_SUFFIXES["onnx"]:
        return read_onnx(path)[1]
    if suffix in MODEL_FILE_SUFFIXES["torchscript"]:
        return read_torchscript(path)[1]
    return read_model_info(path)


def describe_model(info) -> str:
    """One line: architecture, input ``H x W`` (pixels), threshold, precision and validation Dice when recorded.

    For an int8 model: the quantization type, the mean (and lowest) Dice between its masks and
    the float32 model's on the held-out calibration frames, and how many frames calibrated it.
    """
    height, width = info.input_size
    parts = [f"{info.architecture}, input {height} x {width}, threshold {info.threshold:.2f}"]
    quantization = info.quantization
    if quantization:
        parts.append(f"int8 ({quantization.get('type', 'quantized')}): masks agree with float32 at Dice "
                     f"{quantization['agreement_dice']:.3f} (lowest frame {quantization['agreement_dice_min']:.3f}) "
                     f"on {quantization['agreement_frames']} held-out frames; calibrated on "
                     f"{quantization['calibration_frames']} frames")
    else:
        parts.append("float32")
    dice = info.metrics.get("val_dice")
    if dice is not None:
        frames = info.metrics.get("val_frames")
        parts.append(f"validation Dice {dice:.3f}" + (f" ({frames} frames)" if frames else ""))
    return " | ".join(parts)


def describe_model_file(path: PathLike) -> str:
    """:func:`describe_model` of the file at ``path`` (errors as :func:`read_any_model_info`)."""
    return describe_model(read_any_model_info(path))
