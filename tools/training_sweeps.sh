#!/usr/bin/env bash
# The training recordings of the default model's recipes, built once in WORK_DIR (each step is
# skipped when its dataset.json exists). Sourced by train_default_model.sh and gpu_teacher_runs.sh
# with $mrus and $work set; defines $size.
#   real/          obs000-obs071 through `dtc dataset from-volumes` (seed 0), obs064-obs071 in val
#   real_draw1, 2/ two more draws of tremor, tilt and pressure through the training volumes only
#   clinical/      24 clinical-look simulated sweeps (seed 300)
#   classic/       6 classic simulated sweeps (seed 400); classic_more/ 24 more (seed 500)
# Only obs000-obs071 are read; later cases are kept for external validation and never touched.
size=128x160
volumes=(--images "$mrus/fixed_images" --labels "$mrus/fixed_labels" --label-channel 0 --sweeps rotational axial
         --frames 40 --size "$size" --pixel-mm 1.1 --frame-rate 20 --probe-axis +k --probe-side +i)
cases=(); for i in $(seq -f "%03g" 0 71); do cases+=(--case "obs$i"); done
train=(); for i in $(seq -f "%03g" 0 63); do train+=(--case "obs$i"); done
val=(); for i in $(seq -f "%03g" 64 71); do val+=("obs$i"); done
[ -e "$work/real/dataset.json" ] || dtc dataset from-volumes "${volumes[@]}" "${cases[@]}" --val "${val[@]}" --seed 0 \
    --out "$work/real"
for seed in 1 2; do
  [ -e "$work/real_draw$seed/dataset.json" ] || dtc dataset from-volumes "${volumes[@]}" "${train[@]}" --val-fraction 0 \
      --seed "$seed" --out "$work/real_draw$seed"
done
[ -e "$work/clinical/dataset.json" ] || dtc dataset simulate --style clinical --cases 24 --frames 40 --size 192x256 \
    --val-cases 0 --seed 300 --out "$work/clinical"
[ -e "$work/classic/dataset.json" ] || dtc dataset simulate --cases 6 --frames 40 --size 256x448 --val-cases 0 \
    --seed 400 --out "$work/classic"
[ -e "$work/classic_more/dataset.json" ] || dtc dataset simulate --cases 24 --frames 40 --size 256x448 --val-cases 0 \
    --seed 500 --out "$work/classic_more"
true
