"""Training-data folders described by a manifest, ``dataset.json`` (in the spirit of nnU-Net's).

A manifest lists cases (one recording each) with their frames, their masks (all frames,
some frames, or none: unlabelled video is what the student learns temporal consistency
from), the view and the patient, and a patient-level split::

    {
      "name": "simulated-trus",
      "format_version": 1,
      "labels": {"background": 0, "prostate": 1},
      "cases": [
        {"id": "p01_axial", "patient": "p01", "view": "axial", "split": "train",
         "frames": "p01_axial/images.seq.nrrd",
         "masks": "p01_axial/masks.seq.nrrd",
         "labelled_frames": [0, 10, 20]}
      ]
    }

``frames`` and ``masks`` are paths relative to the manifest's folder, to anything
``DTCSegmentationLib.sequence_io`` reads, or lists of single-frame image files (``masks``
then has one entry per frame, ``null`` where a frame is not annotated).
``labelled_frames`` (optional) says which frame indices of ``masks`` carry annotations;
without it every frame of ``masks`` does.

A case id names the case's files in reports (``curves_<id>.png``), so it is one plain file-name
component; every path stays inside the manifest's folder, so a dataset folder can be moved or
shared whole; and no recording belongs to two splits (that would leak test data into training).
"""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from DTCSegmentationLib.errors import DTCError, PathLike

MANIFEST_NAME = "dataset.json"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
VIEWS = ("axial", "sagittal", "other")


class ManifestError(DTCError):
    """A training-data manifest that is malformed or points at missing data."""


@dataclass(frozen=True)
class Case:
    """One recording of a training-data folder.

    Attributes:
        id: unique case name.
        patient: patient identifier (the unit of the split).
        view: ``axial``, ``sagittal`` or ``other``.
        split: ``train``, ``val`` or ``test``.
        frames: path of the frame sequence, or one image file per frame.
        masks: path of the mask sequence, one image file (or None) per frame, or None for
            unlabelled video.
        labelled_frames: indices of annotated frames in ``masks``; None means all.
    """

    id: str
    patient: str
    view: str
    split: str
    frames: Union[Path, Tuple[Path, ...]]
    masks: Union[None, Path, Tuple[Optional[Path], ...]] = None
    labelled_frames: Optional[Tuple[int, ...]] = None

    @property
    def is_labelled(self) -> bool:
        return self.masks is not None and (self.labelled_frames is None or len(self.labelled_frames) > 0)


@dataclass
class Manifest:
    """A parsed ``dataset.json``: the folder it lives in and its cases."""

    root: Path
    name: str
    cases: List[Case]
    labels: Dict[str, int] = field(default_factory=lambda: {"background": 0, "prostate": 1})

    def split(self, name: str) -> List[Case]:
        """The cases of split ``name`` (``train``, ``val`` or ``test``)."""
        return [case for case in self.cases if case.split == name]

    def to_json(self) -> dict:
        """The manifest document, with paths relative to :attr:`root`."""

        def relative(path):
            if isinstance(path, tuple):
                return [None if p is None else relative(p) for p in path]
            try:
                return Path(path).relative_to(self.root).as_posix()
            except ValueError:  # outside the root: kept as given
                return Path(path).as_posix()

        cases = []
        for case in self.cases:
            entry = {"id": case.id, "patient": case.patient, "view": case.view, "split": case.split,
                     "frames": relative(case.frames)}
            if case.masks is not None:
                entry["masks"] = relative(case.masks)
            if case.labelled_frames is not None:
                entry["labelled_frames"] = list(case.labelled_frames)
            cases.append(entry)
        return {"name": self.name, "format_version": FORMAT_VERSION, "labels": dict(self.labels), "cases": cases}


def manifest_path(path: PathLike) -> Path:
    """``path`` itself if it is a file, else ``path/dataset.json``."""
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def load_manifest(path: PathLike) -> Manifest:
    """Parse and structurally validate a manifest (a ``dataset.json`` or the folder holding it).

    Raises:
        ManifestError: naming the manifest, the case and the fix, for any malformed entry
            or a patient that appears in more than one split.
    """
    file = manifest_path(path)
    if not file.is_file():
        raise ManifestError("no dataset manifest found.", file, f"Create {MANIFEST_NAME} (see `dtc dataset --help`).")
    try:
        document = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"is not valid JSON ({error}).", file, "Fix the JSON syntax.") from None
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise ManifestError('has no "cases" list.', file, 'Add "cases": [...] with one entry per recording.')
    version = document.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ManifestError(f"has format_version {version}; this version reads {FORMAT_VERSION}.", file,
                            "Upgrade the DTC extension.")
    root = file.parent
    if not document["cases"]:
        raise ManifestError("lists no cases.", file, 'Add one entry per recording to "cases".')
    cases = [_parse_case(entry, index, root, file) for index, entry in enumerate(document["cases"])]
    _check_unique_ids(cases, file)
    _check_patient_split(cases, file)
    _check_recording_split(cases, file)
    labels = document.get("labels", {"background": 0, "prostate": 1})
    if not isinstance(labels, dict) or not all(isinstance(k, str) and type(v) is int for k, v in labels.items()):
        raise ManifestError(f"has labels {labels!r}.", file, 'Write them as {"background": 0, "prostate": 1}.')
    return Manifest(root=root, name=str(document.get("name", root.name)), cases=cases, labels=labels)


_UNSAFE_ID = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


def id_problem(case_id: str) -> str:
    """Why ``case_id`` cannot name a case's files ('' if it can): one file-name component on every system."""
    if _UNSAFE_ID.search(case_id):
        return 'contains one of / \\ : * ? " < > | or a control character'
    if case_id.startswith(".") or case_id != case_id.strip():
        return "starts with a dot or has spaces around it"
    return ""


def _parse_case(entry: object, index: int, root: Path, file: Path) -> Case:
    where = f"case #{index}"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} is not an object.", file, 'Write each case as {"id": ..., "frames": ...}.')
    case_id = str(entry.get("id", ""))
    where = f"case {case_id!r}" if case_id else where
    for key in ("id", "patient", "frames"):
        if not entry.get(key):
            raise ManifestError(f'{where} has no "{key}".', file, f'Add "{key}" to the case.')
    if id_problem(case_id):
        raise ManifestError(f"{where} has an id that {id_problem(case_id)}.", file,
                            "Use letters, digits, - and _ for case ids (they name the case's report files).")
    split = entry.get("split", "train")
    if split not in SPLITS:
        raise ManifestError(f"{where} has split {split!r}.", file, f"Use one of {', '.join(SPLITS)}.")
    view = entry.get("view", "other")
    if view not in VIEWS:
        raise ManifestError(f"{where} has view {view!r}.", file, f"Use one of {', '.join(VIEWS)}.")
    labelled = entry.get("labelled_frames")
    if labelled is not None:
        if entry.get("masks") is None:
            raise ManifestError(f'{where} lists labelled_frames but no "masks".', file, 'Add "masks" or drop the list.')
        if not isinstance(labelled, list) or not all(isinstance(i, int) and i >= 0 for i in labelled):
            raise ManifestError(f"{where} labelled_frames must be frame indices (integers >= 0).", file,
                                "Write them as a JSON list of integers.")
        labelled = tuple(sorted(set(labelled)))
    frames, masks = _resolve(entry["frames"], root, where, file), _resolve(entry.get("masks"), root, where, file)
    if isinstance(frames, tuple) and (not frames or None in frames):
        raise ManifestError(f"{where} lists frame files with gaps (null) or none at all.", file,
                            "List one image file per frame.")
    if isinstance(masks, tuple) and (not isinstance(frames, tuple) or len(masks) != len(frames)):
        raise ManifestError(f"{where} lists {len(masks)} mask files for {_count(frames)} frames.", file,
                            "Give one mask entry (or null) per frame file.")
    if isinstance(masks, tuple) and labelled is None:
        labelled = tuple(i for i, mask in enumerate(masks) if mask is not None)
    return Case(id=case_id, patient=str(entry["patient"]), view=view, split=split,
                frames=frames, masks=masks, labelled_frames=labelled)


def _resolve(value, root: Path, where: str, file: Path):
    if not value:
        return None
    if isinstance(value, list):
        return tuple(None if item is None else _inside(item, root, where, file) for item in value)
    return _inside(value, root, where, file)


def _inside(value, root: Path, where: str, file: Path) -> Path:
    """``root / value`` for a relative path that stays inside ``root`` (judged on the text: a symlinked data
    folder inside the dataset is fine)."""
    if not isinstance(value, str) or not value or "\x00" in value:  # no file system takes a NUL in a name
        raise ManifestError(f"{where} has the path {value!r}.", file, "Write frames and masks as paths (strings).")
    relative = os.path.normpath(value.replace("\\", "/"))
    if os.path.isabs(value) or Path(value).drive or relative == ".." or relative.startswith("../"):
        raise ManifestError(f"{where} points outside the dataset folder: {value!r}.", file,
                            "Keep every file inside the folder of dataset.json and write paths relative to it.")
    return root / value


def _count(frames) -> str:
    return str(len(frames)) if isinstance(frames, tuple) else "a sequence of"


def _check_unique_ids(cases: Sequence[Case], file: Path) -> None:
    seen = set()
    for case in cases:
        if case.id in seen:
            raise ManifestError(f"case id {case.id!r} appears twice.", file, "Give every case a unique id.")
        seen.add(case.id)


def _check_patient_split(cases: Sequence[Case], file: Path) -> None:
    splits: Dict[str, str] = {}
    for case in cases:
        other = splits.setdefault(case.patient, case.split)
        if other != case.split:
            raise ManifestError(
                f"patient {case.patient!r} is in both the {other!r} and the {case.split!r} split.", file,
                "Split by patient: put all cases of a patient in one split.",
            )


def recording_files(case: Case) -> Tuple[Path, ...]:
    """The frame files of ``case`` as resolved paths (one sequence file, or one image per frame)."""
    frames = case.frames if isinstance(case.frames, tuple) else (case.frames,)
    return tuple(Path(os.path.realpath(path)) for path in frames)


def _check_recording_split(cases: Sequence[Case], file: Path) -> None:
    owner: Dict[Path, Case] = {}
    for case in cases:
        for path in recording_files(case):
            other = owner.setdefault(path, case)
            if other.split != case.split:
                raise ManifestError(
                    f"cases {other.id!r} ({other.split}) and {case.id!r} ({case.split}) use the same frames "
                    f"{path.name}: one recording in two splits leaks what should be held out.", file,
                    "List each recording once, in one split.")


def write_manifest(manifest: Manifest, overwrite: bool = False) -> Path:
    """Write ``manifest`` as ``root/dataset.json`` atomically; returns the path."""
    from DTCSegmentationLib.atomic import atomic_output

    target = manifest.root / MANIFEST_NAME
    with atomic_output(target, overwrite=overwrite) as temporary:
        temporary.write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return target
