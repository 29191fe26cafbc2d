#!/usr/bin/env bash
# Longer teacher training on a GPU, as measured in MODEL_CARD.md ("Longer training on a GPU"):
# fast_unet at the default widths and 1.5x wider, two seeds each, run side by side on one GPU.
# 70 epochs of 400 steps of 32 frames (28,000 steps, 7.5x the default model's frames), mixed
# precision, cosine warm restarts after 10, 20 and 40 epochs; the best epoch on the real
# validation sweeps is kept (run folder/teacher.safetensors). Data: the real sweeps and their first
# extra draw, the clinical sweeps, and 6 + 12 classic sweeps. On one H100 with 16 CPU cores the
# four runs took 9.5 s per epoch each (about 11 minutes); on a CPU expect hours.
#
# Usage: bash tools/gpu_teacher_runs.sh MRUS_DIR [WORK_DIR]   (then score a run folder's
# teacher.safetensors with `dtc evaluate --data WORK_DIR/real --split val`)
set -euo pipefail
mrus="${1:?usage: gpu_teacher_runs.sh MRUS_DIR [WORK_DIR]}"
work="${2:-build/default_model}"
mkdir -p "$work"
# training_sweeps.sh also builds real_draw2 and the 24-sweep classic_more of the default recipe,
# which these runs do not use (a few CPU minutes, once); the shared step keeps both recipes on one data.
source "$(dirname "$0")/training_sweeps.sh"
[ -e "$work/classic_more12/dataset.json" ] || dtc dataset simulate --cases 12 --frames 40 --size 256x448 --val-cases 0 \
    --seed 500 --out "$work/classic_more12"  # the first 12 sweeps of classic_more (case seeds 500-511)
[ -e "$work/gpu_mix/dataset.json" ] || dtc dataset merge "$work/real" "$work/real_draw1" "$work/clinical" \
    "$work/classic" "$work/classic_more12" --out "$work/gpu_mix"

declare -A variants=(
  [base_s100]="--set seed=100"
  [base_s101]="--set seed=101"
  [wide_s100]="--set seed=100 --set network.arguments={\"features\":[24,48,96,192]}"
  [wide_s101]="--set seed=101 --set network.arguments={\"features\":[24,48,96,192]}"
)
for name in "${!variants[@]}"; do
  out="$work/gpu_$name"
  resume=(); [ -e "$out/teacher_checkpoint.pt" ] && resume=(--resume)
  # shellcheck disable=SC2086  # the variant's flags are meant to split
  OMP_NUM_THREADS=1 dtc train teacher --data "$work/gpu_mix" --out "$out" "${resume[@]}" \
    --set data.height=128 --set data.width=160 --set optim.batch_size=32 --set optim.epochs=70 \
    --set optim.steps_per_epoch=400 --set optim.t0=10 --set optim.t_mult=2 --set optim.patience=70 \
    --set optim.amp=true --set data.workers=3 ${variants[$name]} > "$out.log" 2>&1 &
done
wait
for name in "${!variants[@]}"; do echo "$name: $work/gpu_$name/teacher.safetensors"; done
