"""Published dataset layouts read as manifests: TRUS-V and SUN-SEG.

Neither dataset can be bundled (both need registration); these readers let a user
point the trainer at the folder they downloaded.  File look-up is by dictionary, so
finding a frame's mask is O(1) however large the dataset.

* TRUS-V: ``images/<patient>_<frame>_<view>.png`` and ``masks/`` with the same names,
  view ``axi`` or ``sag``; one case per (patient, view).
* SUN-SEG: ``Frame/<case>/<name>.jpg`` and ``GT/<case>/<name>.png``; one case per folder.
"""

import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.sequence_io.image_folder import list_images, natural_key

from DTCTrainingLib.data.manifest import MANIFEST_NAME, Case, Manifest, ManifestError, load_manifest

_TRUSV_NAME = re.compile(r"^(?P<patient>.+)_(?P<frame>\d+)_(?P<view>axi|sag)$", re.IGNORECASE)
_TRUSV_VIEWS = {"axi": "axial", "sag": "sagittal"}


def _images_in(folder: Path) -> Dict[str, Path]:
    return {p.stem: p for p in list_images(folder)}


def _assign_splits(patients: Iterable[str], val: Iterable[str], test: Iterable[str]) -> Dict[str, str]:
    val, test = set(val), set(test)
    overlap = val & test
    if overlap:
        raise ManifestError(f"patients {sorted(overlap)} are named for both validation and test.",
                            fix="Name each patient in one split only.")
    return {p: "val" if p in val else "test" if p in test else "train" for p in patients}


def read_trusv(root: PathLike, val_patients: Iterable[str] = (), test_patients: Iterable[str] = ()) -> Manifest:
    """A TRUS-V folder (``images/``, ``masks/``) as a manifest with one case per patient and view.

    Frames without a mask are kept as unlabelled frames of their case.
    """
    root = Path(root)
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir():
        raise ManifestError("is not a TRUS-V folder: it has no images/ folder.", root,
                            "Point at the folder that holds images/ and masks/.")
    masks = _images_in(masks_dir) if masks_dir.is_dir() else {}
    groups: Dict[Tuple[str, str], List[Tuple[int, Path]]] = {}
    for stem, path in _images_in(images_dir).items():
        match = _TRUSV_NAME.match(stem)
        if not match:
            raise ManifestError(f"image {path.name!r} is not named <patient>_<frame>_<view>.png.", images_dir,
                                "Rename it or move it out of images/.")
        key = (match["patient"], _TRUSV_VIEWS[match["view"].lower()])
        groups.setdefault(key, []).append((int(match["frame"]), path))
    if not groups:
        raise ManifestError("has no images.", images_dir, "Add the TRUS-V frames to images/.")
    splits = _assign_splits({patient for patient, _ in groups}, val_patients, test_patients)
    cases = []
    for (patient, view), frames in sorted(groups.items()):
        frames.sort()
        paths = tuple(path for _, path in frames)
        mask_paths = tuple(masks.get(path.stem) for path in paths)
        labelled = tuple(i for i, mask in enumerate(mask_paths) if mask is not None)
        cases.append(Case(
            id=f"{patient}_{view}", patient=patient, view=view, split=splits[patient], frames=paths,
            masks=mask_paths if labelled else None, labelled_frames=labelled if labelled else None,
        ))
    return Manifest(root=root, name=root.name, cases=cases)


def read_sunseg(root: PathLike, val_cases: Iterable[str] = (), test_cases: Iterable[str] = ()) -> Manifest:
    """A SUN-SEG folder (``Frame/<case>/*.jpg``, ``GT/<case>/*.png``) as a manifest, one case per folder."""
    root = Path(root)
    frames_dir, masks_dir = root / "Frame", root / "GT"
    if not frames_dir.is_dir():
        raise ManifestError("is not a SUN-SEG folder: it has no Frame/ folder.", root,
                            "Point at the folder that holds Frame/ and GT/.")
    case_dirs = sorted((d for d in frames_dir.iterdir() if d.is_dir()), key=lambda d: natural_key(d.name))
    splits = _assign_splits([d.name for d in case_dirs], val_cases, test_cases)
    cases = []
    for case_dir in case_dirs:
        frames = _images_in(case_dir)
        if not frames:
            continue
        masks = _images_in(masks_dir / case_dir.name) if (masks_dir / case_dir.name).is_dir() else {}
        stems = sorted(frames, key=natural_key)
        mask_paths = tuple(masks.get(stem) for stem in stems)
        labelled = tuple(i for i, mask in enumerate(mask_paths) if mask is not None)
        cases.append(Case(
            id=case_dir.name, patient=case_dir.name, view="other", split=splits[case_dir.name],
            frames=tuple(frames[stem] for stem in stems),
            masks=mask_paths if labelled else None, labelled_frames=labelled if labelled else None,
        ))
    if not cases:
        raise ManifestError("has no frames.", frames_dir, "Add the SUN-SEG frames under Frame/<case>/.")
    return Manifest(root=root, name=root.name, cases=cases)


def load_dataset(path: PathLike, val: Iterable[str] = (), test: Iterable[str] = ()) -> Manifest:
    """Any training-data folder: a ``dataset.json`` manifest, a TRUS-V folder or a SUN-SEG folder.

    Args:
        path: the folder (or the manifest file).
        val, test: patients (TRUS-V) or cases (SUN-SEG) for validation and test; a
            manifest carries its own split and ignores these.
    """
    path = Path(path)
    if path.is_file() or (path / MANIFEST_NAME).is_file():
        return load_manifest(path)
    if (path / "images").is_dir():
        return read_trusv(path, val, test)
    if (path / "Frame").is_dir():
        return read_sunseg(path, val, test)
    raise ManifestError("is not a training-data folder.", path,
                        f"Point at a folder with {MANIFEST_NAME}, a TRUS-V folder (images/, masks/) "
                        "or a SUN-SEG folder (Frame/, GT/).")


def describe(manifest: Manifest) -> Dict[str, Optional[int]]:
    """Counts per split: cases and labelled cases."""
    counts: Dict[str, Optional[int]] = {}
    for split in ("train", "val", "test"):
        cases = manifest.split(split)
        counts[f"{split}_cases"] = len(cases)
        counts[f"{split}_labelled_cases"] = sum(case.is_labelled for case in cases)
    return counts
