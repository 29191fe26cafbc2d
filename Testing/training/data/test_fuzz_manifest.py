"""Fuzzing training-data manifests (issue #14): random and mutated ``dataset.json`` documents through
`dtc dataset check` and the loader every command uses.

Every document must be read (a report on stdout: exit 0 without problems, 2 with) or refused in one error line
naming it - never another exception or a hang - and checking writes nothing.
"""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.sequence_io import write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from DTCTrainingLib.data.layouts import load_dataset
from hypothesis import given
from hypothesis import strategies as st
from samples import assert_one_error_line, assert_success_or_one_error_line, bounded, run_dtc

pytestmark = pytest.mark.fuzz

JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=12),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                      max_size=4), max_leaves=12)
IDS = st.one_of(st.sampled_from(["c0", "c1", "case 2", "../evil", "a/b", "..", ".", ".hidden", "c:d", "", " x", "c0"]),
                st.text(max_size=10), st.integers(), st.none())
PATHS = st.sampled_from(["c0/images.seq.nrrd", "c0/masks.seq.nrrd", "c1/images.seq.nrrd", "c1/masks.seq.nrrd",
                         "c0/frame.png", "c1/bad.seq.nrrd", "missing.seq.nrrd", "../c0/images.seq.nrrd", "/etc/passwd",
                         "c0", "c0/../c0/images.seq.nrrd", "", "c0\\images.seq.nrrd", "dataset.json"])
PATH_VALUES = st.one_of(PATHS, st.lists(st.one_of(PATHS, st.none()), max_size=5), JSON)


@st.composite
def cases(draw):
    case = {}
    for key in draw(st.lists(st.sampled_from(["id", "patient", "view", "split", "frames", "masks", "labelled_frames",
                                              "extra"]), unique=True, max_size=8)):
        if key == "id":
            case[key] = draw(IDS)
        elif key == "patient":
            case[key] = draw(st.one_of(st.sampled_from(["p0", "p1", "p2"]), JSON))
        elif key == "view":
            case[key] = draw(st.one_of(st.sampled_from(["axial", "sagittal", "other"]), JSON))
        elif key == "split":
            case[key] = draw(st.one_of(st.sampled_from(["train", "val", "test"]), JSON))
        elif key in ("frames", "masks"):
            case[key] = draw(PATH_VALUES)
        elif key == "labelled_frames":
            case[key] = draw(st.one_of(st.lists(st.integers(-2, 6), max_size=6), JSON))
        else:
            case[key] = draw(JSON)
    return case


def plausible_case(index):
    return {"id": f"c{index}", "patient": f"p{index}", "split": ["train", "val"][index], "frames": f"c{index}/images.seq.nrrd",
            "masks": f"c{index}/masks.seq.nrrd"}


DOCUMENTS = st.one_of(
    JSON,
    st.fixed_dictionaries({"cases": st.lists(cases(), max_size=4)},
                          optional={"name": JSON, "format_version": st.one_of(st.just(1), JSON), "labels": JSON}),
    # a good manifest with one field of one case replaced
    st.tuples(st.integers(0, 1), st.sampled_from(["id", "patient", "view", "split", "frames", "masks", "labelled_frames"]),
              st.one_of(IDS, PATH_VALUES, JSON)).map(
        lambda edit: {"cases": [dict(plausible_case(i), **({edit[1]: edit[2]} if i == edit[0] else {})) for i in (0, 1)]}),
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two small cases (frames, masks, a PNG frame and a damaged sequence) to point manifests at."""
    folder = tmp_path_factory.mktemp("cases")
    rng = np.random.default_rng(0)
    for index in (0, 1):
        (folder / f"c{index}").mkdir()
        write_sequence(folder / f"c{index}" / "images.seq.nrrd", FrameSequence(rng.integers(0, 255, (3, 16, 20), np.uint8)))
        masks = np.zeros((3, 16, 20), np.uint8)
        masks[:, 4:12, 5:15] = index + 1
        write_sequence(folder / f"c{index}" / "masks.seq.nrrd", FrameSequence(masks), kind="labelmap")
    (folder / "c0" / "frame.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (folder / "c1" / "bad.seq.nrrd").write_bytes(b"NRRD0004\nsizes: 99 99 99\n\n")
    return folder


@given(document=DOCUMENTS, as_text=st.one_of(st.none(), st.text(max_size=40)))
def test_any_manifest_is_checked_or_refused_in_one_line(files, document, as_text):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder) / "data"
        shutil.copytree(files, folder)
        text = as_text if as_text is not None else json.dumps(document)
        (folder / "dataset.json").write_text(text)
        before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
        with bounded(30.0, 64 << 20):
            status, out, err = run_dtc(["dataset", "check", folder])
            if not assert_success_or_one_error_line(status, err, "dataset", report_on_2=True):
                # a report, with or without problems
                report = json.loads(out)
                assert (status == 0) == (report["problems"] == [])
            for split in ("train", "val", "test"):
                try:
                    cases = load_dataset(folder).split(split)
                except DTCError as error:
                    assert_one_error_line(error)
                    assert status == 2
                    break
                for case in cases:  # what the loader lets through is safe to name files after and stays inside
                    assert "/" not in case.id and "\\" not in case.id and not case.id.startswith(".")
                    paths = case.frames if isinstance(case.frames, tuple) else (case.frames,)
                    assert all(folder in Path(p).parents for p in paths if p is not None)
        assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
