"""``dtc dataset check|simulate|from-volumes``: validate a training-data folder, or make one.

``simulate`` writes simulated sweeps; ``from-volumes`` virtual sweeps through 3D volumes with labels.
"""

import json
from pathlib import Path

from DTCSegmentationLib.choices import SIMULATION_DIFFICULTIES, SIMULATION_STYLES
from DTCSegmentationLib.commands.arguments import frame_size, seed


def register(subparsers) -> None:
    parser = subparsers.add_parser("dataset",
                                   help="check a training-data folder, simulate one or make one from 3D volumes")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a manifest / TRUS-V / SUN-SEG folder and read every case")
    check.add_argument("folder", type=Path)
    check.add_argument("--val", action="append", default=[], help="validation patient/case (TRUS-V, SUN-SEG)")
    check.add_argument("--test", action="append", default=[], help="test patient/case (TRUS-V, SUN-SEG)")
    check.set_defaults(func=run_check)
    simulate = actions.add_parser("simulate", help="write a training-data folder of simulated TRUS sweeps")
    simulate.add_argument("--out", type=Path, required=True)
    simulate.add_argument("--cases", type=int, default=8)
    simulate.add_argument("--frames", type=int, default=40)
    simulate.add_argument("--size", type=frame_size, default=(256, 448), metavar="HxW")
    simulate.add_argument("--labelled-every", type=int, default=1, help="annotate every K-th frame (sparse labels)")
    simulate.add_argument("--val-cases", type=int, default=2)
    simulate.add_argument("--test-cases", type=int, default=0)
    simulate.add_argument("--seed", type=seed, default=0)
    simulate.add_argument("--difficulty", choices=SIMULATION_DIFFICULTIES, default="default")
    simulate.add_argument("--style", choices=SIMULATION_STYLES, default="classic",
                          help="simulator look: classic (default) or clinical (scanner screen, randomised machines)")
    simulate.add_argument("--overwrite", action="store_true")
    simulate.set_defaults(func=run_simulate)
    _register_from_volumes(actions)
    merge = actions.add_parser("merge", help="one training-data folder from several (e.g. real and simulated sweeps)")
    merge.add_argument("sources", type=Path, nargs="+", help="training-data folders with a dataset.json")
    merge.add_argument("--out", type=Path, required=True)
    merge.add_argument("--prefix", action="append", default=[],
                       help="name for each source's cases, in order (default: the source folder's name)")
    merge.add_argument("--overwrite", action="store_true")
    merge.set_defaults(func=run_merge)
    degrade = actions.add_parser("degrade", help="a copy whose frames look like screen captures (downscaled, JPEG, "
                                                 "on-screen text), masks unchanged: a robustness check")
    degrade.add_argument("source", type=Path, help="training-data folder with a dataset.json")
    degrade.add_argument("--out", type=Path, required=True)
    degrade.add_argument("--split", choices=("train", "val", "test"), help="only this split's cases")
    degrade.add_argument("--width", type=int, default=130, help="capture width in pixels (default 130)")
    degrade.add_argument("--jpeg", type=int, default=50, help="JPEG quality 1-100, 0 for none (default 50)")
    degrade.add_argument("--no-overlays", action="store_true", help="no on-screen text, scale or marker")
    degrade.add_argument("--seed", type=int, default=0)
    degrade.add_argument("--overwrite", action="store_true")
    degrade.set_defaults(func=run_degrade)


def _register_from_volumes(actions) -> None:
    from DTCTrainingLib.data.sweep_settings import KINDS, SweepSettings

    defaults = SweepSettings()
    parser = actions.add_parser(
        "from-volumes", help="virtual TRUS sweeps with exact masks from 3D volumes and label maps",
        description="Move a virtual TRUS probe through 3D volumes with prostate labels (NIfTI, NRRD, MHA) and "
                    "write the sweeps (images.seq.nrrd + masks.seq.nrrd) as a training-data folder. Directions are "
                    "anatomical letters L R P A S I in the files' physical space (or voxel axes +i ... -k for files "
                    "whose header orientation is not anatomical). See DTCTrainingLib/data/volume_sweeps.py.")
    parser.add_argument("--images", type=Path, nargs="+", required=True, help="image volumes, or folders of them")
    parser.add_argument("--labels", type=Path, nargs="+", required=True,
                        help="label maps (or folders), matched to the images by file name")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--case", action="append", default=[], help="import only this case id (repeatable)")
    parser.add_argument("--val", nargs="+", action="extend", default=[], metavar="CASE", help="validation patients")
    parser.add_argument("--test", nargs="+", action="extend", default=[], metavar="CASE", help="test patients")
    parser.add_argument("--val-fraction", type=float, default=None,
                        help="fraction of the patients drawn at random (--seed) for validation (default 0.2 "
                             "without --val)")
    parser.add_argument("--label-value", type=float, default=None, help="label value of the prostate (default: > 0.5)")
    parser.add_argument("--label-channel", type=int, default=None,
                        help="channel of a multi-channel label map (0-based; required for those)")
    parser.add_argument("--sweeps", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--frames", type=int, default=defaults.frames)
    parser.add_argument("--size", type=frame_size, default=(defaults.height, defaults.width), metavar="HxW")
    parser.add_argument("--pixel-mm", type=float, default=defaults.pixel_mm)
    parser.add_argument("--frame-rate", type=float, default=defaults.frame_rate)
    parser.add_argument("--probe-axis", default=defaults.probe_axis,
                        help="direction of the probe shaft, handle to tip: L R P A S I or a voxel axis +i ... k- "
                             "(default S)")
    parser.add_argument("--probe-side", default=defaults.probe_side,
                        help="side of the gland the probe lies on, as --probe-axis (default P: posterior; write "
                             "--probe-side=-i or i- for a voxel axis)")
    parser.add_argument("--probe-at", choices=("bottom", "top"), default=defaults.probe_at,
                        help="where the transducer is drawn in the frame (default bottom, as clinical TRUS)")
    parser.add_argument("--standoff-mm", type=float, default=defaults.standoff_mm)
    parser.add_argument("--probe-radius-mm", type=float, default=defaults.probe_radius_mm)
    parser.add_argument("--margin", type=float, default=defaults.margin,
                        help="fraction of the frames before and after the gland")
    parser.add_argument("--tilt-deg", type=float, default=defaults.tilt_deg)
    parser.add_argument("--tremor-mm", type=float, default=defaults.tremor_mm)
    parser.add_argument("--tremor-deg", type=float, default=defaults.tremor_deg)
    parser.add_argument("--rotation-deg", type=float, default=defaults.rotation_deg)
    parser.add_argument("--pressure", type=float, default=defaults.pressure)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(func=run_from_volumes)


def run_check(args) -> int:
    from DTCTrainingLib.data.dataset_check import check_dataset

    report = check_dataset(args.folder, args.val, args.test)
    print(json.dumps(report, indent=2))
    return 0 if not report["problems"] else 2


def run_simulate(args) -> int:
    from DTCSegmentationLib.atomic import output_folder
    from DTCSegmentationLib.commands.simulate import check_size
    from DTCSegmentationLib.errors import DTCError

    from DTCTrainingLib.data.simulated_dataset import make_simulated_dataset

    for name, value in (("--cases", args.cases), ("--frames", args.frames), ("--labelled-every", args.labelled_every)):
        if value < 1:
            raise DTCError(f"{name} {value} is less than 1.", fix=f"Ask for {name} 1 or more.")
    if args.val_cases < 0 or args.test_cases < 0 or args.val_cases + args.test_cases > args.cases:
        raise DTCError(f"--val-cases {args.val_cases} and --test-cases {args.test_cases} do not fit in "
                       f"--cases {args.cases}.", fix="Ask for at most as many val and test cases as cases.")
    check_size(*args.size)
    height, width = args.size
    with output_folder(args.out):
        path = make_simulated_dataset(args.out, args.cases, args.frames, height, width, args.labelled_every,
                                      args.val_cases, args.test_cases, args.seed, args.difficulty, args.overwrite,
                                      style=args.style)
    print(json.dumps({"manifest": str(path)}))
    return 0


def run_from_volumes(args) -> int:
    from DTCTrainingLib.data.volume_sweeps import SweepSettings, choose_splits, find_volume_pairs, import_volumes

    height, width = args.size
    settings = [SweepSettings(kind=kind, frames=args.frames, height=height, width=width, pixel_mm=args.pixel_mm,
                              frame_rate=args.frame_rate, probe_axis=args.probe_axis, probe_side=args.probe_side,
                              probe_at=args.probe_at, standoff_mm=args.standoff_mm,
                              probe_radius_mm=args.probe_radius_mm, margin=args.margin, tilt_deg=args.tilt_deg,
                              tremor_mm=args.tremor_mm, tremor_deg=args.tremor_deg, rotation_deg=args.rotation_deg,
                              pressure=args.pressure)
                for kind in dict.fromkeys(args.sweeps)]
    pairs = find_volume_pairs(args.images, args.labels, args.case)
    fraction = args.val_fraction if args.val or args.val_fraction is not None else 0.2
    splits = choose_splits([case for case, _, _ in pairs], args.val, args.test,
                           None if args.val else fraction, args.seed)
    report = import_volumes(pairs, args.out, splits, settings, args.label_value, args.label_channel, args.seed,
                            args.overwrite)
    print(json.dumps(report, indent=2))
    return 0


def run_merge(args) -> int:
    from DTCTrainingLib.data.merge import merge_datasets

    path = merge_datasets(args.sources, args.out, args.prefix or None, name=args.out.name, overwrite=args.overwrite)
    print(json.dumps({"manifest": str(path)}))
    return 0


def run_degrade(args) -> int:
    from DTCTrainingLib.data.degradation import Degradation, degrade_dataset

    settings = Degradation(width=args.width, jpeg_quality=args.jpeg, overlays=not args.no_overlays)
    path = degrade_dataset(args.source, args.out, settings, args.seed, args.split, args.overwrite)
    print(json.dumps({"manifest": str(path)}))
    return 0
