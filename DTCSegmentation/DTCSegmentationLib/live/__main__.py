"""``python -m DTCSegmentationLib.live ARGS``: ``dtc live ARGS`` without the training side's ``dtc`` entry point.

The Slicer panel's live mode runs it in a child process (``live/bridge_worker.py``).  User errors end
in one line on stderr and exit status 2, as with ``dtc``.
"""

import argparse
import sys

from DTCSegmentationLib.commands import live
from DTCSegmentationLib.errors import DTCError


def main(argv=None) -> int:
    subparsers = argparse.ArgumentParser().add_subparsers(dest="command")
    live.register(subparsers)
    parser = subparsers.choices["live"]
    parser.prog = "python -m DTCSegmentationLib.live"
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except DTCError as error:
        print(f"dtc live: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
