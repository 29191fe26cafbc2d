"""Fuzzing the recording readers (issue #14): random and mutated ``.seq.nrrd``, ``.nii.gz``, PNG folders and PLUS
``.igs.mha`` files, headers and bodies.

Every file must read completely (frames of the announced shape, one finite non-decreasing time each) or fail
with one :class:`DTCError` naming it - never another exception, a hang, or memory beyond twice the input.
"""

import gzip
import json
import re
import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import DTCSegmentationLib.inference.pipeline  # noqa: F401  (these are imported here, not under the
import DTCSegmentationLib.sequence_io.image_folder  # noqa: F401  fuzz harness's memory tracing, which
import DTCSegmentationLib.sequence_io.nifti  # noqa: F401  would count their import and slow it down)
import DTCSegmentationLib.sequence_io.nrrd  # noqa: F401
import DTCSegmentationLib.sequence_io.plus_metafile  # noqa: F401
import numpy as np
import pytest
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.sequence_io import open_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameSequence
from hypothesis import given, settings
from hypothesis import strategies as st
from samples import (
    assert_one_error_line,
    assert_success_or_one_error_line,
    bounded,
    memory_allowance,
    partial_outputs,
    run_dtc,
    tiny_model_file,
)

pytestmark = pytest.mark.fuzz

TIME_LIMIT = 20.0  # seconds for reading one small file: far beyond any honest read, short of a hang

# --- building blocks -----------------------------------------------------------------------------------------

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int16, np.float32])
SPECIAL_NUMBERS = ["0", "-1", "1", "nan", "inf", "-inf", "1e308", "4294967296", "2147483647", "-0", "3.5", ""]
TOKENS = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS + ["none", "???", "(0,0,0)", "(nan,1,0)", "(1,0)", "(1,0,0,0)", "LOCAL", "../x",
                                        "/dev/null", "raw", "gzip", "bzip2", "big", "little", "list", "domain",
                                        "RGB-color", "vector", "MET_FLOAT", "MET_UCHAR", "True", "False"]),
    st.lists(st.sampled_from(SPECIAL_NUMBERS + ["2", "3", "16", "100000"]), min_size=1, max_size=5).map(" ".join),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=4).map(
        lambda values: "(" + ",".join(repr(v) for v in values) + ")"),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=16),
)


@st.composite
def frame_stacks(draw, max_side=10):
    """``(T, H, W[, 3])`` frames of a random small size and type."""
    count, height, width = draw(st.integers(1, 4)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    dtype = np.dtype(draw(DTYPES))
    rgb = dtype == np.uint8 and draw(st.booleans())
    shape = (count, height, width, 3) if rgb else (count, height, width)
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).random(shape)
    if dtype.kind == "f":
        scale = draw(st.sampled_from([1.0, 255.0, 4000.0]))
        return (values * scale).astype(dtype)
    return (values * np.iinfo(dtype).max).astype(dtype)


MUTATIONS = st.lists(st.one_of(
    st.tuples(st.just("set"), st.integers(0, 40), TOKENS),
    st.tuples(st.just("drop"), st.integers(0, 40), st.just("")),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just("")),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("append"), st.binary(max_size=64), st.just("")),
), max_size=4)


def mutate_bytes(data: bytes, mutations, header_end: int, set_line) -> bytes:
    """Apply header-line and byte mutations; ``set_line(lines, index, token)`` edits one header line."""
    head, body = data[:header_end], data[header_end:]
    lines = head.decode("latin-1").split("\n")
    for kind, where, what in mutations:
        if kind == "set":
            set_line(lines, where % max(len(lines), 1), what)
        elif kind == "drop" and lines:
            del lines[where % len(lines)]
    data = "\n".join(lines).encode("latin-1", "replace") + body
    for kind, where, what in mutations:
        if kind == "truncate":
            data = data[: int(len(data) * where)]
        elif kind == "flip" and data:
            index = min(int(len(data) * where), len(data) - 1)
            data = data[:index] + bytes([data[index] ^ what]) + data[index + 1:]
        elif kind == "append":
            data += where
    return data


def check_read(path: Path, inputs) -> None:
    """The property: ``path`` reads whole and consistently, or fails with one DTCError naming it."""
    with bounded(TIME_LIMIT, memory_allowance(*inputs)):
        try:
            with open_sequence(path) as reader:
                count = 0
                for frame in reader:
                    assert frame.shape == tuple(reader.frame_shape) and frame.dtype == reader.dtype
                    count += 1
                times = reader.frame_times
        except DTCError as error:
            assert_one_error_line(error)
            assert str(error).startswith(str(path)), str(error)
            return
    assert count >= 1
    if times is not None:
        assert len(times) == count and np.all(np.isfinite(times)) and np.all(np.diff(times) >= 0)


# --- recipes: how to build one fuzzed recording in a folder (drawn by Hypothesis, built in the test) ---------

def seq_nrrd_bytes(folder: Path, frames: np.ndarray, raw: bool) -> bytes:
    times = np.cumsum(np.r_[0.0, np.full(len(frames) - 1, 0.05)])
    data = write_sequence(folder / "base.seq.nrrd", FrameSequence(frames, frame_times=times)).read_bytes()
    (folder / "base.seq.nrrd").unlink()
    if raw:
        head, _, body = data.partition(b"\n\n")
        data = head.replace(b"encoding: gzip", b"encoding: raw") + b"\n\n" + gzip.decompress(body)
    return data


def set_nrrd_line(lines, index, token):
    if lines:
        key = re.split(r":=?", lines[index], maxsplit=1)[0]
        lines[index] = f"{key}{':=' if ':=' in lines[index] else ': '}{token}"


def mutated_seq_nrrd(folder: Path, frames, raw, mutations):
    data = seq_nrrd_bytes(folder, frames, raw)
    mutated = mutate_bytes(data, mutations, data.index(b"\n\n") + 1, set_nrrd_line)
    (folder / "fuzz.seq.nrrd").write_bytes(mutated)
    return folder / "fuzz.seq.nrrd", [mutated]


NRRD_FIELDS = ["type", "dimension", "space", "sizes", "space directions", "kinds", "endian", "encoding", "space origin",
               "line skip", "byte skip", "data file", "labels", "units"]


def random_seq_nrrd(folder: Path, fields, times, body, gzipped):
    lines = ["NRRD0004"] + [f"{key}: {value}" for key, value in fields.items()]
    if times is not None:
        lines.append(f"axis 3 index values:={times}")
    data = ("\n".join(lines) + "\n\n").encode("utf-8", "replace") + (gzip.compress(body) if gzipped else body)
    (folder / "random.seq.nrrd").write_bytes(data)
    return folder / "random.seq.nrrd", [data, body]


# (offset, struct format) of the NIfTI-1 header fields a damaged or hostile file may get wrong
NIFTI_FIELDS = [(0, "<i"), (40, "<8h"), (70, "<h"), (72, "<h"), (76, "<8f"), (108, "<f"), (112, "<f"), (116, "<f"),
                (123, "<B"), (252, "<h"), (254, "<h"), (256, "<3f"), (268, "<3f"), (280, "<4f"), (296, "<4f"),
                (312, "<4f"), (344, "<4s")]
NIFTI_VALUES = st.one_of(st.integers(-(2**15), 2**15 - 1), st.floats(allow_nan=True, allow_infinity=True, width=32),
                         st.sampled_from([0, 1, 2, 3, 4, 5, 1000, 65535, 7, 128, 2304]))


def pack_field(fmt: str, values):
    kind = fmt[-1]
    count = 1 if kind == "s" else struct.calcsize(fmt) // struct.calcsize("<" + kind)
    converted = []
    for value in (values + [values[-1]] * count)[:count]:
        if kind in "hiB":
            low, high = {"h": (-(2**15), 2**15 - 1), "i": (-(2**31), 2**31 - 1), "B": (0, 255)}[kind]
            converted.append(int(min(max(value if np.isfinite(value) else 0, low), high)))
        elif kind == "f":
            converted.append(float(value))
        else:
            converted.append(b"n+1\x00" if value else b"ni1\x00")
    return struct.pack(fmt, *converted)


def mutated_nifti(folder: Path, frames, gzipped, fields, cut, garble, noise):
    if noise is not None:
        data = noise
    else:
        written = write_sequence(folder / "base.nii", FrameSequence(frames, frame_times=np.arange(len(frames)) * 0.1))
        data = bytearray(written.read_bytes())
        written.unlink()
        for (offset, fmt), values in fields:
            data[offset:offset + struct.calcsize(fmt)] = pack_field(fmt, values)
        if cut is not None:
            data = data[: int(len(data) * cut)]
        data = bytes(data)
    if gzipped:
        data = gzip.compress(data)
        if garble and len(data) > 20:
            data = data[:10] + bytes(b ^ 0x5A for b in data[10:20]) + data[20:]
    path = folder / ("fuzz.nii.gz" if gzipped else "fuzz.nii")
    path.write_bytes(data)
    return path, [data]


@st.composite
def png_files(draw):
    """One PNG file's bytes: a valid image, possibly with a lying header, cut short, flipped or pure noise."""
    kind = draw(st.sampled_from(["valid", "valid", "lying size", "truncated", "flipped", "noise"]))
    if kind == "noise":
        return draw(st.binary(max_size=256))
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    dtype = draw(st.sampled_from([np.uint8, np.uint16]))
    channels = draw(st.sampled_from([1, 3, 4]))
    image = np.random.default_rng(draw(st.integers(0, 999))).integers(0, np.iinfo(dtype).max, (height, width, channels))
    data = cv2.imencode(".png", image.astype(dtype).squeeze())[1].tobytes()
    if kind == "lying size":  # with a valid CRC, so that only the size gives it away
        ihdr = struct.pack(">II", draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**31 - 1))) + data[24:29]
        data = data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]
    elif kind == "truncated":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "flipped":
        index = draw(st.integers(0, len(data) - 1))
        data = data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1:]
    return data


def png_folder(folder: Path, files):
    (folder / "frames").mkdir()
    for index, data in enumerate(files):
        (folder / "frames" / f"frame_{index:03d}.png").write_bytes(data)
    return folder / "frames", files


PLUS_FIELDS = ["NDims", "DimSize", "ElementType", "ElementNumberOfChannels", "ElementSpacing", "Offset",
               "TransformMatrix", "CompressedData", "BinaryDataByteOrderMSB", "ElementDataFile"]
MET_TYPES = {np.dtype(np.uint8): "MET_UCHAR", np.dtype(np.uint16): "MET_USHORT", np.dtype(np.int16): "MET_SHORT",
             np.dtype(np.float32): "MET_FLOAT"}


def plus_metafile(folder: Path, frames, compressed, fields, stamps, statuses, mutations):
    count, height, width = frames.shape[:3]
    header = {"ObjectType": "Image", "NDims": "3", "BinaryData": "True", "BinaryDataByteOrderMSB": "False",
              "CompressedData": str(compressed), "DimSize": f"{width} {height} {count}",
              "ElementType": MET_TYPES[frames.dtype], "ElementNumberOfChannels": str(frames.shape[3] if frames.ndim == 4 else 1),
              "ElementSpacing": "0.2 0.3 1", "Offset": "0 0 0", "TransformMatrix": "1 0 0 0 1 0 0 0 1"}
    header.update(fields)
    lines = [f"{key} = {value}" for key, value in header.items() if key != "ElementDataFile"]
    lines += [f"Seq_Frame{index:04d}_Timestamp = {stamp}" for index, stamp in enumerate(stamps) if stamp is not None]
    lines += [f"Seq_Frame{index:04d}_ImageStatus = {status}" for index, status in enumerate(statuses)]
    lines.append(f"ElementDataFile = {header.get('ElementDataFile', 'LOCAL')}")
    payload = zlib.compress(frames.tobytes()) if compressed else frames.tobytes()
    head = ("\n".join(lines) + "\n").encode("utf-8", "replace")
    data = mutate_bytes(head + payload, mutations, len(head), lambda *_: None)
    (folder / "fuzz.igs.mha").write_bytes(data)
    return folder / "fuzz.igs.mha", [data, frames.tobytes()]


def recipe(build, **parameters):
    return st.fixed_dictionaries(parameters).map(lambda drawn: (build, drawn))


NRRD_MUTATED = recipe(mutated_seq_nrrd, frames=frame_stacks(), raw=st.booleans(), mutations=MUTATIONS)
NRRD_RANDOM = recipe(random_seq_nrrd, fields=st.dictionaries(st.sampled_from(NRRD_FIELDS), TOKENS, max_size=len(NRRD_FIELDS)),
                     times=st.one_of(st.none(), TOKENS), body=st.binary(max_size=512), gzipped=st.booleans())
NIFTI = recipe(mutated_nifti, frames=frame_stacks(), gzipped=st.booleans(),
               fields=st.lists(st.tuples(st.sampled_from(NIFTI_FIELDS), st.lists(NIFTI_VALUES, min_size=1, max_size=8)),
                               max_size=4),
               cut=st.one_of(st.none(), st.floats(0, 1)), garble=st.booleans(),
               noise=st.one_of(st.none(), st.none(), st.binary(max_size=400)))
PNG_FOLDER = recipe(png_folder, files=st.lists(png_files(), min_size=1, max_size=4))
PLUS = recipe(plus_metafile, frames=frame_stacks(), compressed=st.booleans(),
              fields=st.dictionaries(st.sampled_from(PLUS_FIELDS), TOKENS, max_size=4),
              stamps=st.lists(st.one_of(st.none(), TOKENS, st.floats(allow_nan=True, allow_infinity=True)), max_size=5),
              statuses=st.lists(st.sampled_from(["OK", "INVALID", "ok", "", "??"]), max_size=5),
              mutations=MUTATIONS.filter(lambda ms: all(kind not in ("set", "drop") for kind, _, _ in ms)))


def check_recipe(made) -> None:
    build, parameters = made
    with tempfile.TemporaryDirectory() as folder:
        path, inputs = build(Path(folder), **parameters)
        check_read(path, inputs)


@given(made=NRRD_MUTATED)
def test_mutated_seq_nrrd_reads_or_fails_in_one_line(made):
    check_recipe(made)


@given(made=NRRD_RANDOM)
def test_random_nrrd_headers_read_or_fail_in_one_line(made):
    check_recipe(made)


@given(made=NIFTI)
def test_mutated_or_random_nifti_reads_or_fails_in_one_line(made):
    check_recipe(made)


@given(made=PNG_FOLDER)
def test_png_folders_read_or_fail_in_one_line(made):
    check_recipe(made)


@given(made=PLUS)
def test_plus_metafiles_read_or_fail_in_one_line(made):
    check_recipe(made)


# --- the command line on a damaged recording -----------------------------------------------------------------

@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("model") / "m.safetensors", input_size=(32, 48))


@settings(max_examples=max(4, settings().max_examples // 3))  # each example loads a model and segments
@given(made=st.one_of(NRRD_MUTATED, NRRD_RANDOM, NIFTI, PNG_FOLDER, PLUS))
def test_dtc_segment_on_a_damaged_recording_succeeds_or_says_why_in_one_line(model, made):
    build, parameters = made
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path, inputs = build(folder, **parameters)
        out = folder / "out"
        with bounded(60.0, memory_allowance(*inputs, floor=256 << 20)):
            status, summary, err = run_dtc(["segment", path, "--model", model, "--out", out, "--backend", "eager",
                                            "--device", "cpu"])
        assert_success_or_one_error_line(status, err, "segment")
        if status == 0:
            assert Path(json.loads(summary)["masks"]).is_file()
        else:
            assert not out.exists()
        assert partial_outputs(folder) == []
