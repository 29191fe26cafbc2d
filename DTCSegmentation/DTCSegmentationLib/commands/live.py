"""``dtc live``: segment a live OpenIGTLink image stream (PlusServer, a scanner, 3D Slicer) and send masks back."""

import json
import math
import sys
import threading
import time
from pathlib import Path

from DTCSegmentationLib.choices import BACKENDS, DEVICES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "live", help="segment a live OpenIGTLink image stream and send the masks back",
        description="Connect to an OpenIGTLink image source (PlusServer: port 18944) and/or listen for peers "
                    "(3D Slicer's OpenIGTLinkIF), segment the newest frame with a trained model, and send a "
                    "uint8 mask IMAGE (1 = prostate) with the frame's geometry and timestamp. Older frames are "
                    "dropped when the model is slower than the stream. Stop with Ctrl-C.",
    )
    parser.add_argument("--model", type=Path, help="model file (.safetensors, .onnx or TorchScript .pt); "
                                                   "default: the model shipped with DTC")
    parser.add_argument("--host", help="image source to connect to (e.g. the PlusServer machine)")
    parser.add_argument("--port", type=int, default=18944, help="port of --host (default 18944, PlusServer's)")
    parser.add_argument("--listen", type=int, metavar="PORT", help="also (or only) accept OpenIGTLink peers on PORT; "
                                                                   "every peer receives every mask")
    parser.add_argument("--listen-host", default="0.0.0.0", help="interface for --listen (default: all)")
    parser.add_argument("--input-device", default="Image_Reference",
                        help="device name of the frames (default Image_Reference, PlusServer's; '*' for any IMAGE)")
    parser.add_argument("--output-device", default="DTCMask", help="device name of the masks sent (default DTCMask)")
    parser.add_argument("--probabilities", action="store_true",
                        help="also send the probability map (uint8, 255 = certain prostate)")
    parser.add_argument("--probability-device", default="DTCProbability",
                        help="device name of the probability maps (default DTCProbability)")
    parser.add_argument("--no-reply", action="store_true",
                        help="do not send masks back to --host (PlusServer does not take images); use with --listen")
    parser.add_argument("--backend", choices=BACKENDS, default="onnx", help="inference back end (default onnx)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--threshold", type=float, help="probability threshold (default: the model's)")
    parser.add_argument("--no-largest-component", action="store_true", help="keep every region of the mask, not "
                                                                            "only the largest")
    parser.add_argument("--no-fill-holes", action="store_true", help="leave holes inside the mask")
    parser.add_argument("--threads", type=int, help="CPU threads for inference (default: one per core; use fewer "
                                                    "when PlusServer or Slicer run on the same machine)")
    parser.add_argument("--max-message-mb", type=float, default=64.0, help="frames larger than this are skipped")
    parser.add_argument("--idle-timeout", type=float, default=10.0,
                        help="reconnect to --host after this many seconds without data (0: never)")
    parser.add_argument("--no-crc-check", action="store_true", help="accept frames whose CRC-64 does not match")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument("--stats-interval", type=float, default=5.0, help="seconds between statistics lines")
    parser.add_argument("--json", action="store_true", help="statistics as JSON lines on stdout")
    parser.add_argument("--stop-when-stdin-closes", action="store_true",
                        help="stop when standard input ends: a parent that keeps it open ends this process with itself "
                             "(the Slicer panel's live mode)")
    parser.set_defaults(func=run)


def _report(stats: dict, as_json: bool, final: bool = False) -> None:
    if as_json:
        print(json.dumps({"event": "done" if final else "stats", **stats}), flush=True)
        return

    def ms(value):
        return "-" if value is None else f"{value:.1f}"

    print(f"{'final: ' if final else ''}frames {stats['received']} segmented {stats['segmented']} "
          f"dropped {stats['dropped']} skipped {stats['messages_skipped']} | {stats['frames_per_second']:.1f} frames/s "
          f"| latency p50 {ms(stats['latency_p50_ms'])} ms p99 {ms(stats['latency_p99_ms'])} ms "
          f"| connections {stats['connections']}", flush=True)


def _stdin_closed() -> threading.Event:
    """An event set when standard input reaches its end (read on a thread of its own)."""
    closed = threading.Event()

    def read():
        while sys.stdin.buffer.read(4096):
            pass
        closed.set()

    threading.Thread(target=read, name="dtc-live-stdin", daemon=True).start()
    return closed


def run(args) -> int:
    import logging

    import numpy as np

    from DTCSegmentationLib.errors import DTCError
    from DTCSegmentationLib.inference.segmenter import Segmenter
    from DTCSegmentationLib.live.igtl_bridge import BridgeConfig, IgtlBridge
    from DTCSegmentationLib.networks.default_model import model_or_default

    if args.host is None and args.listen is None:
        raise DTCError("nothing to connect to.", fix="Pass --host HOST (an image source such as PlusServer), "
                                                     "--listen PORT (peers connect to DTC), or both.")
    for name, port in (("--port", args.port), ("--listen", args.listen)):
        if port is not None and not 0 <= port <= 65535:
            raise DTCError(f"{name} {port} is not a TCP port.", fix=f"Use a {name} between 1 and 65535.")
    for name, value, positive, expected in (("--max-message-mb", args.max_message_mb, True, "a size in MB above 0"),
                                            ("--stats-interval", args.stats_interval, True, "seconds above 0"),
                                            ("--idle-timeout", args.idle_timeout, False, "seconds, 0 for never"),
                                            ("--duration", args.duration, False, "seconds, 0 or more")):
        if value is not None and not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
            raise DTCError(f"{name} {value} is out of range.", fix=f"Give {name} {expected}.")
    model_path = model_or_default(args.model)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s dtc live: %(message)s")
    if args.threads is not None:
        if args.threads < 1:
            raise DTCError(f"--threads {args.threads} is not a thread count.", fix="Use --threads 1 or more.")
        import torch

        torch.set_num_threads(args.threads)  # the ONNX Runtime back end takes the same count
    segmenter = Segmenter.from_file(model_path, device=args.device, backend=args.backend, threshold=args.threshold,
                                    largest_component=not args.no_largest_component, fill_holes=not args.no_fill_holes)
    # The first inference builds kernels and buffers; keep that out of the first live frame's latency.
    segmenter.segment_frame(np.zeros(segmenter.info.input_size, np.uint8))
    config = BridgeConfig(
        host=args.host, port=args.port, listen_port=args.listen, listen_host=args.listen_host,
        input_device=None if args.input_device == "*" else args.input_device, mask_device=args.output_device,
        probability_device=args.probability_device if args.probabilities else None,
        reply_to_source=not args.no_reply, max_message_bytes=int(args.max_message_mb * (1 << 20)),
        check_crc=not args.no_crc_check, idle_timeout=args.idle_timeout,
    )
    with IgtlBridge(segmenter, config) as bridge:
        if args.listen is not None:
            print(json.dumps({"event": "listening", "port": bridge.listen_port}) if args.json
                  else f"listening on port {bridge.listen_port}", flush=True)
        end = None if args.duration is None else time.monotonic() + args.duration
        next_report = time.monotonic() + args.stats_interval
        parent_gone = _stdin_closed() if args.stop_when_stdin_closes else threading.Event()
        try:
            while (end is None or time.monotonic() < end) and not parent_gone.is_set():
                time.sleep(0.05)
                bridge.check()
                if time.monotonic() >= next_report:
                    _report(bridge.stats(), args.json)
                    next_report += args.stats_interval
        except KeyboardInterrupt:  # Ctrl-C is how a live session normally ends
            pass
    bridge.check()
    _report({**bridge.stats(), "model": str(model_path), "backend": args.backend}, args.json, final=True)
    return 0
