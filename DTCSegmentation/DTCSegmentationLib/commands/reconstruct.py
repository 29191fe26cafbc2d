"""``dtc reconstruct``: the gland of a tracked (or importer) sweep in 3D, as a labelmap file, with its volume."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import BACKENDS, DEVICES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconstruct", help="compound a sweep's masks into the gland in 3D and report its volume (mL)",
        description="Compound the masks of a sweep whose frames each know their pose - a tracked PLUS recording "
                    "(.igs.mha with ImageToReference transforms), or a sweep of `dtc dataset from-volumes` with "
                    "its sweep.json - into a 3D labelmap, and print its volume in mL and the frames used as JSON. "
                    "The masks come from --masks or from segmenting the recording with --model.",
    )
    parser.add_argument("input", type=Path, help="the sweep (its frames, with per-frame poses unless --poses)")
    parser.add_argument("--out", type=Path, required=True, help="labelmap file (.nii.gz, .nii, .nrrd or .mha)")
    parser.add_argument("--masks", type=Path, help="the sweep's mask sequence (default: segment INPUT with --model)")
    parser.add_argument("--model", type=Path, help="model file for segmenting INPUT (default: the shipped model)")
    parser.add_argument("--poses", type=Path, help="sweep.json holding the frames' poses (`dtc dataset from-volumes`)")
    parser.add_argument("--voxel-mm", type=float, default=0.5, help="voxel size of the labelmap in mm (default 0.5)")
    parser.add_argument("--keep-all-components", action="store_true", help="do not keep only the largest 3D region")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--backend", choices=BACKENDS, default="onnx")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.reconstruction.pipeline import reconstruct_file

    if not args.voxel_mm > 0:
        raise DTCError(f"--voxel-mm {args.voxel_mm} is not a size.", fix="Give a positive voxel size, e.g. 0.5.")
    segmenter = None
    if args.masks is None:
        from DTCSegmentationLib.inference.segmenter import Segmenter
        from DTCSegmentationLib.networks.default_model import model_or_default

        segmenter = Segmenter.from_file(model_or_default(args.model), device=args.device, backend=args.backend)
    summary = reconstruct_file(args.input, args.out, args.masks, segmenter, args.poses, args.voxel_mm,
                               not args.keep_all_components, args.overwrite)
    print(json.dumps(summary, indent=2))
    return 0
