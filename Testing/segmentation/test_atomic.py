"""Output folders: created when missing, removed again when the block fails, shared with a process that races us."""

from pathlib import Path

import pytest
from DTCSegmentationLib.atomic import output_folder
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
