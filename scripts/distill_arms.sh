#!/usr/bin/env bash
# The distillation comparison (the distillation issue): the fast student trained by each arm in
# turn, from the same seed, data, crops, lr and schedule, each resumed where it stopped (its
# checkpoint in runs/distill-ARM), one at a time so that each has both cores and its CPU hours
# compare. Then `python -m licodec.training.comparison report` (its docstring) draws the curves.
#
#     nohup nice -n 10 scripts/distill_arms.sh [--after PID] [ARM...] > runs/distill-arms.out 2>&1 &
#
# ARMs (default: plain feds feds-derived): plain (the control, no teacher), feds (FEDS from
# random initialisation), feds-derived (FEDS from the teacher pruned to `fast`, --derive-student).
# SMoDi swaps student parts into the teacher, so it needs the teacher's widths: not this pair.
# --after PID waits for a running arm (started by hand) to end first. An arm that a session left
# unfinished is committed as results/distillation/checkpoints/ARM.pt (scripts/compact_checkpoint.py)
# and results/distillation/logs/ARM.jsonl; where runs/ did not survive, it resumes from those.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--after" ]; then
    while kill -0 "$2" 2>/dev/null; do sleep 30; done
    shift 2
fi
TEACHER=weights/student.safetensors
STEPS=8000
COMMON=(--arch fast --data ../shared/data/train --data ../shared/data/train-extra --holdout 24
        --steps "$STEPS" --lr 2e-4 --patch 256 --batch 8 --threads 2 --precision bfloat16
        --val-every 1000 --log-every 25 --checkpoint-minutes 10 --seed 0)
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE

finished() {  # the arm's log reached the last step
    [ -f "$1/log.jsonl" ] && tail -n 1 "$1/log.jsonl" | grep -q "\"step\": $STEPS,"
}

for arm in "${@:-plain feds feds-derived}"; do
    for name in $arm; do
        out="runs/distill-$name"
        if finished "$out"; then echo "$name: done"; continue; fi
        case "$name" in
            plain) strategy=(train) ;;
            feds) strategy=(distill --teacher "$TEACHER" --strategy feds) ;;
            feds-derived) strategy=(distill --teacher "$TEACHER" --strategy feds --derive-student) ;;
            *) echo "unknown arm $name" >&2; exit 2 ;;
        esac
        saved="results/distillation/checkpoints/$name.pt"
        if [ ! -f "$out/checkpoint.pt" ] && [ -f "$saved" ]; then
            mkdir -p "$out"
            cp "$saved" "$out/checkpoint.pt"
            cp "results/distillation/logs/$name.jsonl" "$out/log.jsonl"
        fi
        resume=()
        [ -f "$out/checkpoint.pt" ] && resume=(--resume)
        echo "$name: $(date -u +%FT%TZ) ${resume[*]:-from step 0}"
        .venv/bin/licodec "${strategy[@]}" "${COMMON[@]}" --out "$out" "${resume[@]}"
    done
done
