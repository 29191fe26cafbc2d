"""Fuzzing training settings (issue #14): random ``--set section.field=value`` overrides.

Every set of overrides must give a configuration that saves and loads back equal, or be refused in one line;
`dtc train` refuses bad ones before a run folder exists, and leaves none behind when the data is missing.
"""

import json
import math
import tempfile
from pathlib import Path

import DTCTrainingLib.trainer  # noqa: F401  (imported here, not under the fuzz harness's memory tracing)
import pytest
from DTCTrainingLib.config import ConfigError, config_fields, load_config
from hypothesis import given
from hypothesis import strategies as st
from samples import assert_one_error_line, assert_success_or_one_error_line, bounded, run_dtc

pytestmark = pytest.mark.fuzz

FIELDS = [name for name, _ in config_fields()]
KEYS = st.one_of(st.sampled_from(FIELDS), st.sampled_from(["optim", "optim.", ".lr", "optim..lr", "optim.lr.x", "seed.x",
                                                           "data.val.0", "", "x"]),
                 st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12))
NUMBERS = ["0", "-0", "1", "-1", "7", "15", "16", "2.5", "1e-9", "1e400", "-1e400", "nan", "NaN", "inf", "-inf",
           "Infinity", "4294967296", "99999999999999999999", "0x10", "1_000", " 3 "]
SMALL_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 64) | st.floats() | st.text(max_size=8),
                          lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                                            max_size=3), max_leaves=6)
VALUES = st.one_of(st.sampled_from(NUMBERS + ["true", "false", "yes", "maybe", "", "hflip", "hflip,vflip", "spin",
                                              "student", "teacher", "farneback", "raft", "cpu", "cuda", "tpu", "unet",
                                              "monai:Nope", "fast_unet", "[]", "{}", '"x"', "a,b,,c", "=", "=="]),
                   SMALL_JSON.map(json.dumps), st.text(max_size=12))
OVERRIDES = st.lists(st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"), min_size=1, max_size=4)


@given(overrides=OVERRIDES)
def test_overrides_give_a_configuration_that_round_trips_or_one_error(overrides):
    with tempfile.TemporaryDirectory() as folder, bounded(10.0, 32 << 20):
        try:
            config = load_config(overrides=overrides)
        except ConfigError as error:
            assert_one_error_line(error)
            return
        path = Path(folder) / "config.json"
        config.save(path)
        assert load_config(path) == config
        optim, data = config.optim, config.data
        assert optim.epochs >= 1 and optim.batch_size >= 1 and math.isfinite(optim.lr) and optim.lr >= 0
        assert min(data.height, data.width) >= 16


@given(overrides=OVERRIDES)
def test_dtc_train_refuses_bad_settings_or_missing_data_in_one_line_and_leaves_no_run_folder(overrides):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "runs" / "run"
        arguments = [f"--set={override}" for override in overrides]  # "--set -x=1" would be an option to argparse
        # Network arguments are drawn small: a network a user asks to be huge is built as asked.
        with bounded(60.0, 256 << 20):
            status, _, err = run_dtc(["train", "teacher", "--data", Path(folder) / "no_data", "--out", out, *arguments])
        assert_success_or_one_error_line(status, err, "train")
        assert status == 2 and not (Path(folder) / "runs").exists()
