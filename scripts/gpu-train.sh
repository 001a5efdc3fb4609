#!/usr/bin/env bash
# On the GPU machine (the device tool's first call): install the carried wheels and start
# training as a daemon that outlives the call, with a wall-clock budget; weights are exported
# every few minutes into runs/gpu/. Then each later call runs scripts/gpu-collect.sh.
#   ARCH=student|teacher  MINUTES=25  BATCH=16  STEPS=...  (lr drops ÷10 after 85 % of STEPS)
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${ARCH:-teacher}" MINUTES="${MINUTES:-25}" BATCH="${BATCH:-16}" STEPS="${STEPS:-20000}"
DEVICE="${DEVICE:-cuda}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD"
mkdir -p runs
setsid nohup python3 -m licodec train --arch "$ARCH" --device "$DEVICE" --data data-local/train --holdout 24 \
    --out runs/gpu --init "weights/$ARCH.safetensors" --steps "$STEPS" --patch 256 --batch "$BATCH" \
    --minutes "$MINUTES" --checkpoint-minutes 3 --val-every 1000 --log-every 50 --threads 8 \
    > runs/gpu.out 2>&1 < /dev/null &
sleep 60
tail -5 runs/gpu.out
tail -2 runs/gpu/log.jsonl 2>/dev/null || echo "no log record yet"
