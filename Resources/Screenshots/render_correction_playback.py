"""Render correction_playback.png: one frame of a real sweep in playback, before and after a correction.

The scene is made as the panel makes it: the shipped model segments the sweep into a headless scene with
``masks_as="segmentation"``; of the frames where the gland is at least 30 % of its largest, the one it scores
worst on is corrected with the true mask through the
segmentation logic, as a Segment Editor effect does.  Both panels composite what a slice view shows: the
frame, the flicker overlay (the run's flicker map through its colour table, at the run's overlay opacity)
and the Prostate segment (fill and outline at the segmentation display node's 2D opacities, in the
segment's colour), all read from the scene's nodes.  Not a Slicer screenshot: no Slicer binary runs here.

Usage: python Resources/Screenshots/render_correction_playback.py DATA CASE [OUT]
(DATA: a folder written by `dtc dataset from-volumes`; CASE: a case id in it, e.g. obs003_axial).
"""

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "DTCSegmentation"), str(ROOT / "DTCTraining")]

from DTCSegmentationLib.inference.segmenter import Segmenter  # noqa: E402
from DTCSegmentationLib.mrml import (  # noqa: E402
    add_sequence_browser,
    add_volume_sequence,
    correct_frame,
    new_scene,
    segment_recording,
)
from DTCSegmentationLib.mrml.recording_segmentation import FLICKER_OPACITY  # noqa: E402
from DTCSegmentationLib.mrml.segmentations import PROSTATE_SEGMENT, frame_mask  # noqa: E402
from DTCSegmentationLib.networks.default_model import default_model_path  # noqa: E402
from DTCSegmentationLib.sequence_io import read_sequence  # noqa: E402
from DTCSegmentationLib.temporal.consistency import mask_dice  # noqa: E402

SCALE = 3  # pixels on screen per frame pixel


def composite(run, index, mask):
    """The slice view's layers for frame ``index`` with ``mask`` as the Prostate segment: ``(H*S, W*S, 3)`` uint8 RGB."""
    import slicer

    frame = run.source[index].astype(np.float64)
    rgb = np.repeat(frame[..., None] / 255.0, 3, axis=2)
    flicker = slicer.util.arrayFromVolume(run.flicker.GetNthDataNode(index))[0]
    table = run.displayed["flicker"].GetDisplayNode().GetColorNode()
    lookup = np.array([_rgba(table, value) for value in range(256)])
    colours = lookup[flicker]
    alpha = colours[..., 3:] * FLICKER_OPACITY
    rgb = rgb * (1 - alpha) + colours[..., :3] * alpha
    rgb = cv2.resize(rgb, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_LINEAR)
    big = cv2.resize(mask.astype(np.uint8), None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
    display = run.displayed["segmentation"].GetDisplayNode()
    segment = run.segmentation.GetNthDataNode(index).GetSegmentation().GetSegment(PROSTATE_SEGMENT)
    colour = np.array(segment.GetColor())
    fill = display.GetOpacity2DFill() * display.GetSegmentOpacity2DFill(PROSTATE_SEGMENT)
    outline = display.GetOpacity2DOutline() * display.GetSegmentOpacity2DOutline(PROSTATE_SEGMENT)
    inside = big[..., None] > 0
    rgb = np.where(inside, rgb * (1 - fill) + colour * fill, rgb)
    edge = np.zeros(big.shape, np.uint8)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(edge, contours, -1, 1, 2)
    rgb = np.where(edge[..., None] > 0, rgb * (1 - outline) + colour * outline, rgb)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _rgba(table, value):
    colour = [0.0] * 4
    table.GetColor(value, colour)
    return colour


def render(data: Path, case: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import slicer

    images = read_sequence(data / case / "images.seq.nrrd")
    truth = read_sequence(data / case / "masks.seq.nrrd").frames
    scene = new_scene()
    browser = add_sequence_browser(scene, [add_volume_sequence(scene, images, case)])
    run = segment_recording(scene, browser, Segmenter.from_file(default_model_path(), device="cpu"),
                            masks_as="segmentation")
    model = [slicer.util.arrayFromVolume(run.masks.GetNthDataNode(i))[0] for i in range(len(truth))]
    areas = truth.reshape(len(truth), -1).sum(1)
    large = [i for i in range(len(truth)) if areas[i] >= 0.3 * areas.max()]  # not the tips of the gland
    index = min(large, key=lambda i: mask_dice(model[i], truth[i]))
    before = composite(run, index, frame_mask(run.segmentation.GetNthDataNode(index), run.source, index))
    correct_frame(scene, run, index, truth[index])
    after = composite(run, index, frame_mask(run.segmentation.GetNthDataNode(index), run.source, index))
    figure, axes = plt.subplots(1, 2, figsize=(7.2, 3.2), gridspec_kw={"wspace": 0.04})
    titles = (f"frame {index}: the model's mask (Dice {mask_dice(model[index], truth[index]):.2f})",
              f"frame {index} corrected in the Prostate segment")
    for axis, picture, title in zip(axes, (before, after), titles):
        axis.imshow(picture)
        axis.set_title(title, fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"{case} (real 3D TRUS, virtual sweep): frame, Prostate segment and flicker overlay as a "
                    "slice view composites them", fontsize=7.5)
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)
    print({"png": str(out), "case": case, "frame": index})


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if len(arguments) not in (2, 3):
        raise SystemExit(__doc__)
    target = Path(arguments[2]) if len(arguments) == 3 else Path(__file__).with_name("correction_playback.png")
    render(Path(arguments[0]), arguments[1], target)
