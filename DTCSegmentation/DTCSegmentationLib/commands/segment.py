"""``dtc segment``: segment every frame of a recording with a trained model."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import BACKENDS, DEVICES, MASK_FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment", help="segment the prostate on every frame of a recording",
        description="Run a trained DTC model frame by frame on any readable recording (video, image folder, "
                    ".seq.nrrd, NIfTI, PLUS .igs.mha, DICOM) and write the mask sequence with the input's geometry.",
    )
    parser.add_argument("input", type=Path, help="recording to segment (file or folder of images)")
    parser.add_argument("--model", type=Path, help="model file (.safetensors, .onnx or TorchScript .pt); "
                                                   "default: the model shipped with DTC")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--format", choices=tuple(MASK_FORMATS), default="seq.nrrd", help="mask format (default seq.nrrd)")
    parser.add_argument("--overlay", action="store_true", help="also write an overlay video (mask outline on the frames)")
    parser.add_argument("--probabilities", action="store_true", help="also write probabilities (0-255 as uint8)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--backend", choices=BACKENDS, default="eager")
    parser.add_argument("--threshold", type=float, help="probability threshold (default: the model's)")
    parser.add_argument("--keep-all-components", action="store_true", help="do not keep only the largest region")
    parser.add_argument("--keep-holes", action="store_true", help="do not fill holes in the mask")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCSegmentationLib.inference.pipeline import segment_file
    from DTCSegmentationLib.inference.segmenter import Segmenter
    from DTCSegmentationLib.networks.default_model import model_or_default

    if args.batch_size < 1:
        from DTCSegmentationLib.errors import DTCError

        raise DTCError(f"--batch-size {args.batch_size} is not a number of frames.", fix="Use --batch-size 1 or more.")
    model_path = model_or_default(args.model)
    segmenter = Segmenter.from_file(model_path, device=args.device, backend=args.backend, threshold=args.threshold,
                                    largest_component=not args.keep_all_components, fill_holes=not args.keep_holes,
                                    batch_size=args.batch_size)
    summary = segment_file(segmenter, args.input, args.out, args.format, args.probabilities, args.overlay,
                           args.overwrite)
    summary = {key: str(value) if isinstance(value, Path) else value for key, value in summary.items()}
    summary.update({"model": str(model_path), "backend": args.backend})
    print(json.dumps(summary, indent=2))
    return 0
