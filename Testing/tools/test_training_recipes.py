"""The shipped model's training recipes read only the cases they may read.

obs072 and later of the public 3D TRUS data are kept for external validation: no recipe may name
them, and obs064-obs071 (validation) must never enter a training split. The scripts run with a
stand-in ``dtc`` on PATH that records its arguments, so nothing is trained.
"""

import os
import re
import shutil
import subprocess

import pytest
from samples import REPO_ROOT

RECIPES = ("train_default_model.sh", "gpu_teacher_runs.sh")
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def recorded_calls(recipe: str, tmp_path):
    """The argument lists of every ``dtc`` call ``tools/recipe`` makes, in order."""
    stand_in = tmp_path / "bin" / "dtc"
    stand_in.parent.mkdir()
    log = tmp_path / "calls.txt"
    stand_in.write_text(f'#!/usr/bin/env bash\nprintf "%s\\x1f" "$@" >> "{log}"\necho >> "{log}"\n')
    stand_in.chmod(0o755)
    env = dict(os.environ, PATH=f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["bash", str(REPO_ROOT / "tools" / recipe), str(tmp_path / "mrus"), str(tmp_path / "work")],
                   env=env, check=True, capture_output=True, timeout=60)
    return [line.rstrip("\x1f").split("\x1f") for line in log.read_text().splitlines() if line]


def option_values(args, option):
    """Values following ``option`` up to the next ``--option``."""
    values, taking = [], False
    for arg in args:
        if arg.startswith("--"):
            taking = arg == option
        elif taking:
            values.append(arg)
    return values


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipes_never_name_external_validation_cases(recipe, tmp_path):
    calls = recorded_calls(recipe, tmp_path)
    named = {int(n) for args in calls for arg in args for n in re.findall(r"obs(\d{3})", arg)}
    assert named and max(named) == 71, sorted(named)

    imports = [args for args in calls if args[:2] == ["dataset", "from-volumes"]]
    assert imports, "no volume import"
    for args in imports:
        cases = {int(c[3:]) for c in option_values(args, "--case")}
        validation = {int(c[3:]) for c in option_values(args, "--val")}
        training = cases - validation
        assert training <= set(range(64)), sorted(training - set(range(64)))
        assert validation in (set(), set(range(64, 72)))


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipes_train_on_their_own_datasets(recipe, tmp_path):
    calls = recorded_calls(recipe, tmp_path)
    made = {option_values(args, "--out")[0] for args in calls if args[0] == "dataset"}
    trained = [args for args in calls if args[0] == "train"]
    assert trained
    for args in trained:
        assert option_values(args, "--data")[0] in made
