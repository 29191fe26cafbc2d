"""The ``dtc`` command: one entry point for simulation, segmentation and training.

User errors (:class:`DTCSegmentationLib.errors.DTCError`) end in one line on stderr and
exit status 2; Ctrl-C ends with status 130, leaves no half-written output and says what was
kept on purpose (a training run's checkpoint).
"""

import argparse
import importlib
import shlex
import signal
import sys
import threading
from typing import List, Optional

from DTCSegmentationLib import __version__
from DTCSegmentationLib.commands import COMMAND_MODULES as SEGMENTATION_COMMANDS
from DTCSegmentationLib.errors import DTCError

from DTCTrainingLib.commands import COMMAND_MODULES as TRAINING_COMMANDS


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error told in one line like every other ``dtc`` error (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help).\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``dtc`` parser with every sub-command registered."""
    parser = _Parser(
        prog="dtc",
        description="Temporally consistent prostate segmentation for transrectal ultrasound video.",
    )
    parser.add_argument("--version", action="version", version=f"dtc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for package, names in (
        ("DTCSegmentationLib.commands", SEGMENTATION_COMMANDS),
        ("DTCTrainingLib.commands", TRAINING_COMMANDS),
    ):
        for name in names:
            importlib.import_module(f"{package}.{name}").register(subparsers)
    return parser


def stop_cleanly_on_interrupt() -> None:
    """Make SIGINT (and CTRL_BREAK_EVENT on Windows) raise ``KeyboardInterrupt`` in this process.

    A process started in the background of a non-interactive shell (``dtc train ... &`` in a script,
    or a Slicer started that way, whose panel then starts the training) inherits "ignore SIGINT", and
    Python then installs no ``KeyboardInterrupt`` handler: the panel's Cancel, which is SIGINT to the
    run's process group, would do nothing until its grace period ends in a kill, and ``dtc live``
    would not stop. Every ``dtc`` command stops cleanly on an interrupt, so it always takes one.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread (dtc run in-process by a caller)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGBREAK"):
        # Windows: the Slicer panel cancels a run with CTRL_BREAK_EVENT; stop as cleanly as on Ctrl-C.
        signal.signal(signal.SIGBREAK, signal.default_int_handler)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``dtc`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    stop_cleanly_on_interrupt()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = "dtc " + " ".join(shlex.quote(str(a)) for a in argv)  # for reports
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except DTCError as error:
        print(f"dtc {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        # A command that keeps something on purpose (training's checkpoint) says what, in the interrupt itself.
        kept = str(interrupt) or "no partial output was kept"
        print(f"dtc {args.command}: interrupted; {kept}.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
