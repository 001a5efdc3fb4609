#!/usr/bin/env bash
# On the GPU machine (each later device call): wait, then hand back the latest exported weights,
# the log and the daemon's output through $OUT.   scripts/gpu-collect.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
sleep "${1:-540}"
mkdir -p "$OUT/gpu"
cp runs/gpu/weights.safetensors runs/gpu/log.jsonl "$OUT/gpu/" 2>/dev/null || true
tail -c 200000 runs/gpu.out > "$OUT/gpu/daemon.out"
tail -3 runs/gpu/log.jsonl 2>/dev/null | cut -c1-400
