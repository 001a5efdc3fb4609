#!/usr/bin/env bash
# One lent GPU (15 minutes of device time in all), unattended; run on the GPU machine, from the
# repository root, with .whl and data-local carried (scripts/gpu_prepare.sh makes both here).
#   scripts/gpu_train.sh stage            add the carried data-local/<folder> photos to the machine's
#                                         copy (a set too large for one 64 MiB transfer comes in two)
#   scripts/gpu_train.sh start MINUTES    stage, install the wheels, cross-check determinism (< 1 min),
#                                         probe the training configurations (~2 min) and start the
#                                         daemon with the fastest that ran (scripts/gpu_lease.py)
#   scripts/gpu_train.sh collect SECONDS  wait for the daemon (at most SECONDS), then copy the log,
#                                         the weights and the cross-check's streams to $OUT
# ARCH (student), INIT (weights/$ARCH.safetensors; none: from scratch) and EMA (0.999; 0: none) are read from
# the environment. A lease: call 1 `start 9`, call 2 `collect 560` right after it returns.
set -euo pipefail
ARCH=${ARCH:-student}
INIT=${INIT:-weights/$ARCH.safetensors}
PHOTOS=/tmp/train-photos
INIT_ARGS=(--init "$INIT")
[ "$INIT" = none ] && INIT_ARGS=()

install() {
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
}

stage() {
    for folder in data-local/*/; do
        name=$(basename "$folder")
        [ "$name" = cross ] && continue
        mkdir -p "$PHOTOS/$name"
        cp -n "$folder"* "$PHOTOS/$name/"
        echo "staged: $(ls "$PHOTOS/$name" | grep -vc MANIFEST) photos in $PHOTOS/$name"
    done
}

# Encode 6 Kodak images at q 1/4/8 on the GPU (decoded on the CPU at home), and decode here the
# streams the CPU encoded at home (data-local/cross/cpu): the guarantee's first run on a GPU.
cross() {
    [ -d data-local/cross/images ] || { echo "cross-check: no data-local/cross (scripts/gpu_prepare.sh)"; return 0; }
    timeout 120 python3 scripts/cross_machine.py write data-local/cross/images/*.png -o /tmp/cross-gpu \
        --device cuda || echo "cross-check write failed"
    timeout 60 python3 scripts/cross_machine.py check data-local/cross/cpu --device cuda \
        | tee /tmp/cross-gpu-check.txt || echo "cross-check decode found mismatches or failed"
}

start() {
    stage
    nvidia-smi --query-gpu=name,memory.total --format=csv || true
    cross || true
    local data=(--data "$PHOTOS/train")
    [ -d "$PHOTOS/train-extra" ] && data+=(--data "$PHOTOS/train-extra")
    python3 scripts/gpu_lease.py start --minutes "$1" --arch "$ARCH" "${INIT_ARGS[@]}" "${data[@]}" \
        --ema "${EMA:-0.999}"
}

collect() {
    python3 scripts/gpu_lease.py collect --wait "$1"
    if [ -d /tmp/cross-gpu ]; then
        tar -cf "$OUT/run/cross-gpu.tar" -C /tmp cross-gpu
        cp /tmp/cross-gpu-check.txt "$OUT/run/" 2>/dev/null || true
    fi
    ls -la "$OUT/run"
}

export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
[ -d /tmp/site/constriction ] || install
"$1" "${@:2}"
