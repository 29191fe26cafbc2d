#!/usr/bin/env bash
# Reproduces DTCSegmentation/Resources/Models/dtc_default.safetensors (see MODEL_CARD.md) on CPU: it is
# WORK_DIR/run/student.safetensors. About 45 minutes on 2 cores.
# Usage: bash tools/train_default_model.sh [WORK_DIR]
set -euo pipefail
work="${1:-build/default_model}"
dtc dataset simulate --out "$work/data" --cases 10 --frames 48 --labelled-every 2 --val-cases 2 --seed 100 --overwrite
dtc train teacher --data "$work/data" --out "$work/run" --set seed=100 --set optim.epochs=16 --set optim.patience=6
dtc train student --data "$work/data" --out "$work/run" --set seed=100 --set optim.epochs=6 --set optim.patience=3 \
    --set optim.lr=0.0001 --set student.pseudo_label_source=teacher
