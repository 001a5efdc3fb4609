#!/usr/bin/env bash
# The short real run of each strategy reported in the training issue: the same student budget
# (steps, crops, batch, lr, seed) distilled from the shipped teacher with FEDS and SMoDi, and
# trained plainly as the control; each validated on Kodak at q 1, 4, 8 at the end.
#   scripts/short-runs.sh [STEPS] [OUT]        (resumable: rerun the same command)
set -euo pipefail
STEPS="${1:-500}"
OUT="${2:-runs/short}"
SHARED="${SHARED:-../shared}"
LICODEC="${LICODEC:-.venv/bin/licodec}"
common=(--data "$SHARED/data/train" --val "$SHARED/data/kodak" --steps "$STEPS" --patch 128 --batch 8
        --lr 2e-4 --threads 2 --resume)
"$LICODEC" train --arch student --out "$OUT/plain" "${common[@]}"
"$LICODEC" distill --teacher weights/teacher.safetensors --strategy feds --arch student --out "$OUT/feds" "${common[@]}"
"$LICODEC" distill --teacher weights/teacher.safetensors --strategy smodi --derive-student --out "$OUT/smodi" "${common[@]}"
