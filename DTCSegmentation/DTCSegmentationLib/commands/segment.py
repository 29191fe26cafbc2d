"""``dtc segment``: segment every frame of a recording with a trained model."""

import json
from pathlib import Path

from ..backends import BACKENDS
from ..devices import DEVICES

MASK_FORMATS = {"seq.nrrd": ".seq.nrrd", "nii.gz": ".nii.gz", "png": ""}


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


def default_model_path() -> Path:
    """The model shipped with the extension (``Resources/`` at the repository / extension root)."""
    return Path(__file__).resolve().parents[3] / "Resources" / "Models" / "dtc_default.safetensors"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".seq.nrrd", ".igs.mha", ".igs.mhd", ".nii.gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem if path.is_file() else name


def run(args) -> int:
    import contextlib
    import itertools

    from tqdm import tqdm

    from ..errors import DTCError
    from ..overlay import draw_contour
    from ..preprocessing import probability_to_uint8
    from ..segmenter import Segmenter
    from ..sequence_io import open_sequence, open_writer

    model_path = args.model or default_model_path()
    if args.model is None and not model_path.is_file():
        raise DTCError("no default model is installed.", model_path, "Pass --model FILE (train one with `dtc train`).")
    segmenter = Segmenter.from_file(model_path, device=args.device, backend=args.backend, threshold=args.threshold,
                                    largest_component=not args.keep_all_components, fill_holes=not args.keep_holes,
                                    batch_size=args.batch_size)
    reader = open_sequence(args.input)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = _stem(args.input)
    rate = reader.metadata.get("frame_rate") or None
    suffix = MASK_FORMATS[args.format]
    outputs = {"masks": args.out / f"{stem}_masks{suffix}"}
    if args.probabilities:
        outputs["probabilities"] = args.out / f"{stem}_probabilities{suffix}"
    if args.overlay:
        outputs["overlay"] = args.out / f"{stem}_overlay.mp4"
    frames_done, area = 0, []
    with contextlib.ExitStack() as stack:
        writers = {
            key: stack.enter_context(open_writer(path, reader.geometry, "labelmap" if key == "masks" else "image",
                                                 rate, args.overwrite))
            for key, path in outputs.items()
        }
        times = reader.frame_times
        with reader:
            # tee holds at most one batch of frames: the model side runs ahead by a batch.
            shown, fed = itertools.tee(reader)
            results = zip(shown, segmenter.segment_stream(fed))
            for frame, result in tqdm(results, total=None if times is None else len(times), desc="segment",
                                      unit="frame", disable=None):
                time = float(times[frames_done]) if times is not None and frames_done < len(times) else None
                writers["masks"].write(result.mask, time)
                if "probabilities" in writers:
                    writers["probabilities"].write(probability_to_uint8(result.probability), time)
                if "overlay" in writers:
                    writers["overlay"].write(draw_contour(frame, result.mask), time)
                area.append(int(result.mask.sum()))
                frames_done += 1
    summary = {key: str(path) for key, path in outputs.items()}
    summary.update({"frames": frames_done, "model": str(model_path), "backend": args.backend,
                    "frames_with_prostate": int(sum(a > 0 for a in area))})
    print(json.dumps(summary, indent=2))
    return 0
