"""A training-data folder of simulated TRUS sweeps: the built-in data for the default model and tests."""

from pathlib import Path
from typing import Optional

from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.sequence_io import open_writer
from DTCSegmentationLib.simulation import SimulationConfig, TrusSimulator
from tqdm import tqdm

from DTCTrainingLib.data.manifest import Case, Manifest, write_manifest


def make_simulated_dataset(out: PathLike, cases: int = 8, frames: int = 40, height: int = 256, width: int = 448,
                           labelled_every: int = 1, val_cases: int = 2, test_cases: int = 0, seed: int = 0,
                           difficulty: str = "default", overwrite: bool = False, progress: Optional[bool] = None,
                           style: str = "classic") -> Path:
    """Write ``cases`` simulated recordings (alternating axial and sagittal) and their ``dataset.json``.

    Each case is its own patient (seed ``seed + index``); the last ``val_cases`` and
    ``test_cases`` cases form the validation and test splits.  Only every
    ``labelled_every``-th frame is listed as annotated, to mimic sparse video labels.
    ``style`` is the simulator's look (``classic`` or ``clinical``, see
    :mod:`DTCSegmentationLib.simulation.config`).  Returns the manifest path.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for index in tqdm(range(cases), desc="simulate dataset", unit="case", disable=progress is False or None):
        view = "axial" if index % 2 == 0 else "sagittal"
        split = "test" if index >= cases - test_cases else "val" if index >= cases - test_cases - val_cases else "train"
        config = SimulationConfig(view=view, num_frames=frames, height=height, width=width, seed=seed + index,
                                  difficulty=difficulty, style=style)
        simulator = TrusSimulator(config)
        folder = out / f"case{index:03d}_{view}"
        folder.mkdir(exist_ok=True)
        geometry = simulator.scan.frame_geometry
        with open_writer(folder / "images.seq.nrrd", geometry, "image", config.frame_rate, overwrite) as images, \
                open_writer(folder / "masks.seq.nrrd", geometry, "labelmap", config.frame_rate, overwrite) as masks:
            for frame in simulator.frames():
                images.write(frame.image, frame.time)
                masks.write(frame.mask, frame.time)
        entries.append(Case(
            id=folder.name, patient=f"sim{seed + index:04d}", view=view, split=split,
            frames=folder / "images.seq.nrrd", masks=folder / "masks.seq.nrrd",
            labelled_frames=tuple(range(0, frames, labelled_every)) if labelled_every > 1 else None,
        ))
    return write_manifest(Manifest(root=out, name=f"simulated-trus-seed{seed}", cases=entries), overwrite=overwrite)
