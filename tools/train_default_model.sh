#!/usr/bin/env bash
# Reproduces DTCSegmentation/Resources/Models/dtc_default.safetensors (see MODEL_CARD.md): the
# shipped simulator-trained model fine-tuned as a teacher on virtual sweeps through real 3D TRUS
# volumes (obs000-obs063 train, obs064-obs071 validation) mixed with clinical-look and classic
# simulated sweeps (the teacher is the plain 2D network: supervised, no temporal terms), then
# distilled into the student on the same recordings for one short epoch (the CPU budget it was
# made with: about 1 h 40 min on a shared 2-core machine). CPU only; every step is skipped when its
# output exists and training resumes from its checkpoint, so rerunning continues.
#
# Usage: bash tools/train_default_model.sh MRUS_DIR [WORK_DIR]
#   MRUS_DIR: a checkout of github.com/YipengHu/example-data, branch mrus (fixed_images/,
#             fixed_labels/). Only obs000-obs071 are read; later cases are kept for external
#             validation and never touched.
set -euo pipefail
mrus="${1:?usage: train_default_model.sh MRUS_DIR [WORK_DIR]}"
work="${2:-build/default_model}"
mkdir -p "$work"
# the simulator-trained model this one replaces, as committed before it was
shipped_before="$work/previous_default.safetensors"
[ -e "$shipped_before" ] || git show 83775e5:DTCSegmentation/Resources/Models/dtc_default.safetensors > "$shipped_before"
size=192x256
common=(--set seed=100 --set data.height=192 --set data.width=256)

cases=(); for i in $(seq -f "%03g" 0 71); do cases+=(--case "obs$i"); done
val=(); for i in $(seq -f "%03g" 64 71); do val+=("obs$i"); done
[ -e "$work/real/dataset.json" ] || dtc dataset from-volumes --images "$mrus/fixed_images" --labels "$mrus/fixed_labels" \
    --label-channel 0 "${cases[@]}" --val "${val[@]}" --sweeps rotational axial --frames 40 --size 128x160 \
    --pixel-mm 1.1 --frame-rate 20 --probe-axis +k --probe-side +i --seed 0 --out "$work/real"
[ -e "$work/clinical/dataset.json" ] || dtc dataset simulate --style clinical --cases 24 --frames 40 --size "$size" \
    --val-cases 0 --seed 300 --out "$work/clinical"
[ -e "$work/classic/dataset.json" ] || dtc dataset simulate --cases 6 --frames 40 --size 256x448 --val-cases 0 \
    --seed 400 --out "$work/classic"
# validation = the real validation sweeps only: early stopping selects for real TRUS
[ -e "$work/mix/dataset.json" ] || dtc dataset merge "$work/real" "$work/clinical" "$work/classic" --out "$work/mix"

resume() { [ -e "$1/$2_checkpoint.pt" ] && echo --resume || true; }
finished() { grep -q "\"stage\": \"$2\".*\"event\": \"done\"" "$1/events.jsonl" 2>/dev/null; }
finished "$work/run" teacher || \
  dtc train teacher --data "$work/mix" --out "$work/run" "${common[@]}" $(resume "$work/run" teacher) \
    --set teacher.init="$shipped_before" --set optim.lr=0.0005 --set optim.epochs=10 --set optim.steps_per_epoch=60 \
    --set optim.patience=4
finished "$work/run" student || \
  dtc train student --data "$work/mix" --out "$work/run" "${common[@]}" $(resume "$work/run" student) \
    --set optim.lr=0.0001 --set optim.epochs=1 --set optim.steps_per_epoch=50 \
    --set student.pseudo_label_source=teacher
echo "student: $work/run/student.safetensors  teacher (the plain 2D network): $work/run/teacher.safetensors"
