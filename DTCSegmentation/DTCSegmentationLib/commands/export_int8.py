"""``dtc export --int8``: the arguments and the run of int8 quantization (``networks.quantization``)."""

import argparse
import json
from pathlib import Path

from DTCSegmentationLib.choices import INT8_CALIBRATION_FRAMES, INT8_MIN_AGREEMENT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "int8 quantization (ONNX only)",
        "Static int8 quantization with ONNX Runtime (QDQ, per-channel weights), calibrated on frames of your own "
        "recordings; refused, with nothing written, when the int8 masks disagree with the float32 ones on held-out "
        "frames of those recordings.")
    group.add_argument("--int8", action="store_true", help="write an int8 ONNX model (about 2x faster on CPUs)")
    group.add_argument("--calibration", type=Path, nargs="+", default=[], metavar="RECORDING",
                       help="recordings like the ones the model will segment (any readable format); required with --int8")
    group.add_argument("--min-agreement", type=float, default=INT8_MIN_AGREEMENT,
                       help=f"lowest mean Dice between float32 and int8 masks on held-out frames (default "
                            f"{INT8_MIN_AGREEMENT})")
    group.add_argument("--calibration-frames", type=int, default=INT8_CALIBRATION_FRAMES,
                       help=f"frames that set the activation ranges (default {INT8_CALIBRATION_FRAMES}; as many others, "
                            f"at most, are held out for the check)")


def check_arguments(args, out_format: str) -> None:
    """Refuse int8 options that cannot work, before any model is loaded (``out_format``: what --out will be)."""
    from DTCSegmentationLib.errors import DTCError

    if args.calibration and not args.int8:
        raise DTCError("--calibration is only used with --int8.", fix="Add --int8, or drop --calibration.")
    if not args.int8:
        return
    if out_format != "onnx":
        raise DTCError(f"int8 models are ONNX files, not {out_format}.", fix="Name --out FILE.onnx with --int8.")
    if not args.calibration:
        raise DTCError("--int8 needs recordings to calibrate on (random data would not match ultrasound).",
                       fix="Pass --calibration RECORDING... with frames like the ones the model will segment.")


def run(args, model, info, out) -> int:
    from DTCSegmentationLib.networks.quantization import export_int8_onnx

    path, quantized = export_int8_onnx(model, info, out, args.calibration, min_agreement=args.min_agreement,
                                       calibration_frames=args.calibration_frames,
                                       agreement_frames=INT8_CALIBRATION_FRAMES, overwrite=args.overwrite)
    print(json.dumps({"written": str(path), "format": "onnx", "architecture": info.architecture,
                      "quantization": quantized.quantization}))
    return 0
