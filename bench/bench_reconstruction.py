"""The gland in 3D from virtual sweeps through the real 3D TRUS validation volumes: volume and surface accuracy.

For each validation case (obs064-obs071 only: never a case the model could be tested on later), the
importer (``DTCTrainingLib.data.volume_sweeps.make_sweep``, the flags the shipped model's real sweeps
were made with: ``--label-channel 0 --probe-axis +k --probe-side +i --pixel-mm 1.1 --size 128x160``,
seed 0, with ``--frames`` frames) makes a rotational and an axial sweep; the sweep's masks are compounded
into 3D with the sweep's per-frame poses (``DTCSegmentationLib.reconstruction``) on the label's own grid,
and compared with the label: volume error against the label's own volume (labelled voxels x voxel
volume), Dice, mean symmetric surface distance and HD95 (mm).  Three mask sources: the true masks
(target: volume within 3 %), the shipped model's masks (target: within 10 %), and the model's masks
with only the largest 3D connected component kept; as a diagnostic (it uses the truth, so it is no
method), the model's masks on the frames whose true mask shows the gland only, which separates the
error of masks beyond the gland's ends from the error of the outlines.  A third row per case intersects the rotational and
the axial reconstruction (both sweeps of a patient lie in the same volume space, as two tracked sweeps
in one tracker space do): a voxel is gland only where both sweeps say so.

Prints JSON.

    python bench/bench_reconstruction.py MRUS_DIR [--frames 80] [--cases obs064 ...] [--model FILE]

(MRUS_DIR holds ``fixed_images/obsNNN.nii.gz`` and ``fixed_labels/obsNNN.nii.gz``.)
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from DTCSegmentationLib.inference.segmenter import Segmenter
from DTCSegmentationLib.networks.default_model import default_model_path
from DTCSegmentationLib.reconstruction.accuracy import compare_to_label
from DTCSegmentationLib.reconstruction.compounding import compound_masks
from DTCTrainingLib.data.volume_sweeps import SweepSettings, case_seed, make_sweep, read_label, read_volume

VALIDATION = tuple(f"obs{n:03d}" for n in range(64, 72))
TARGETS = {"truth": 3.0, "model": 10.0, "model_largest_component": 10.0, "model_on_gland_frames": 10.0}


def _rounded(metrics):
    return {key: round(float(value), 3) for key, value in metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="folder with fixed_images/ and fixed_labels/")
    parser.add_argument("--cases", nargs="+", default=list(VALIDATION))
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--model", type=Path, default=default_model_path())
    args = parser.parse_args()
    unknown = [case for case in args.cases if case not in VALIDATION]
    if unknown:
        parser.error(f"only the validation cases {VALIDATION[0]}-{VALIDATION[-1]} may be used, not {unknown}")
    segmenter = Segmenter.from_file(args.model, device="cpu")
    rows = []
    for case in args.cases:
        image = read_volume(args.data / "fixed_images" / f"{case}.nii.gz")
        label = read_label(args.data / "fixed_labels" / f"{case}.nii.gz", image, channel=0)
        made = {}
        for kind in ("rotational", "axial"):
            settings = SweepSettings(kind=kind, frames=args.frames, height=128, width=160, pixel_mm=1.1,
                                     probe_axis="+k", probe_side="+i")
            sweep = make_sweep(image, label, settings, seed=case_seed(0, case, kind))
            predicted = np.stack([result.mask for result in segmenter.segment_stream(sweep.images)])
            row = {"case": case, "kind": kind, "frames": args.frames}
            on_gland = predicted * sweep.masks.reshape(len(predicted), -1).any(1)[:, None, None]
            for source, masks, largest in (("truth", sweep.masks, False), ("model", predicted, False),
                                           ("model_largest_component", predicted, True),
                                           ("model_on_gland_frames", on_gland, False)):
                started = time.perf_counter()
                reconstruction = compound_masks(masks, sweep.frame_to_volume, reference=label,
                                                largest_component=largest)
                seconds = time.perf_counter() - started
                row[source] = dict(_rounded(compare_to_label(reconstruction.labelmap, label)),
                                   frames_with_gland=reconstruction.frames_with_gland, seconds=round(seconds, 2))
                made[kind, source] = reconstruction.labelmap
            rows.append(row)
            print(json.dumps(row), flush=True)
        row = {"case": case, "kind": "rotational and axial", "frames": 2 * args.frames}
        for source in TARGETS:
            both = sitk.And(made["rotational", source], made["axial", source])
            row[source] = _rounded(compare_to_label(both, label))
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {}
    for (kind, source), target in ((key, TARGETS[key[1]]) for key in
                                   ((kind, source) for kind in ("single sweep", "rotational and axial")
                                    for source in TARGETS)):
        chosen = [row for row in rows if (row["kind"] == "rotational and axial") == (kind != "single sweep")]
        errors = np.array([row[source]["volume_error_percent"] for row in chosen])
        summary[f"{source}, {kind}"] = {
            "target_percent": target,
            "mean_abs_volume_error_percent": round(float(np.mean(np.abs(errors))), 2),
            "max_abs_volume_error_percent": round(float(np.max(np.abs(errors))), 2),
            "within_target": int(np.sum(np.abs(errors) <= target)), "reconstructions": len(chosen),
            "mean_dice": round(float(np.mean([row[source]["dice"] for row in chosen])), 3),
            "mean_surface_mm": round(float(np.nanmean([row[source]["mean_surface_mm"] for row in chosen])), 2),
            "mean_hd95_mm": round(float(np.nanmean([row[source]["hd95_mm"] for row in chosen])), 2),
        }
    print(json.dumps({"data": "virtual sweeps through the real 3D TRUS validation volumes " + ", ".join(args.cases),
                      "settings": {"frames": args.frames, "size": "128x160", "pixel_mm": 1.1,
                                   "probe_axis": "+k", "probe_side": "+i", "grid": "the label's own grid"},
                      "model": str(args.model), "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
