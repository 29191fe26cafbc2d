"""``dtc simulate``: write simulated TRUS recordings with exact masks."""

import json
import math
import os
from pathlib import Path
from typing import Optional

from DTCSegmentationLib.choices import SIMULATION_DIFFICULTIES, SIMULATION_STYLES
from DTCSegmentationLib.commands.arguments import frame_size, seed

FORMATS = {"seq.nrrd": ".seq.nrrd", "nii.gz": ".nii.gz", "nii": ".nii", "png": "", "mp4": ".mp4"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate", help="write simulated TRUS sweeps (frames + exact prostate masks)",
        description="Simulate B-mode TRUS video (axial fan or sagittal linear view) with exact per-frame "
                    "prostate masks, and write frames and masks next to each other.",
    )
    parser.add_argument("--view", choices=("axial", "sagittal", "both"), default="axial")
    parser.add_argument("--frames", type=int, default=60, help="frames per view (default 60)")
    parser.add_argument("--size", type=frame_size, default=(256, 448), metavar="HxW", help="frame size (default 256x448)")
    parser.add_argument("--seed", type=seed, default=0, help="the same seed gives the same recording bit for bit")
    parser.add_argument("--difficulty", choices=tuple(SIMULATION_DIFFICULTIES), default="default")
    parser.add_argument("--style", choices=SIMULATION_STYLES, default="classic",
                        help="classic (default: probe at the top, bare image) or clinical (probe at the bottom, "
                             "scanner screen around the image, machine settings randomised per recording)")
    parser.add_argument("--frame-rate", type=float, default=20.0, help="frames per second (default 20)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--format", choices=tuple(FORMATS), default="seq.nrrd",
                        help="output format (default seq.nrrd; png = a folder of PNG frames)")
    parser.add_argument("--preview", action="store_true", help="also write a PNG montage per view")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    from DTCSegmentationLib.atomic import output_folder
    from DTCSegmentationLib.errors import DTCError

    if args.frames < 1:
        raise DTCError("--frames must be at least 1.", fix="Ask for one frame or more.")
    check_size(*args.size)
    if not math.isfinite(args.frame_rate) or args.frame_rate <= 0:
        raise DTCError(f"--frame-rate {args.frame_rate} is not a number of frames per second.",
                       fix="Use a positive rate like 20.")
    with output_folder(args.out):
        return _simulate(args)


def check_size(height: int, width: int) -> None:
    """Refuse a ``--size`` too small to show the anatomy or too large for this machine's memory."""
    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.simulation import MIN_FRAME_SIZE, SimulationConfig

    if height < MIN_FRAME_SIZE or width < MIN_FRAME_SIZE:
        raise DTCError(f"--size {height}x{width} is too small to show the anatomy.",
                       fix=f"Ask for at least {MIN_FRAME_SIZE}x{MIN_FRAME_SIZE} pixels (the default is 256x448).")
    needed, available = SimulationConfig(height=height, width=width).working_memory_bytes(), physical_memory_bytes()
    if available is not None and needed > available:
        raise DTCError(f"--size {height}x{width} needs about {needed / 2**30:.0f} GiB to simulate, more than this "
                       f"machine's {available / 2**30:.0f} GiB of memory.", fix="Ask for a smaller --size (default 256x448).")


def physical_memory_bytes() -> Optional[int]:
    """This machine's memory, or None where the operating system does not say (then nothing is refused)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _simulate(args) -> int:
    from tqdm import tqdm

    from DTCSegmentationLib.atomic import check_writable
    from DTCSegmentationLib.sequence_io import open_writer
    from DTCSegmentationLib.simulation import SimulationConfig, TrusSimulator, write_preview

    height, width = args.size
    suffix = FORMATS[args.format]
    views = ("axial", "sagittal") if args.view == "both" else (args.view,)
    outputs = {}
    for view in views:
        outputs[view] = (args.out / f"{view}_images{suffix}",
                         args.out / f"{view}_masks{'.seq.nrrd' if suffix == '.mp4' else suffix}",
                         args.out / f"{view}_preview.png" if args.preview else None)
    # Refuse before simulating anything, so a refused run leaves no new outputs behind.
    for paths in outputs.values():
        for path in paths:
            if path is not None:
                check_writable(path, args.overwrite)
    written = {}
    for offset, view in enumerate(views):
        config = SimulationConfig(view=view, num_frames=args.frames, height=height, width=width,
                                  seed=args.seed + offset, difficulty=args.difficulty, frame_rate=args.frame_rate,
                                  style=args.style)
        simulator = TrusSimulator(config)
        geometry = simulator.scan.frame_geometry
        images_path, masks_path, preview_path = outputs[view]
        preview_images, preview_masks = [], []
        keep_every = max(1, args.frames // 64)
        events = []
        with open_writer(images_path, geometry, "image", args.frame_rate, args.overwrite) as images, \
                open_writer(masks_path, geometry, "labelmap", args.frame_rate, args.overwrite) as masks:
            for index, frame in enumerate(tqdm(simulator.frames(), total=args.frames, desc=f"simulate {view}",
                                               unit="frame", disable=None)):
                images.write(frame.image, frame.time)
                masks.write(frame.mask, frame.time)
                events.append(frame.events)
                if index % keep_every == 0:
                    preview_images.append(frame.image)
                    preview_masks.append(frame.mask)
        written[view] = {"images": str(images_path), "masks": str(masks_path),
                         "spacing_mm": geometry.spacing[0],
                         "dropped_frames": sum(e["dropped_before"] for e in events),
                         "duplicated_frames": sum(e["duplicated"] for e in events),
                         "frames_with_shadows": sum(e["shadows"] > 0 for e in events)}
        if preview_path is not None:
            import numpy as np

            preview = write_preview(preview_path, np.stack(preview_images), np.stack(preview_masks),
                                    label=f"{view} seed {config.seed} {args.difficulty}"
                                          + (" clinical" if args.style == "clinical" else ""),
                                    overwrite=args.overwrite)
            written[view]["preview"] = str(preview)
    print(json.dumps(written, indent=2))
    return 0
