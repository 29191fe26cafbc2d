"""The scanner screen around a clinical TRUS image: text, depth scale, markers, vendor blocks.

Frames grabbed from a scanner carry more than the image, and a network that never saw text
or a depth scale may segment them.  :class:`Screen` draws a random but plausible vendor
layout once per recording (plus a per-frame clock) and composites it onto each frame.

Nothing is ever drawn in the image area: overlays are kept out of every 8 x 8 block that
holds a pixel of the field of view, and out of the blocks around those, so that JPEG's block
transform never mixes an overlay with image pixels, the blurred edge of the image never
reaches an overlay, and the mask (which lies inside the field of view) never covers one.
"""

from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np

from DTCSegmentationLib.simulation.machine import Machine
from DTCSegmentationLib.simulation.scanner import ScanGeometry

BLOCK = 8  # JPEG block size: the unit of the keep-out zone
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX)
SYSTEMS = ("SONOVIEW", "UROSCAN", "ECHOPRO", "PELVISONO", "ULTRA-X", "MEDIVUE", "TRX")
PRESETS = ("Prostate", "PROS", "Uro", "Prost Bx", "TRUS", "Pelvic")


@dataclass(frozen=True)
class Layout:
    """Where the image goes on the screen (pixels, end exclusive), drawn per recording.

    The region is centred on the frame's middle column, so a mirrored display is the mirror
    of the frame; the rest of the frame is screen furniture.
    """

    top: int
    bottom: int
    left: int
    right: int

    @property
    def region(self) -> Tuple[int, int, int, int]:
        return self.top, self.bottom, self.left, self.right


def draw_layout(rng: np.random.Generator, height: int, width: int) -> Layout:
    """Margins for text above and scales / bars at the sides; the probe sits near the bottom edge."""
    top = int(round(height * rng.uniform(0.06, 0.11)))
    bottom = height - int(round(height * rng.uniform(0.0, 0.03)))
    side = int(round(width * rng.uniform(0.09, 0.14)))
    return Layout(top=top, bottom=bottom, left=side, right=width - side)


def keep_out_zone(inside: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: pixels where no overlay may be drawn (field-of-view blocks and their neighbours)."""
    height, width = inside.shape
    rows, cols = -(-height // BLOCK), -(-width // BLOCK)
    padded = np.zeros((rows * BLOCK, cols * BLOCK), bool)
    padded[:height, :width] = inside
    blocks = padded.reshape(rows, BLOCK, cols, BLOCK).any(axis=(1, 3)).astype(np.uint8)
    blocks = cv2.dilate(blocks, np.ones((3, 3), np.uint8))
    return np.kron(blocks, np.ones((BLOCK, BLOCK), np.uint8))[:height, :width].astype(bool)


class Screen:
    """One vendor-style screen for a recording; :meth:`apply` puts it on a frame.

    Every element is drawn on its own and kept only if it stays out of the image's keep-out
    zone and clear of the elements already placed, so small frames simply show less.

    Args:
        rng: the screen's own random generator (so switching the screen off changes nothing else).
        scan: the display geometry (probe at the bottom).
        machine: the settings written on the screen (depth, frequency, gain, focus, flip).
        layout: the image region.
    """

    def __init__(self, rng: np.random.Generator, scan: ScanGeometry, machine: Machine, layout: Layout):
        self.rng = rng
        self.scan, self.machine, self.layout = scan, machine, layout
        self.height, self.width = scan.inside.shape
        self.allowed = ~keep_out_zone(scan.inside)
        self.static = np.zeros((self.height, self.width), np.uint8)
        self.occupied = np.zeros((self.height, self.width), bool)
        self.font = FONTS[int(rng.integers(len(FONTS)))]
        # Hershey fonts are about 22 px tall at scale 1 (PLAIN about 12): size text to the frame.
        unit = self.height / 256.0
        self.scale = unit * rng.uniform(0.3, 0.4) * (1.7 if self.font == cv2.FONT_HERSHEY_PLAIN else 1.0)
        self.text_level = int(rng.integers(150, 256))
        self.scale_side = -1 if rng.random() < 0.5 else 1  # depth scale left (-1) or right (+1)
        self.margin = max(2, int(round(self.width * rng.uniform(0.008, 0.025))))
        self.line_height = self._text_size("Ag")[1] + max(2, int(round(3 * unit)))
        self.clock = None
        self._draw_static()

    # ---------------------------------------------------------------- helpers
    def _text(self, canvas: np.ndarray, text: str, x: int, y: int, level: int = -1, scale: float = 1.0) -> None:
        cv2.putText(canvas, text, (int(x), int(y)), self.font, self.scale * scale,
                    int(self.text_level if level < 0 else level), 1, cv2.LINE_AA)

    def _text_size(self, text: str, scale: float = 1.0) -> Tuple[int, int]:
        (w, h), _ = cv2.getTextSize(text, self.font, self.scale * scale, 1)
        return w, h

    def _blank(self) -> np.ndarray:
        return np.zeros((self.height, self.width), np.uint8)

    def _commit(self, canvas: np.ndarray) -> bool:
        """Keep ``canvas``'s drawing if it is outside the keep-out zone and clear of earlier elements."""
        drawn = canvas > 0
        if not drawn.any() or (drawn & ~self.allowed).any() or (drawn & self.occupied).any():
            return False
        np.maximum(self.static, canvas, out=self.static)
        self.occupied |= cv2.dilate(drawn.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        return True

    def _text_block(self, lines: List[str], right_aligned: bool, top: int, scale: float = 1.0) -> None:
        """As many of ``lines`` as fit, from the top, against the left or right edge."""
        for count in range(len(lines), 0, -1):
            canvas = self._blank()
            for index, text in enumerate(lines[:count]):
                w, _ = self._text_size(text, scale)
                x = self.width - w - self.margin if right_aligned else self.margin
                self._text(canvas, text, x, top + self.line_height * (index + 1), scale=scale)
            if self._commit(canvas):
                return

    def _row_of_depth(self, depth_mm: float) -> float:
        """Frame row of a depth on the central beam (depth grows upwards)."""
        y = self.scan.pixel_y[:, self.width // 2]
        return float(np.interp(depth_mm, y[::-1], np.arange(self.height)[::-1]))

    # ---------------------------------------------------------------- the static screen
    def _draw_static(self) -> None:
        rng, m = self.rng, self.machine
        system = f"{SYSTEMS[int(rng.integers(len(SYSTEMS)))]} {int(rng.integers(2, 12))}"
        probe = f"{rng.choice(['E', 'BP', 'TR', 'EC'])}{int(rng.integers(4, 15))}-{int(rng.integers(2, 9))}"
        header = [system, f"{probe} {m.frequency_mhz:.1f}MHz", str(rng.choice(PRESETS))][: 1 + int(rng.integers(1, 3))]
        date = f"20{int(rng.integers(15, 26))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        clock = f"{int(rng.integers(7, 19)):02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}"
        dated = [date, clock] if rng.random() < 0.4 else [f"ID {int(rng.integers(10**5, 10**8))}", date, clock]
        header_right = rng.random() < 0.25  # some systems put the system name on the right
        self._text_block(header, header_right, 0)
        self._text_block(dated, not header_right, 0)
        self._depth_scale()
        params = [f"G {int(50 + 2 * m.gain_db)}%", f"DR {int(round(m.dynamic_range_db))}",
                  f"D {m.probe.depth_mm / 10:.1f}cm", f"FR {int(rng.integers(12, 35))}",
                  f"MI {rng.uniform(0.4, 1.4):.1f}", f"TIS {rng.uniform(0.1, 0.6):.1f}"]
        params = params[: int(rng.integers(3, len(params) + 1))]
        self._text_block(params, self.scale_side < 0, int(self.height * rng.uniform(0.2, 0.3)), 0.85)
        if rng.random() < 0.7:
            self._grey_bar()
        if rng.random() < 0.7:
            self._vendor_block()
        self._orientation_marker()
        if rng.random() < 0.6:
            self._probe_icon()
        self._reserve_clock()

    def _depth_scale(self) -> None:
        """Ticks every 5 mm (longer each cm, numbered) and the focus marker, right next to the image."""
        rng, depth, side = self.rng, self.machine.probe.depth_mm, self.scale_side
        level = int(rng.integers(140, 256))
        dotted = rng.random() < 0.4
        tick = max(2, int(round(self.width * 0.008)))
        rows = {mm: int(round(self._row_of_depth(mm))) for mm in range(0, int(depth) + 1, 5)}
        rows = {mm: row for mm, row in rows.items() if self.line_height * 2 < row < self.height - 2}
        if len(rows) < 2:
            return
        focus_row = int(round(self._row_of_depth(self.machine.focus_mm)))
        size = max(3, tick + 1)
        # From right next to the image outwards: the first position clear of everything wins.
        nearest, farthest = self.layout.right - self.width // 2 - 4 * tick, self.width // 2 - self.margin - 2 * tick
        for offset in range(nearest, farthest, 2):
            x = self.width // 2 + side * offset
            canvas = self._blank()
            if not dotted:
                cv2.line(canvas, (x, min(rows.values())), (x, max(rows.values())), level, 1)
            for mm, row in rows.items():
                major = mm % 10 == 0
                if dotted:
                    cv2.circle(canvas, (x, row), 2 if major else 1, level, -1, cv2.LINE_AA)
                else:
                    cv2.line(canvas, (x, row), (x + side * tick * (2 if major else 1), row), level, 1)
                if major and mm > 0:
                    w, h = self._text_size(str(mm // 10), 0.8)
                    tx = x - side * (tick + 2) - (w if side > 0 else 0)
                    self._text(canvas, str(mm // 10), tx, row + h // 2, level, 0.8)
            tip = x - side * (3 * tick + 4)
            triangle = np.array([[tip, focus_row], [tip - side * size, focus_row - size],
                                 [tip - side * size, focus_row + size]], np.int32)
            cv2.fillConvexPoly(canvas, triangle, level, cv2.LINE_AA)
            if self._commit(canvas):
                return

    def _grey_bar(self) -> None:
        """The grey-map bar: black to white, on the side opposite the depth scale."""
        rng = self.rng
        bar_h = int(self.height * rng.uniform(0.15, 0.25))
        bar_w = max(3, int(self.width * rng.uniform(0.01, 0.02)))
        x = self.width - self.margin - bar_w if self.scale_side < 0 else self.margin
        y = int(self.height * rng.uniform(0.55, 0.65))
        canvas = self._blank()
        canvas[y:y + bar_h, x:x + bar_w] = np.linspace(255, 1, bar_h).astype(np.uint8)[:, None]
        self._commit(canvas)

    def _vendor_block(self) -> None:
        """A filled label (mode, preset) in a bottom corner, as many systems show."""
        rng = self.rng
        label = str(rng.choice(["2D", "B", "THI", "B-MODE", "Gen", "Res"]))
        w, h = self._text_size(label)
        pad = max(2, h // 3)
        x = self.width - w - 2 * pad - self.margin if rng.random() < 0.5 else self.margin
        y = self.height - h - 2 * pad - 2
        canvas = self._blank()
        cv2.rectangle(canvas, (x, y), (x + w + 2 * pad, y + h + 2 * pad), int(rng.integers(50, 110)), -1)
        self._text(canvas, label, x + pad, y + h + pad, int(rng.integers(200, 256)))
        self._commit(canvas)

    def _orientation_marker(self) -> None:
        """The vendor's orientation mark beside the top of the image on the patient's side; it follows
        the flip, as on a scanner."""
        rng = self.rng
        side = 1 if self.machine.flip else -1
        radius = max(2, int(self.height * 0.012))
        y = self.layout.top + 2 * radius
        circle = rng.random() < 0.5
        level = int(rng.integers(160, 256))
        for offset in range(self.layout.right - self.width // 2, self.width // 2 - 2 * radius, 2):
            x = self.width // 2 + side * offset
            canvas = self._blank()
            if circle:
                cv2.circle(canvas, (x, y), radius, level, -1, cv2.LINE_AA)
            else:
                self._text(canvas, "P", x - radius, y + radius, level, 1.1)
            if self._commit(canvas):
                return

    def _probe_icon(self) -> None:
        """A small schematic probe (body marker) with the imaged plane, in a bottom corner."""
        rng = self.rng
        size = max(6, int(self.height * 0.06))
        cx = size + self.margin if rng.random() < 0.5 else self.width - size - self.margin
        cy = self.height - int(self.height * 0.2)
        level = int(rng.integers(120, 220))
        canvas = self._blank()
        cv2.ellipse(canvas, (cx, cy), (size // 2, size), 0, 0, 360, level, 1, cv2.LINE_AA)
        cv2.line(canvas, (cx - size, cy - size // 3), (cx + size, cy - size // 3), level, 1, cv2.LINE_AA)
        self._commit(canvas)

    def _reserve_clock(self) -> None:
        """Room for the cine clock (redrawn every frame) in a free bottom or side position."""
        w, h = self._text_size("88:88.88", 0.85)
        candidates = [(self.width - w - self.margin, self.height - 3), (self.margin, self.height - 3),
                      (self.width - w - self.margin, self.height // 2), (self.margin, self.height // 2)]
        for index in self.rng.permutation(len(candidates)):
            x, y = candidates[index]
            canvas = self._blank()
            cv2.rectangle(canvas, (x, y - h - 1), (x + w, y + 1), 1, -1)
            if self._commit(canvas):
                self.static[canvas > 0] = 0  # reserved, not drawn
                self.clock = (x, y)
                return

    # ---------------------------------------------------------------- per frame
    def apply(self, image: np.ndarray, time_s: float) -> np.ndarray:
        """``(H, W)`` uint8 frame with the screen drawn on it, outside the image area."""
        layer = self.static
        if self.clock is not None:
            layer = layer.copy()
            text = f"{int(time_s // 60):02d}:{time_s % 60:05.2f}"
            self._text(layer, text, self.clock[0], self.clock[1], scale=0.85)
        drawn = (layer > 0) & self.allowed
        out = image.copy()
        out[drawn] = layer[drawn]
        return out
