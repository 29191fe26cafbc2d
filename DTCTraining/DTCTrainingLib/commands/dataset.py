"""``dtc dataset check|simulate``: validate a training-data folder, or make a simulated one."""

import json
from pathlib import Path

from DTCSegmentationLib.choices import SIMULATION_DIFFICULTIES
from DTCSegmentationLib.commands.arguments import frame_size, seed


def register(subparsers) -> None:
    parser = subparsers.add_parser("dataset", help="check a training-data folder or simulate one")
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
    simulate.add_argument("--overwrite", action="store_true")
    simulate.set_defaults(func=run_simulate)


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
                                      args.val_cases, args.test_cases, args.seed, args.difficulty, args.overwrite)
    print(json.dumps({"manifest": str(path)}))
    return 0
