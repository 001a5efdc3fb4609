"""Shrink a training checkpoint to what the next session needs to continue the leg, for git.

    python scripts/compact_checkpoint.py runs/campaign-student/checkpoint.pt weights/campaign/student-checkpoint.pt

Kept: the float32 weights, the step, the clock, the RNG states and both optimisers, with Adam's
moments stored in bfloat16 (`Optimizer.load_state_dict` casts them back to the parameters'
float32; their 8-bit mantissa is far finer than the moments' own step-to-step noise). Dropped:
the moving average, which `licodec train --resume` restarts at the resumed weights when a
checkpoint lacks it (with --ema 0.999 it forgets its start within ~1000 steps). About half the size.
Resume with: copy it to OUT/checkpoint.pt and run the same `licodec train ... --resume`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch


def compact(state: dict) -> dict:
    state = {key: value for key, value in state.items() if key != "ema"}
    for name in ("optimizer", "aux_optimizer"):
        for moments in state[name]["state"].values():
            for key in ("exp_avg", "exp_avg_sq"):
                if key in moments:
                    moments[key] = moments[key].to(torch.bfloat16)
    return state


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    state = compact(torch.load(source, weights_only=True, map_location="cpu"))
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    print(f"{source} ({source.stat().st_size / 1e6:.1f} MB) -> {target} ({target.stat().st_size / 1e6:.1f} MB), "
          f"step {state['step']}")


if __name__ == "__main__":
    main()
