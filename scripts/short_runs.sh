#!/usr/bin/env bash
# The short real run of each strategy reported in the training issue: the same student budget
# (steps, crops, batch, lr, seed) distilled from the shipped teacher with FEDS and SMoDi, and
# trained plainly as the control; each validated on Kodak at q 1, 4, 8 at the end.
#   scripts/short_runs.sh [STEPS] [OUT]        (resumable: rerun the same command)
# SMoDi steps through the whole frozen teacher at every step (~4x a student step here), so its
# budget can be set apart: SMODI_STEPS=200 scripts/short_runs.sh 500 is the reported run.
set -euo pipefail
STEPS="${1:-500}"
SMODI_STEPS="${SMODI_STEPS:-$STEPS}"
OUT="${2:-runs/short}"
SHARED="${SHARED:-../shared}"
LICODEC="${LICODEC:-.venv/bin/licodec}"
common=(--data "$SHARED/data/train" --val "$SHARED/data/kodak" --patch 128 --batch 8 --lr 2e-4 --threads 2 --resume)
"$LICODEC" train --arch student --out "$OUT/plain" --steps "$STEPS" "${common[@]}"
"$LICODEC" distill --teacher weights/teacher.safetensors --strategy feds --arch student --out "$OUT/feds" \
    --steps "$STEPS" "${common[@]}"
"$LICODEC" distill --teacher weights/teacher.safetensors --strategy smodi --derive-student --out "$OUT/smodi" \
    --steps "$SMODI_STEPS" "${common[@]}"
# The logs and a summary table go into results/training/ (committed).
mkdir -p results/training
for run in plain feds smodi; do cp "$OUT/$run/log.jsonl" "results/training/$run-log.jsonl"; done
"$(dirname "$LICODEC")/python" -m licodec.training.summary "$OUT/plain" "$OUT/feds" "$OUT/smodi" \
    > results/training/short-runs.md
cat results/training/short-runs.md
