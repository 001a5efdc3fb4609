#!/usr/bin/env bash
# Training on one lent GPU (~25 min lease), resumed from the shipped weights (or INIT) of ARCH
# (student, the default, or teacher: `ARCH=teacher scripts/gpu_train.sh ...`).
#   scripts/gpu_train.sh stage           add the carried data-local/train photos to the machine's
#                                        training folder (for a set too large for one transfer)
#   scripts/gpu_train.sh start MINUTES   stage, install carried wheels, probe speed, start the daemon
#   scripts/gpu_train.sh collect SECONDS wait (at most SECONDS, or until the daemon ends), copy
#                                        the log and the weights (in 15 MB parts) to $OUT
# Needs data-local/train (a copy of ../shared/data/train) and .whl (constriction, pytorch-msssim).
# The transfer is 64 MiB: send it from a throwaway branch without the other model's weights.
# The teacher's 24 MB leave too little room for all 672 photos (46 MB): carry half of them
# with a first call `scripts/gpu_train.sh stage`, the other half with `start` (the folder on the
# machine then holds all of them, so --holdout picks the same 24 images as on the CPU).
set -euo pipefail
ARCH=${ARCH:-student}
# INIT=none trains from scratch (the teacher's shipped weights are a short CPU placeholder:
# leaving them out leaves room for all the photos in one transfer).
INIT=${INIT:-weights/$ARCH.safetensors}
INIT_ARGS=(--init "$INIT")
[ "$INIT" = none ] && INIT_ARGS=()
RUN=/tmp/gpu-$ARCH
BATCH=${BATCH:-16}
DATA=/tmp/train-photos
COMMON=(--arch "$ARCH" --data "$DATA" --holdout 24 --patch 256 --batch "$BATCH"
        --device cuda --threads 4)

install() {
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
}

stage() {
    mkdir -p "$DATA"
    cp -n data-local/train/* "$DATA/"
    echo "staged: $(ls "$DATA" | grep -vc MANIFEST) training photos on this machine"
}

start() {
    local minutes=$1
    stage
    nvidia-smi --query-gpu=name,memory.total --format=csv
    rm -rf /tmp/probe
    # The probe runs every path the daemon will (steps, validation, export) and times a step.
    python3 -m licodec train "${COMMON[@]}" "${INIT_ARGS[@]}" --out /tmp/probe \
        --steps 120 --log-every 20 --val-every 0 --val-images 4
    local per_step
    per_step=$(python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("/tmp/probe/log.jsonl") if "seconds" in l]
a, b = rows[1], rows[-2]  # past the first (warm-up) records, before the final validation
print((b["seconds"] - a["seconds"]) / (b["step"] - a["step"]))
PY
)
    # 92 % of what fits: validations and exports also take time; lr ÷10 at 85 % of --steps.
    local steps
    steps=$(python3 -c "print(int(0.92 * $minutes * 60 / $per_step))")
    echo "probe: ${per_step} s/step -> --steps ${steps} in ${minutes} min"
    rm -rf "$RUN"
    setsid nohup python3 -m licodec train "${COMMON[@]}" "${INIT_ARGS[@]}" \
        --out "$RUN" --steps "$steps" --minutes "$minutes" --val-every 2000 --log-every 50 \
        --checkpoint-minutes 3 > /tmp/gpu-$ARCH.out 2>&1 < /dev/null &
    sleep 60
    tail -c 1500 /tmp/gpu-$ARCH.out; tail -n 2 "$RUN/log.jsonl" || true
}

collect() {
    local waited=0
    while [ "$waited" -lt "$1" ] && pgrep -f "out $RUN" > /dev/null; do sleep 10; waited=$((waited + 10)); done
    tail -c 1500 /tmp/gpu-$ARCH.out; tail -n 2 "$RUN/log.jsonl" || true
    mkdir -p "$OUT/run"
    cp "$RUN/log.jsonl" /tmp/gpu-$ARCH.out "$OUT/run/" 2>/dev/null || true
    # Files come back at most 16 MiB each (the teacher's float32 weights are 48 MB): in parts,
    # joined here with `cat weights.part-* > weights.safetensors`.
    [ -f "$RUN/weights.safetensors" ] && split -b 15M "$RUN/weights.safetensors" "$OUT/run/weights.part-"
    ls -la "$OUT/run"
}

export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
[ -d /tmp/site/constriction ] || install
"$1" "${@:2}"
