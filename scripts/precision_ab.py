"""The float32 / bfloat16 training A/B: does bfloat16 learn as much per crop?

    python scripts/precision_ab.py --reference results/training/student/logs/student-leg4-log.jsonl:2986 \
        --arm float32-seed0=results/training/precision-ab/float32-seed0.jsonl \
        --arm bfloat16-seed0=results/training/precision-ab/bfloat16-seed0.jsonl \
        --arm bfloat16-seed1=results/training/precision-ab/bfloat16-seed1.jsonl \
        --pair bfloat16-seed0,float32-seed0 --pair bfloat16-seed1,bfloat16-seed0 \
        --scratch float32=results/training/precision-ab/scratch-float32.jsonl \
        --scratch bfloat16=results/training/precision-ab/scratch-bfloat16.jsonl \
        -o results/training/precision-ab/ab.md

Each arm is a `licodec train` log from the same start; every validation (held-out images, all 8
levels, the model's rate estimates) is compared by BD-rate with the start's validation
(--reference LOG:STEP), raw weights and, where the log has them, the moving average's. A pair
compares two arms' last validations directly: the precision pair against the seed pair (the
run-to-run noise). --scratch runs from random weights are compared by training loss.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from licodec import bdrate
from licodec.training.curves import as_rd_curve


def records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def bd(reference: dict, row: dict, key: str = "val") -> str:
    result = bdrate.compare(as_rd_curve({"val": reference}), as_rd_curve({"val": row[key]}))
    return "—" if result is None else f"{result['bd_rate']:+.2f} %"


def arm_table(arms: dict[str, Path], reference: dict) -> list[str]:
    lines = ["| arm | step | crops | q1 bpp / dB | q8 bpp / dB | BD-rate vs start | BD-rate vs start (EMA) |",
             "|---|---|---|---|---|---|---|"]
    for name, log in arms.items():
        for row in records(log):
            if "val" not in row:
                continue
            ema = bd(reference, row, "val_ema") if "val_ema" in row else "—"
            lines.append(f"| {name} | {row['step']} | {row['step'] * row['batch']} | "
                         f"{row['val']['q1']['bpp']:.3f} / {row['val']['q1']['psnr']:.2f} | "
                         f"{row['val']['q8']['bpp']:.3f} / {row['val']['q8']['psnr']:.2f} | "
                         f"{bd(reference, row)} | {ema} |")
    return lines


def last_validation(log: Path) -> dict:
    return [r for r in records(log) if "val" in r][-1]


def pair_table(arms: dict[str, Path], pairs: list[tuple[str, str]]) -> list[str]:
    lines = ["| pair (A against B, last validations) | BD-rate of A vs B | (EMA) |", "|---|---|---|"]
    for a, b in pairs:
        first, second = last_validation(arms[a]), last_validation(arms[b])
        ema = bd(second["val_ema"], first, "val_ema") if "val_ema" in first and "val_ema" in second else "—"
        lines.append(f"| {a} vs {b} | {bd(second['val'], first)} | {ema} |")
    return lines


def scratch_table(runs: dict[str, Path]) -> list[str]:
    """Training loss per logged step of each run, and the largest relative gap between them."""
    losses = {name: {r["step"]: r["loss"] for r in records(log)} for name, log in runs.items()}
    steps = sorted(set.intersection(*(set(v) for v in losses.values())))
    names = list(runs)
    lines = ["| step | " + " | ".join(f"{n} loss" for n in names) + " | gap |", "|---|" + "---|" * (len(names) + 1)]
    for step in steps:
        values = [losses[n][step] for n in names]
        gap = (max(values) - min(values)) / min(values)
        lines.append(f"| {step} | " + " | ".join(f"{v:.4f}" for v in values) + f" | {100 * gap:.1f} % |")
    for name, log in runs.items():
        for row in records(log):
            if "val" in row:
                cells = ", ".join(f"{q} {v['bpp']:.3f} / {v['psnr']:.2f}" for q, v in row["val"].items()
                                  if q in ("q1", "q4", "q8"))
                lines.append(f"\n{name}, step {row['step']}: validation {cells}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, help="LOG:STEP, the start's validation")
    parser.add_argument("--arm", action="append", default=[], help="NAME=LOG")
    parser.add_argument("--pair", action="append", default=[], help="A,B: arms compared directly")
    parser.add_argument("--scratch", action="append", default=[], help="NAME=LOG of a run from scratch")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    log, step = args.reference.rsplit(":", 1)
    reference = next(r["val"] for r in records(Path(log)) if r["step"] == int(step) and "val" in r)
    arms = {name: Path(path) for name, path in (a.split("=", 1) for a in args.arm)}
    out = ["# float32 against bfloat16 training", "", f"Start: the validation at step {step} of `{log}`.", ""]
    out += arm_table(arms, reference) + [""]
    if args.pair:
        out += pair_table(arms, [tuple(p.split(",", 1)) for p in args.pair]) + [""]
    if args.scratch:
        out += ["From scratch (random weights), training loss (mean of the logged steps):", ""]
        out += scratch_table({n: Path(p) for n, p in (s.split("=", 1) for s in args.scratch)}) + [""]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
