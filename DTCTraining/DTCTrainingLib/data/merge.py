"""One training-data folder from several: real sweeps, simulated sweeps and one's own recordings together.

Each source folder is copied (hard-linked where the file system allows, so nothing is
duplicated on disk) under ``out/<prefix>/`` with its own layout, and its cases join the merged
``dataset.json`` with ids and patients prefixed (``<prefix>/`` would be a path, so
``<prefix>_<id>``): patients of different sources stay distinct, splits are kept as they were.
"""

import json
import os
import shutil
from pathlib import Path
from typing import List, Optional, Sequence

from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import DTCError, PathLike
from DTCSegmentationLib.sequence_io.naming import safe_name

from DTCTrainingLib.data.manifest import MANIFEST_NAME, Case, Manifest, load_manifest


def merge_datasets(sources: Sequence[PathLike], out: PathLike, prefixes: Optional[Sequence[str]] = None,
                   name: str = "merged", overwrite: bool = False) -> Path:
    """Write ``out/dataset.json`` listing every case of the manifest folders ``sources``.

    Args:
        sources: training-data folders with a ``dataset.json`` (or the manifests themselves).
        prefixes: one name per source (default: each folder's name); must be distinct.
    Returns:
        The merged manifest's path. The folder appears only when complete.
    Raises:
        DTCError: a source without a manifest, a case whose files lie outside its source folder,
            or prefixes that are not one distinct name per source.
    """
    manifests = [load_manifest(source) for source in sources]
    prefixes = [safe_name(p) for p in (prefixes or [m.root.resolve().name for m in manifests])]
    if len(prefixes) != len(manifests) or len(set(prefixes)) != len(prefixes):
        raise DTCError(f"prefixes {prefixes} are not one distinct name per source.",
                       fix="Give one --prefix per source, all different (or sources in differently named folders).")
    out = Path(out)
    with atomic_output(out, overwrite=overwrite, directory=True) as folder:
        cases: List[Case] = []
        for manifest, prefix in zip(manifests, prefixes):
            for case in manifest.cases:
                cases.append(copied_case(case, manifest.root, folder / prefix, prefix, out / prefix))
        # paths relative to the final folder: the manifest is written inside the temporary one
        document = Manifest(root=out, name=name, cases=cases).to_json()
        (folder / MANIFEST_NAME).write_text(json.dumps(document, indent=2) + "\n")
    return out / "dataset.json"


def copied_case(case: Case, source_root: Path, target_root: Path, prefix: str, final_root: Path) -> Case:
    """``case`` of the folder ``source_root`` linked or copied under ``target_root`` (which becomes
    ``final_root`` when the output folder is complete), with id and patient prefixed ``<prefix>_``."""
    def copy(path: Optional[Path]) -> Optional[Path]:
        if path is None:
            return None
        relative = _inside(path, source_root, case.id)
        target = target_root / relative
        if not target.exists():
            _link_or_copy(path, target)
        return final_root / relative

    def copy_all(value):
        return tuple(copy(p) for p in value) if isinstance(value, tuple) else copy(value)

    return Case(id=f"{prefix}_{case.id}", patient=f"{prefix}_{case.patient}", view=case.view, split=case.split,
                frames=copy_all(case.frames), masks=copy_all(case.masks), labelled_frames=case.labelled_frames)


def _inside(path: Path, root: Path, case_id: str) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        raise DTCError(f"case {case_id!r} uses {path}, outside its dataset folder.", root / "dataset.json",
                       "Keep every case's files inside the dataset folder (or merge by hand).") from None


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy_file)
    else:
        _link_or_copy_file(source, target)


def _link_or_copy_file(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)

