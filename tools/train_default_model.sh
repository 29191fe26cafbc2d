#!/usr/bin/env bash
# Reproduces DTCSegmentation/Resources/Models/dtc_default.safetensors (see MODEL_CARD.md): a teacher
# (the plain 2D network: supervised, no temporal terms) trained from scratch at 128 x 160 on virtual
# sweeps through real 3D TRUS volumes (obs000-obs063 train, three sweep draws per volume;
# obs064-obs071 validation) mixed with clinical-look and classic simulated sweeps (run_base), then
# fine-tuned with 24 more classic simulated sweeps (run: it had lost 0.03 Dice on simulated sweeps),
# then distilled into the student on the same recordings (teacher pseudo-labels plus the ground
# truth). The shipped file is run/teacher.safetensors. CPU only, about 75 minutes on 2 cores; every
# step is skipped when its output exists and training resumes from its checkpoint, so rerunning
# continues.
#
# Usage: bash tools/train_default_model.sh MRUS_DIR [WORK_DIR]
#   MRUS_DIR: a checkout of github.com/YipengHu/example-data, branch mrus (fixed_images/,
#             fixed_labels/). Only obs000-obs071 are read; later cases are kept for external
#             validation and never touched.
set -euo pipefail
mrus="${1:?usage: train_default_model.sh MRUS_DIR [WORK_DIR]}"
work="${2:-build/default_model}"
mkdir -p "$work"
source "$(dirname "$0")/training_sweeps.sh"
common=(--set seed=100 --set data.height=128 --set data.width=160 --set optim.batch_size=16)
# validation = the real validation sweeps only: the best epoch is chosen on real TRUS
[ -e "$work/mix/dataset.json" ] || dtc dataset merge "$work/real" "$work/real_draw1" "$work/real_draw2" \
    "$work/clinical" "$work/classic" --out "$work/mix"
[ -e "$work/mix_more/dataset.json" ] || dtc dataset merge "$work/mix" "$work/classic_more" --out "$work/mix_more"

resume() { [ -e "$1/$2_checkpoint.pt" ] && echo --resume || true; }
finished() { grep -q "\"stage\": \"$2\".*\"event\": \"done\"" "$1/events.jsonl" 2>/dev/null; }
finished "$work/run_base" teacher || \
  dtc train teacher --data "$work/mix" --out "$work/run_base" "${common[@]}" $(resume "$work/run_base" teacher) \
    --set optim.epochs=60 --set optim.steps_per_epoch=100 --set optim.t0=60 --set optim.patience=60
finished "$work/run" teacher || \
  dtc train teacher --data "$work/mix_more" --out "$work/run" "${common[@]}" $(resume "$work/run" teacher) \
    --set seed=101 --set teacher.init="$work/run_base/teacher.safetensors" --set optim.lr=0.0003 \
    --set optim.epochs=15 --set optim.steps_per_epoch=100 --set optim.t0=15 --set optim.patience=15
finished "$work/run" student || \
  dtc train student --data "$work/mix_more" --out "$work/run" "${common[@]}" $(resume "$work/run" student) \
    --set optim.lr=0.0001 --set optim.epochs=4 --set optim.steps_per_epoch=100 \
    --set student.pseudo_label_source=teacher --set student.weight_supervised=3.0
echo "student: $work/run/student.safetensors  teacher (the plain 2D network): $work/run/teacher.safetensors"
