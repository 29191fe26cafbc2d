"""``dtc export``: deployment files (ONNX, TorchScript), and importing plain PyTorch weights."""

import argparse
import json
import os
from pathlib import Path
from typing import Optional, Tuple

from DTCSegmentationLib.choices import MODEL_FILE_SUFFIXES
from DTCSegmentationLib.commands import export_int8
from DTCSegmentationLib.commands.arguments import frame_size

_PLAIN_WEIGHTS = (".pt", ".pth")


def json_object(text: str) -> dict:
    """``--arguments``: a JSON object (network constructor arguments)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f'must be a JSON object like {{"features": [16, 32, 64, 128]}}, got {text!r}')
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX / TorchScript, or import plain PyTorch weights",
        description="Write a deployment file with the model metadata embedded (ONNX metadata_props, TorchScript "
                    "extra file dtc.json), or turn plain weights (a .pt/.pth state dict, or a .safetensors file "
                    "without DTC metadata, with --architecture) into a DTC model file. The format follows the "
                    "--out suffix: .onnx, .pt (TorchScript) or .safetensors.",
    )
    parser.add_argument("model", type=Path, help="a .safetensors model file, or plain weights with --architecture")
    parser.add_argument("--format", choices=tuple(MODEL_FILE_SUFFIXES),
                        help="output format (default: from the --out suffix; must agree with it)")
    # A string, not a Path: Path drops the trailing slash that says the user named a folder.
    parser.add_argument("--out", required=True, help="output file (.onnx, .pt or .safetensors)")
    parser.add_argument("--architecture", help="import plain weights built for this network (e.g. fast_unet, unet)")
    parser.add_argument("--arguments", type=json_object, default={},
                        help='network arguments as JSON, e.g. \'{"features": [16, 32, 64, 128]}\'')
    parser.add_argument("--input-size", type=frame_size, default=(256, 448), metavar="HxW")
    parser.add_argument("--in-channels", type=int, choices=(1, 3), default=1)
    parser.add_argument("--overwrite", action="store_true")
    export_int8.add_arguments(parser)
    parser.set_defaults(func=run)


def output_format(out: str, requested: Optional[str]) -> Tuple[Path, str]:
    """The output path and its format; the suffix decides, because every reader of model files goes by it."""
    from DTCSegmentationLib.errors import DTCError

    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        raise DTCError("is a folder; --out names the model file to write.", path,
                       f"Name the file, e.g. --out {path / 'model.onnx'}.")
    suffix = path.suffix.lower()
    implied = next((name for name, suffixes in MODEL_FILE_SUFFIXES.items() if suffix in suffixes), None)
    expected = ", ".join(f"{suffixes[0]} ({name})" for name, suffixes in MODEL_FILE_SUFFIXES.items())
    if implied is None:
        raise DTCError(f"has no model file suffix ({suffix or 'none'}), so no reader could tell its format.", path,
                       f"End --out in one of {expected}.")
    if requested is not None and requested != implied:
        raise DTCError(f"ends in {suffix}, which is {implied}, but --format is {requested}.", path,
                       f"Name the file {path.stem}{MODEL_FILE_SUFFIXES[requested][0]}, or drop --format.")
    return path, implied


def run(args) -> int:
    from DTCSegmentationLib.atomic import check_writable
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.networks.export import export_onnx, export_torchscript
    from DTCSegmentationLib.networks.model_file import ModelInfo, import_state_dict, load_model, save_model

    out, out_format = output_format(args.out, args.format)
    export_int8.check_arguments(args, out_format)
    check_writable(out, args.overwrite)  # refuse before the (slow) export
    if args.architecture:
        info = ModelInfo(architecture=args.architecture, arguments=args.arguments, in_channels=args.in_channels,
                         input_size=args.input_size, provenance={"imported_from": args.model.name})
        model = import_state_dict(args.model, info)
    elif args.model.suffix.lower() in _PLAIN_WEIGHTS:
        raise DTCError("is a plain state dict: its network is not recorded in it.", args.model,
                       "Pass --architecture NAME (and --arguments JSON if not the defaults).")
    else:
        model, info = load_model(args.model)
    if args.int8:
        return export_int8.run(args, model, info, out)
    writers = {"onnx": export_onnx, "torchscript": export_torchscript,
               "safetensors": lambda m, i, p, overwrite: save_model(p, m, i, overwrite)}
    path = writers[out_format](model, info, out, overwrite=args.overwrite)
    print(json.dumps({"written": str(path), "format": out_format, "architecture": info.architecture}))
    return 0
