"""How much more training each remaining target needs, if the campaign's learning curve holds.

    L=results/training/student/logs
    python scripts/projection.py $L/student-log.jsonl $L/student-leg3-log.jsonl $L/student-leg4-log.jsonl \
        $L/student-leg8-log.jsonl $L/student-leg8b-log.jsonl $L/student-leg8c-log.jsonl $L/student-leg8d-log.jsonl \
        $L/student-leg8f-log.jsonl $L/student-leg8g-log.jsonl --start-step 3400 \
        --at 12300 --at 29263 --at 32249 --at 45168 --at 55160 --kodak results/kodak/bd-rate.json \
        --target avif --target heif --target bpg_444_x265_ycbcr --target compressai-mbt2018-mean_mse_cpu --target vtm \
        --speed H100=$L/student-leg3-log.jsonl --speed "2-core CPU=$L/student-leg8g-log.jsonl" \
        --teacher results/training/teacher/logs/teacher-log.jsonl

The curve: held-out validations at the ends of learning-rate anneals, or of a moving average of
the weights, which stands in for one (--at, campaign steps as licodec.training.curves counts them
for these logs, the shipped file's lineage; a raw point mid-schedule is not comparable), each as a rate
factor against the last one (1 + BD-rate, PSNR), fitted as a power law of the crops trained on:
factor ∝ crops^−β. Two β: a least-squares fit over all points, and the last two points alone
(the smaller β is the more cautious: after leg 4 it was the last two, since leg 8 it is the fit). A target's Kodak BD-rate and the
student's, against the same anchor (--kodak, `make eval`'s bd-rate.json), give the rate factor
the student still needs, (1 + BD_target) / (1 + BD_student); crops × factor^(−1/β) is where the
curve reaches it. Hours: each --speed log's crops per hour of its own clock. --teacher: the
crops the teacher (its last validation, against the same last student validation) needs to be
5 % ahead of the student, if it learns at the student's β (its own curve is one anneal long),
in hours at its own log's speed, under the first --speed column (where it trained).
An extrapolation, not a measurement: the data (1 166 small photos) and the student's width cap
it somewhere this curve does not show.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from licodec import bdrate
from licodec.training.curves import as_rd_curve, validations

DISTILLATION_MARGIN = 0.95  # the training issue: the teacher ≥ 5 % better than the student


def rate_factor(row: dict, reference: dict) -> float | None:
    """1 + BD-rate of a validation against the reference validation (None: no overlap)."""
    bd = bdrate.compare(as_rd_curve(reference), as_rd_curve(row))
    return None if bd is None else 1 + bd["bd_rate"] / 100


def fit_exponents(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(β over all points, β of the last two) for factor ∝ crops^−β; points: (crops, factor)."""
    crops, factors = (np.log([p[i] for p in points]) for i in (0, 1))
    slope_all = np.polyfit(crops, factors, 1)[0]
    slope_last = (factors[-1] - factors[-2]) / (crops[-1] - crops[-2])
    return -float(slope_all), -float(slope_last)


def crops_per_hour(log: Path) -> float:
    row = validations([log])[-1]
    return row["total_samples"] / (row["total_seconds"] / 3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--start-step", type=int, default=0)
    parser.add_argument("--at", type=int, action="append", required=True)
    parser.add_argument("--kodak", type=Path, required=True)
    parser.add_argument("--model", default="licodec-student")
    parser.add_argument("--target", action="append", default=[])
    parser.add_argument("--speed", action="append", default=[], metavar="NAME=LOG")
    parser.add_argument("--teacher", type=Path)
    args = parser.parse_args()

    rows = {r["total_step"]: r for r in validations(args.logs, args.start_step)}
    missing = [step for step in args.at if step not in rows]
    if missing or len(args.at) < 2:
        raise SystemExit(f"need validations at two or more steps; none at {missing}")
    reference = rows[args.at[-1]]
    points = [(rows[s]["total_samples"], rate_factor(rows[s], reference)) for s in args.at]
    points = [p for p in points if p[1] is not None]
    beta_all, beta_last = fit_exponents(points)
    crops_now = reference["total_samples"]
    speeds = {name: crops_per_hour(Path(log)) for name, log in (s.split("=", 1) for s in args.speed)}

    print("held-out points (crops, rate factor vs the last): "
          + ", ".join(f"{c / 1000:.1f}k {f:.4f}" for c, f in points))
    print(f"β = {beta_all:.3f} (least squares), {beta_last:.3f} (last two points); "
          + ", ".join(f"{name} {rate / 1000:.1f}k crops/h" for name, rate in speeds.items()) + "\n")

    kodak = json.loads(args.kodak.read_text())
    bd = {row["codec"]: row["psnr"]["bd_rate"] for row in kodak["rows"]}
    bd.setdefault(kodak["reference"], 0.0)
    needs = [(f"{name} ({bd[name]:+.1f} %)", (1 + bd[name] / 100) / (1 + bd[args.model] / 100), crops_now, speeds)
             for name in args.target]
    if args.teacher:
        teacher_row = validations([args.teacher])[-1]
        factor = DISTILLATION_MARGIN / rate_factor(teacher_row, reference)
        teacher_speed = {next(iter(speeds)): crops_per_hour(args.teacher)} if speeds else {}
        needs.append(("teacher 5 % ahead of the student", factor, teacher_row["total_samples"], teacher_speed))

    hours = " | ".join(f"{name} h (β {b:.2f})" for name in speeds for b in (beta_all, beta_last))
    print(f"| target | rate factor needed | crops × (β {beta_all:.2f} / {beta_last:.2f}) | {hours} |")
    print("|---|---|---|" + "---|" * (2 * len(speeds)))
    for label, factor, crops, rates in needs:
        multiples = [factor ** (-1 / b) for b in (beta_all, beta_last)]
        cells = [f"{crops * (m - 1) / rates[name]:.1f}" if name in rates else "—"
                 for name in speeds for m in multiples]
        print(f"| {label} | {factor:.3f} | {multiples[0]:.2f} / {multiples[1]:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
