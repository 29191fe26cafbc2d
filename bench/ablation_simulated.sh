#!/usr/bin/env bash
# The three ablation tables of the README's "Evaluation" section, on simulated TRUS (about 80
# minutes on 2 CPU cores). Each `dtc ablation` prints its table and the claim check as JSON;
# reports land in WORK_DIR/{default,hard,hard_strong_teacher}/report. Re-running continues where it stopped.
# Usage: bash bench/ablation_simulated.sh [WORK_DIR]
set -euo pipefail
work="${1:-build/ablation}"
# The six rows of these tables (dtc ablation has more rows now; see the README's "Evaluation on real sweeps").
rows=(--variants "2D baseline,pseudo-labels only,+ KD,+ KD + prototypes,+ KD + consistency,full DTC")
students=("${rows[@]}" --set data.height=128 --set data.width=224 --set optim.lr=0.0001 --set student.pseudo_label_source=teacher)

[ -f "$work/data_default/dataset.json" ] || dtc dataset simulate --out "$work/data_default" --cases 14 --frames 40 \
    --labelled-every 2 --val-cases 2 --test-cases 4 --seed 500
dtc ablation --data "$work/data_default" --out "$work/default" --set seed=500 "${students[@]}" \
    --set optim.epochs=6 --set optim.patience=3 \
    --teacher-set optim.epochs=14 --teacher-set optim.patience=5 --teacher-set optim.lr=0.001

[ -f "$work/data_hard/dataset.json" ] || dtc dataset simulate --out "$work/data_hard" --cases 14 --frames 40 \
    --labelled-every 4 --val-cases 2 --test-cases 4 --seed 600 --difficulty hard
dtc ablation --data "$work/data_hard" --out "$work/hard" --set seed=600 "${students[@]}" \
    --set optim.epochs=8 --set optim.patience=4 \
    --teacher-set optim.epochs=16 --teacher-set optim.patience=6 --teacher-set optim.lr=0.001

# The same hard data with a stronger teacher and the students' batch-norm statistics frozen.
dtc ablation --data "$work/data_hard" --out "$work/hard_strong_teacher" --set seed=600 "${students[@]}" \
    --set optim.epochs=8 --set optim.patience=4 --set student.freeze_batch_norm=true \
    --teacher-set optim.epochs=60 --teacher-set optim.patience=15 --teacher-set optim.lr=0.001
