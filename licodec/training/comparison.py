"""The distillation comparison: arms trained from the same seed, crops and schedule, each
validated on the same held-out images, against their teacher and against the plain control.

    python -m licodec.training.comparison validate-teacher weights/student.safetensors \
        --data ../shared/data/train --holdout 24 -o results/distillation/teacher-val.json
    python -m licodec.training.comparison report --teacher results/distillation/teacher-val.json \
        --control plain plain=results/distillation/logs/plain.jsonl feds=results/distillation/logs/feds.jsonl \
        -o results/distillation
    python -m licodec.training.comparison holdout ../shared/data/train --holdout 24 -o runs/holdout
        # the held-out images as a folder (links), for `licodec eval` on real files

`report` writes summary.md (each arm's last validation), comparison.md (each validation's BD-rate and BD-PSNR against the teacher, its
BD-rate against the control at the same step, and its BD-PSNR against the control at the same
CPU hours) and comparison.png (against the teacher, by crops and by CPU hours). All are of PSNR
over the 8 levels, on the models' rate estimates (licodec.training.validate), each curve cut to
its Pareto front (an early curve plateaus at the top levels). BD-PSNR is over the rates both
curves cover, so it exists where an arm's PSNR range is still below the teacher's. CPU hours are
the log's `cpu_seconds`, the process's CPU time, so a paused or starved run is not charged for
the pause, and the teacher's forward is in them; at equal hours the control's BD-PSNR is
interpolated linearly between its validations.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from licodec import bdrate
from licodec.training.curves import as_rd_curve



def validations(log: Path) -> list[dict]:
    """An arm's validation records, with the crops trained on up to each."""
    rows, crops, previous = [], 0, 0
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        crops += record.get("batch", 0) * max(0, record["step"] - previous)
        previous = max(previous, record["step"])
        if "val" in record:
            rows.append({**record, "crops": crops, "cpu_hours": record.get("cpu_seconds", 0.0) / 3600})
    return rows


def curve(validation: dict) -> dict:
    """A validation as an RD curve, its points off the Pareto front dropped (an early training
    curve plateaus at the top levels, and BD measures need a rising curve)."""
    return bdrate.pareto_front(as_rd_curve(validation))


def bd_rate(reference: dict, row: dict) -> float | None:
    found = bdrate.compare(curve(reference), curve(row))
    return None if found is None else found["bd_rate"]


def interpolate(points: list[tuple[float, float]], x: float) -> float | None:
    """y at x on the polyline through `points` (sorted by x); None outside it."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[0][1] if len(points) == 1 and points[0][0] == x else None


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f} %"


def _decibels(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f} dB"


def report_rows(teacher: dict, arms: dict[str, list[dict]], control: str) -> list[dict]:
    """Each validation of each arm: BD-rate and BD-PSNR against the teacher; BD-rate against the
    control at the same step; and, at the same CPU hours, the arm's BD-PSNR vs the teacher less
    the control's there (interpolated between its validations), in dB: BD-PSNR exists from the
    first validation on, where an early curve's PSNR range misses the teacher's."""
    control_by_step = {row["step"]: row for row in arms[control]}
    control_by_hours = [(row["cpu_hours"], bdrate.psnr_at_equal_rates(curve(teacher), curve(row)))
                        for row in arms[control]]
    control_by_hours = [(h, db) for h, db in control_by_hours if db is not None]
    rows = []
    for arm, records in arms.items():
        for row in records:
            psnr_vs_teacher = bdrate.psnr_at_equal_rates(curve(teacher), curve(row))
            same_step = control_by_step.get(row["step"])
            at_hours = interpolate(control_by_hours, row["cpu_hours"])
            rows.append({"arm": arm, "step": row["step"], "crops": row["crops"], "cpu_hours": row["cpu_hours"],
                         "val": row["val"], "vs_teacher": bd_rate(teacher, row), "psnr_vs_teacher": psnr_vs_teacher,
                         "vs_control_step": None if same_step is None else bd_rate(same_step, row),
                         "db_vs_control_step": None if same_step is None
                         else bdrate.psnr_at_equal_rates(curve(same_step), curve(row)),
                         "vs_control_hours": None if None in (psnr_vs_teacher, at_hours)
                         else psnr_vs_teacher - at_hours})
    return rows


def table(rows: list[dict]) -> str:
    levels = list(rows[0]["val"]) if rows else []
    lines = ["| arm | step | crops (k) | CPU hours | " + " | ".join(f"{q} bpp / dB" for q in levels)
             + " | BD-rate vs teacher | BD-PSNR vs teacher | BD-rate vs control, same step | "
             "BD-PSNR vs control, same step | dB vs control, same CPU hours |",
             "|---|---|---|---|" + "---|" * (len(levels) + 5)]
    for row in rows:
        cells = [f"{row['val'][q]['bpp']:.3f} / {row['val'][q]['psnr']:.2f}" for q in levels]
        lines.append(f"| {row['arm']} | {row['step']} | {row['crops'] / 1000:.1f} | {row['cpu_hours']:.2f} | "
                     + " | ".join(cells) + f" | {_percent(row['vs_teacher'])} | {_decibels(row['psnr_vs_teacher'])}"
                     f" | {_percent(row['vs_control_step'])} | {_decibels(row['db_vs_control_step'])}"
                     f" | {_decibels(row['vs_control_hours'])} |")
    return "\n".join(lines) + "\n"


def summary(rows: list[dict]) -> str:
    """Each arm's last validation: the figures the note and README quote."""
    last = {row["arm"]: row for row in rows}  # rows are in step order per arm
    lines = ["| arm | step | CPU hours | BD-rate vs teacher | BD-PSNR vs teacher | BD-rate vs control, same step | "
             "BD-PSNR vs control, same step | dB vs control, same CPU hours |", "|---|---|---|---|---|---|---|---|"]
    for row in last.values():
        lines.append(f"| {row['arm']} | {row['step']} | {row['cpu_hours']:.2f} | {_percent(row['vs_teacher'])} | "
                     f"{_decibels(row['psnr_vs_teacher'])} | {_percent(row['vs_control_step'])} | "
                     f"{_decibels(row['db_vs_control_step'])} | {_decibels(row['vs_control_hours'])} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    metrics = (("vs_teacher", "BD-rate vs the teacher (%)"), ("psnr_vs_teacher", "BD-PSNR vs the teacher (dB)"))
    for row_axes, (metric, ylabel) in zip(axes, metrics):
        for axis, key, scale, label in ((row_axes[0], "crops", 1000, "crops trained on (thousands)"),
                                        (row_axes[1], "cpu_hours", 1, "CPU hours (the teacher's forward included)")):
            for arm in dict.fromkeys(row["arm"] for row in rows):
                points = [(r[key] / scale, r[metric]) for r in rows if r["arm"] == arm and r[metric] is not None]
                axis.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=arm)
            axis.set_xlabel(label)
            axis.set_ylabel(f"held-out {ylabel}, estimated")
            axis.axhline(0, color="grey", linewidth=0.5)
            axis.legend()
    figure.suptitle("distillation arms: held-out images, all 8 levels")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def validate_teacher(weights: Path, data: Path, holdout: int) -> dict:
    """The teacher's validation on the held-out images of `data`, as a training log records it."""
    from licodec.training.data import split_holdout
    from licodec.training.validate import ALL_LEVELS, load_images, validate
    from licodec.weights import load_model, read_info

    images = load_images(split_holdout(data, holdout)[1])
    return {"weights": str(weights), "model_id": read_info(weights).model_id.hex(), "holdout": holdout,
            "val": validate(load_model(read_info(weights)), images, ALL_LEVELS)}


def link_holdout(data: Path, holdout: int, folder: Path) -> None:
    """The held-out images of `data` (as training splits them) as links in `folder`."""
    from licodec.training.data import split_holdout

    folder.mkdir(parents=True, exist_ok=True)
    for image in split_holdout(data, holdout)[1]:
        link = folder / image.name
        if not link.exists():
            link.symlink_to(image.resolve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    teacher = commands.add_parser("validate-teacher")
    teacher.add_argument("weights", type=Path)
    teacher.add_argument("--data", type=Path, required=True)
    teacher.add_argument("--holdout", type=int, required=True)
    teacher.add_argument("-o", "--output", type=Path, required=True)
    holdout = commands.add_parser("holdout")
    holdout.add_argument("data", type=Path)
    holdout.add_argument("--holdout", type=int, required=True)
    holdout.add_argument("-o", "--output", type=Path, required=True)
    report = commands.add_parser("report")
    report.add_argument("arms", nargs="+", metavar="NAME=LOG")
    report.add_argument("--teacher", type=Path, required=True)
    report.add_argument("--control", required=True)
    report.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "validate-teacher":
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(validate_teacher(args.weights, args.data, args.holdout), indent=1) + "\n")
        return
    if args.command == "holdout":
        link_holdout(args.data, args.holdout, args.output)
        return
    arms = {name: validations(Path(log)) for name, log in (arm.split("=", 1) for arm in args.arms)}
    if args.control not in arms:
        raise SystemExit(f"--control {args.control}: not among the arms ({', '.join(arms)})")
    rows = report_rows(json.loads(args.teacher.read_text()), arms, args.control)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "comparison.md").write_text(table(rows))
    (args.output / "summary.md").write_text(summary(rows))
    plot(rows, args.output / "comparison.png")


if __name__ == "__main__":
    main()
