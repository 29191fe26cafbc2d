#!/usr/bin/env bash
# Mutation testing of DTC's core modules with mutmut 3 (`pip install mutmut`; not part of CI or the test extras).
#
#   bash tools/mutation_testing.sh                 # every group below, smallest first, within the time budget
#   bash tools/mutation_testing.sh metrics losses  # only these groups
#   bash tools/mutation_testing.sh --survivors metrics  # after adding tests: rerun only the group's survivors
#
# Each group mutates a few files and runs only the tests written for them, so a mutant costs seconds (mutmut
# also runs, per mutated function, only the selected tests that call it). Every group works in its own copy
# of the code under $DTC_MUTATION_DIR (default /tmp/dtc-mutation), with the two packages at the top level:
# mutmut names mutants by file path and must find them under the same dotted name the tests import.
# Shared mutmut settings are [tool.mutmut] in pyproject.toml; a group adds what to mutate and which tests.
# The run is niced, one worker per core (DTC_MUTATION_WORKERS), one thread per worker, and stops starting
# groups after DTC_MUTATION_BUDGET_S seconds (default 2700); a group cut short reports its unchecked mutants.
# --survivors reruns, with the current tests, only the mutants that survived (or had no test) in an earlier run
# of the group; a mutant killed before stays killed (more tests can only kill more).
# Results: $DTC_MUTATION_DIR/results.md (the table for docs/mutation_testing.md) and survivors.txt (diffs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python}
MUTMUT=${MUTMUT:-$(dirname "$(command -v "$PYTHON")")/mutmut}
WORK=${DTC_MUTATION_DIR:-/tmp/dtc-mutation}
BUDGET=${DTC_MUTATION_BUDGET_S:-2700}
WORKERS=${DTC_MUTATION_WORKERS:-$(nproc)}

# group | files to mutate (globs, in the flattened copy) | mutant names to run (globs; - for all) | test files
GROUPS_TABLE=$(cat <<'EOF'
losses|DTCTrainingLib/losses/supervised.py DTCTrainingLib/losses/distillation.py DTCTrainingLib/losses/temporal_consistency.py|-|Testing/training/losses/test_losses.py Testing/training/losses/test_loss_values.py
prototype_alignment|DTCTrainingLib/losses/prototype_alignment.py|-|Testing/training/losses/test_losses.py Testing/training/losses/test_prototype_values.py
consistency|DTCSegmentationLib/temporal/consistency.py|-|Testing/segmentation/temporal/test_consistency.py Testing/segmentation/temporal/test_consistency_summary.py Testing/segmentation/temporal/test_consistency_details.py
postprocessing|DTCSegmentationLib/inference/postprocessing.py|-|Testing/segmentation/inference/test_pre_post_processing.py Testing/segmentation/inference/test_segmenter.py
preprocessing|DTCSegmentationLib/inference/preprocessing.py|-|Testing/segmentation/inference/test_pre_post_processing.py Testing/segmentation/inference/test_segmenter.py
metrics|DTCTrainingLib/evaluation/metrics.py|-|Testing/training/evaluation/test_metrics.py Testing/training/evaluation/test_metric_references.py
scoring|DTCTrainingLib/evaluation/scoring.py|-|Testing/training/evaluation/test_scoring.py Testing/training/evaluation/test_metric_references.py Testing/training/evaluation/test_scoring_details.py
student_step|DTCTrainingLib/trainer.py|DTCTrainingLib.trainer.xǁTrainerǁ_student_loss__mutmut_*|Testing/training/test_student_loss.py::test_every_term_and_the_weighted_total_match_the_method
resume|DTCTrainingLib/trainer.py|DTCTrainingLib.trainer.xǁTrainerǁsave_checkpoint__mutmut_* DTCTrainingLib.trainer.xǁTrainerǁload_checkpoint__mutmut_*|Testing/training/test_resume.py
flow|DTCSegmentationLib/temporal/flow.py|-|Testing/segmentation/temporal/test_flow.py Testing/segmentation/temporal/test_warp_direction.py
nrrd|DTCSegmentationLib/sequence_io/nrrd.py|-|Testing/segmentation/sequence_io/test_slicer_formats.py Testing/segmentation/sequence_io/test_sequence_io.py
EOF
)
# Not here: losses/pseudo_labels.py. Its one function is decorated (@torch.no_grad()), which mutmut 3 never
# mutates, and its transforms are module-level lambdas; docs/mutation_testing.md lists the hand-planted mutants.

mode=full
if [ "${1:-}" = "--survivors" ]; then
    mode=survivors
    shift
fi
selected=("$@")
started=$(date +%s)
mkdir -p "$WORK"

write_config() {  # the group's pyproject.toml: pytest settings, shared [tool.mutmut], what to mutate, which tests
    "$PYTHON" - "$ROOT/pyproject.toml" "$1/pyproject.toml" "$2" "$3" <<'EOF'
import json
import sys
import tomllib

source, target, mutate, tests = sys.argv[1:]
document = tomllib.loads(open(source).read())["tool"]
settings = dict(document["mutmut"])
settings.update(source_paths=["DTCSegmentationLib", "DTCTrainingLib"], only_mutate=mutate.split(),
                pytest_add_cli_args_test_selection=tests.split())


def table(name, values):
    return [f"[{name}]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]


lines = table("tool.pytest.ini_options", document["pytest"]["ini_options"]) + [""] + table("tool.mutmut", settings)
open(target, "w").write("\n".join(lines) + "\n")
EOF
}

verdicts() {  # save | restore: keep earlier kills when only the survivors are rerun
    "$PYTHON" - "$1" "$2" <<'EOF'
import json
import sys
from pathlib import Path

action, folder = sys.argv[1], Path(sys.argv[2])
saved = folder / "verdicts.json"
metas = sorted((folder / "mutants").rglob("*.meta"))
if action == "save":
    codes = {str(m): json.loads(m.read_text())["exit_code_by_key"] for m in metas}
    saved.write_text(json.dumps(codes))
    print(" ".join(k for c in codes.values() for k, v in c.items() if v in (0, 5, 33)))  # survived, no tests
else:
    for meta in metas:
        document = json.loads(meta.read_text())
        earlier = json.loads(saved.read_text()).get(str(meta), {})
        for key, code in earlier.items():
            if code not in (0, 5, 33, None):
                document["exit_code_by_key"][key] = code
        meta.write_text(json.dumps(document))
EOF
}

while IFS='|' read -r group mutate filter tests; do
    if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " == *" $group "* ]]; then
        continue
    fi
    dir="$WORK/$group"
    left=$((BUDGET - ($(date +%s) - started)))
    if [ "$left" -le 60 ]; then
        mkdir -p "$dir"
        echo "not run: time budget spent" > "$dir/status"
        continue
    fi
    names=()
    if [ "$mode" = survivors ]; then
        [ -d "$dir/mutants" ] || { echo "== $group: no earlier run in $dir"; continue; }
        read -r -a names <<< "$(verdicts save "$dir")"
        [ ${#names[@]} -gt 0 ] || { echo "== $group: no survivors"; continue; }
        rm -rf "$dir/Testing" "$dir/mutants/Testing"
        cp -r "$ROOT/Testing" "$dir/"
    else
        rm -rf "$dir"
        mkdir -p "$dir"
        cp -r "$ROOT/DTCSegmentation/DTCSegmentationLib" "$ROOT/DTCTraining/DTCTrainingLib" "$ROOT/Testing" "$dir/"
        cp -r "$ROOT/DTCSegmentation/Resources" "$dir/Resources"  # the packages find their resources at ../Resources
        [ "$filter" != "-" ] && read -r -a names <<< "$filter"
    fi
    find "$dir" -name __pycache__ -prune -exec rm -rf {} +
    write_config "$dir" "$mutate" "$tests"
    echo "== $group ($mode): ${mutate} (at most ${left}s)"
    status=done
    (cd "$dir" && OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout "$left" nice -n 19 "$MUTMUT" run --max-children "$WORKERS" \
        "${names[@]}" > "$dir/mutmut-$mode.log" 2>&1) || status="stopped (exit $?, see $dir/mutmut-$mode.log)"
    [ "$mode" = survivors ] && verdicts restore "$dir"
    echo "$status" > "$dir/status"
    echo "$filter" > "$dir/filter"
    tail -n 3 "$dir/mutmut-$mode.log"
done <<< "$GROUPS_TABLE"

# One row per group: mutants, killed, survived, other outcomes; surviving mutants' diffs in survivors.txt.
"$PYTHON" - "$WORK" "$MUTMUT" "$(cut -d'|' -f1 <<< "$GROUPS_TABLE")" <<'EOF'
import fnmatch
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

work, mutmut, groups = Path(sys.argv[1]), sys.argv[2], sys.argv[3].split()
rows = ["| group | mutants | killed | % killed | survived | other |", "|---|---|---|---|---|---|"]
open(work / "survivors.txt", "w").close()
for group in groups:
    status_file = work / group / "status"
    status = status_file.read_text().strip() if status_file.is_file() else "not run"
    names = (work / group / "filter").read_text().strip() if (work / group / "filter").is_file() else "-"
    if status.startswith("not run"):
        rows.append(f"| {group} | - | - | - | - | {status} |")
        continue
    patterns = names.split() if names != "-" else ["*"]
    counts, survivors = Counter(), []
    for meta in sorted((work / group / "mutants").rglob("*.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                continue
            counts[status_by_exit_code[code]] += 1
            if status_by_exit_code[code] in ("survived", "no tests"):
                survivors.append(name)
    mutated = sum(counts.values())
    # A crash of the test process (segfault) fails the tests: a kill. A timeout is not counted as one: on a
    # loaded machine it may be only slow.
    killed = counts["killed"] + counts["segfault"]
    other = ", ".join(f"{n} {s}" + (" (counted as killed)" if s == "segfault" else "")
                      for s, n in counts.items() if s not in ("killed", "survived") and n)
    checked = mutated - counts["not checked"]
    share = f"{100 * killed / checked:.0f}" if checked else "-"
    rows.append(f"| {group} | {mutated} | {killed} | {share} | {counts['survived']} | {other or '-'} |")
    with open(work / "survivors.txt", "a") as out:
        for name in survivors:
            diff = subprocess.run([mutmut, "show", name], cwd=work / group,
                                  capture_output=True, text=True).stdout
            out.write(f"### {group}: {name}\n{diff}\n")
(work / "results.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
EOF
