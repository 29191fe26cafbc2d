"""``dtc export``: deployment files (ONNX, TorchScript), and importing plain PyTorch weights."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import MODEL_EXPORT_FORMATS
from DTCSegmentationLib.commands import export_int8
from DTCSegmentationLib.commands.arguments import frame_size


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model to ONNX / TorchScript, or import plain PyTorch weights",
        description="Write a deployment file with the model metadata embedded (ONNX metadata_props, TorchScript "
                    "extra file dtc.json), or turn a plain state dict (.pt/.pth) into a DTC model file.",
    )
    parser.add_argument("model", type=Path, help="a .safetensors model file, or a .pt/.pth state dict with --architecture")
    parser.add_argument("--format", choices=MODEL_EXPORT_FORMATS + ("safetensors",), default="onnx")
    parser.add_argument("--out", type=Path, required=True, help="output file")
    parser.add_argument("--architecture", help="network of a plain state dict (e.g. fast_unet, unet)")
    parser.add_argument("--arguments", type=json.loads, default={},
                        help='network arguments as JSON, e.g. \'{"features": [16, 32, 64, 128]}\'')
    parser.add_argument("--input-size", type=frame_size, default=(256, 448), metavar="HxW")
    parser.add_argument("--in-channels", type=int, choices=(1, 3), default=1)
    parser.add_argument("--overwrite", action="store_true")
    export_int8.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.networks.export import export_onnx, export_torchscript
    from DTCSegmentationLib.networks.model_file import ModelInfo, import_state_dict, load_model, save_model

    export_int8.check_arguments(args)
    if args.model.suffix.lower() in (".pt", ".pth"):
        if not args.architecture:
            raise DTCError("is a plain state dict: its network is not recorded in it.", args.model,
                           "Pass --architecture NAME (and --arguments JSON if not the defaults).")
        info = ModelInfo(architecture=args.architecture, arguments=args.arguments, in_channels=args.in_channels,
                         input_size=args.input_size, provenance={"imported_from": args.model.name})
        model = import_state_dict(args.model, info)
    else:
        model, info = load_model(args.model)
    if args.int8:
        return export_int8.run(args, model, info)
    writers = {"onnx": export_onnx, "torchscript": export_torchscript,
               "safetensors": lambda m, i, p, overwrite: save_model(p, m, i, overwrite)}
    path = writers[args.format](model, info, args.out, overwrite=args.overwrite)
    print(json.dumps({"written": str(path), "format": args.format, "architecture": info.architecture}))
    return 0
