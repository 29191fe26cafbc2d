"""Atomic outputs (temporaries named like their targets) and output folders: created when missing, removed again when
the block fails, shared with a process that races us."""

from pathlib import Path

import pytest
from DTCSegmentationLib.atomic import atomic_output, output_folder
from DTCSegmentationLib.errors import DTCError


def test_a_folder_another_process_makes_between_the_check_and_mkdir_is_used_not_refused(tmp_path, monkeypatch):
    # Both ranks of a DDP run open the same run folder at once: one of them loses the mkdir race.
    real_mkdir = Path.mkdir

    def made_by_the_other_rank(self, *args, **kwargs):
        real_mkdir(self)
        raise FileExistsError(17, "File exists", str(self))

    target = tmp_path / "run" / "teacher"
    monkeypatch.setattr(Path, "mkdir", made_by_the_other_rank)
    with output_folder(target) as folder:
        (folder / "out.txt").write_text("kept")
    assert (target / "out.txt").read_text() == "kept"


def test_a_failed_block_removes_only_the_folders_it_made_and_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "existing").mkdir()
    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "existing" / "new" / "deeper"):
            raise RuntimeError("interrupted")
    assert (tmp_path / "existing").is_dir() and not (tmp_path / "existing" / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(DTCError, match="this is a file"):
        with output_folder(tmp_path / "file" / "sub"):
            pass


def test_the_temporary_keeps_the_targets_suffix_so_suffix_driven_writers_write_its_format(tmp_path):
    import numpy as np
    import SimpleITK as sitk

    values = np.arange(6, dtype=np.uint8).reshape(2, 3)
    with atomic_output(tmp_path / "a.npy") as temporary:
        np.save(temporary, values)  # appends ".npy" to any name that does not end in it
    with atomic_output(tmp_path / "b.nii.gz") as temporary:
        sitk.WriteImage(sitk.GetImageFromArray(values), str(temporary))  # the writer follows the suffix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.nii.gz"]
    assert np.array_equal(np.load(tmp_path / "a.npy"), values)
    assert (tmp_path / "b.nii.gz").read_bytes()[:2] == b"\x1f\x8b"  # gzip, as the name says
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "b.nii.gz"))), values)
