"""A disk cache of optical flow, so a training step never waits for flow.

Flow depends only on the two frames and the flow settings, so it is computed once per
frame pair (in a data-loader worker or ahead of training) and stored under a key made
of both frames' content and the settings.  A changed frame or setting is a new key;
nothing stale is ever returned.  Flows are stored as float16 ``.npy`` files (0.01 px
precision is far below what Farneback resolves) and written atomically, so several
workers may fill the same cache.
"""

import os
import uuid
from pathlib import Path
from typing import Optional

import numpy as np
from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.temporal.flow import FlowSettings, flow_cache_key, flow_to_previous


class FlowCache:
    """Flow between frame pairs, computed on first request and kept on disk.

    Args:
        directory: cache folder (created if missing); None keeps nothing (always computes).
        settings: flow estimator settings, part of every key.
    """

    def __init__(self, directory: Optional[PathLike], settings: FlowSettings = FlowSettings()):
        self.directory = Path(directory) if directory is not None else None
        self.settings = settings
        self.hits = 0
        self.misses = 0
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Two-level fan-out keeps folders small for datasets of 100k frame pairs.
        return self.directory / key[:2] / f"{key}.npy"

    def flow(self, frame_t: np.ndarray, frame_prev: np.ndarray) -> np.ndarray:
        """Backward flow ``(H, W, 2)`` float32 (pixels) from ``frame_t`` to ``frame_prev``."""
        if self.directory is None:
            self.misses += 1
            return flow_to_previous(frame_t, frame_prev, self.settings)
        path = self._path(flow_cache_key(frame_t, frame_prev, self.settings))
        if path.is_file():
            try:
                flow = np.load(path)
                self.hits += 1
                return flow.astype(np.float32)
            except (OSError, ValueError):
                pass  # an unreadable entry (disk trouble) is recomputed and rewritten
        self.misses += 1
        flow = flow_to_previous(frame_t, frame_prev, self.settings)
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:6]}.partial.npy")
        try:
            np.save(temporary, flow.astype(np.float16))
            os.replace(temporary, path)
        except BaseException:  # Ctrl-C or a cancelled run included: leave no partial entry behind
            temporary.unlink(missing_ok=True)
            raise
        return flow
