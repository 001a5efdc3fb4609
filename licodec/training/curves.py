"""Learning curves of a training campaign: validation bpp / PSNR per quality level against steps
and wall time, from the legs' logs (one log per leg; a leg resumes from the previous weights).

    python -m licodec.training.curves results/training/student/logs/student-log.jsonl --start-step 3400 -o results/training/student

writes campaign.md (a table per validation) and campaign.png (PSNR per level against steps and
against hours, and the RD curve at each validation). --start-step counts the steps the first leg
started from; --reference-step N adds each validation's BD-rate (PSNR, over all levels, the model's rate
estimates) against the validation at campaign step N, e.g. the shipped weights'; with
--reference-log LOG, N is a step of that log instead (another model's validation on the same
held-out images, e.g. the teacher's campaign against the shipped student).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from licodec import bdrate


def validations(logs: list[Path], start_step: int = 0) -> list[dict]:
    """Every validation record, with campaign-wide `total_step`, `total_seconds` and
    `total_samples` (crops trained on in these logs: each record's batch × the steps since the
    last record; legs differ in batch, so steps alone do not compare them). A record that also
    validated the moving average (`val_ema`) gives a second row, marked `averaged`."""
    rows, step_offset, seconds_offset, samples = [], start_step, 0.0, 0
    for log in logs:
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        previous_step = 0
        for record in records:
            # max(): a resumed run may log a few steps twice
            samples += record.get("batch", 0) * max(0, record["step"] - previous_step)
            previous_step = max(previous_step, record["step"])
            totals = {"total_step": step_offset + record["step"], "total_samples": samples,
                      "total_seconds": seconds_offset + record["seconds"]}
            if "val" in record:
                rows.append({**record, **totals, "leg": log.name})
            if "val_ema" in record:  # --ema's moving average, validated beside the raw weights
                rows.append({**record, **totals, "val": record["val_ema"], "leg": f"{log.name} (average)",
                             "averaged": True})
        if records:
            step_offset += records[-1]["step"]
            seconds_offset += records[-1]["seconds"]
    return rows


def as_rd_curve(row: dict) -> dict:
    """A validation as an RD curve in the schema licodec.bdrate reads."""
    points = list(row["val"].values())
    return {"results": {"bpp": [p["bpp"] for p in points], "psnr-rgb": [p["psnr"] for p in points]}}


def table(rows: list[dict], reference: dict | None = None) -> str:
    levels = list(rows[0]["val"]) if rows else []
    extra = f" BD-rate vs step {reference['total_step']} |" if reference else ""
    lines = ["| leg | step | total step | crops (k) | hours (legs) | " + " | ".join(f"{q} bpp / dB" for q in levels)
             + " |" + extra, "|---|---|---|---|---|" + "---|" * (len(levels) + bool(reference))]
    for row in rows:
        cells = [f"{row['val'][q]['bpp']:.3f} / {row['val'][q]['psnr']:.2f}" for q in levels]
        if reference:
            bd = bdrate.compare(as_rd_curve(reference), as_rd_curve(row))
            cells.append("—" if bd is None else f"{bd['bd_rate']:+.2f} %")
        lines.append(f"| {row['leg']} | {row['step']} | {row['total_step']} | {row['total_samples'] / 1000:.1f} | "
                     f"{row['total_seconds'] / 3600:.2f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


RD_CURVES = 12  # curves in the RD panel: more make its legend unreadable


def rows_to_draw(rows: list[dict], count: int) -> list[dict]:
    """COUNT rows spread evenly over the campaign, the first and the last among them."""
    if len(rows) <= count:
        return rows
    return [rows[round(i * (len(rows) - 1) / (count - 1))] for i in range(count)]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_crops, by_hours, rd) = plt.subplots(1, 3, figsize=(17, 4.5))
    # The same validations against crops trained on (legs differ in batch, so not steps) and against
    # the loop's wall clock: legs on a GPU and on the CPU differ ~30x in seconds per crop, so only
    # both axes together show the cost.
    for axis, key, scale, label in ((by_crops, "total_samples", 1000, "crops trained on (thousands)"),
                                    (by_hours, "total_seconds", 3600, "hours of training (the legs' clocks)")):
        raw, averaged = ([r for r in rows if r.get("averaged", False) == kind] for kind in (False, True))
        for q in rows[0]["val"]:
            line, = axis.plot([r[key] / scale for r in raw], [r["val"][q]["psnr"] for r in raw], marker=".", label=q)
            axis.plot([r[key] / scale for r in averaged], [r["val"][q]["psnr"] for r in averaged], marker="x",
                      linestyle="none", color=line.get_color())  # the moving average's validations
        axis.set_xlabel(label)
        axis.set_ylabel("validation PSNR (dB; x: moving average)")
        axis.legend(ncol=2, fontsize=8)
    shown = rows_to_draw(rows, RD_CURVES)
    colours = plt.cm.viridis([i / max(1, len(shown) - 1) for i in range(len(shown))])
    for row, colour in zip(shown, colours):
        points = list(row["val"].values())
        rd.plot([p["bpp"] for p in points], [p["psnr"] for p in points], color=colour, marker=".",
                label=f"step {row['total_step']}" + (" (average)" if row.get("averaged") else ""))
    rd.set_xlabel("bpp (estimated)")
    rd.set_ylabel("PSNR (dB)")
    rd.legend(fontsize=7, ncol=2)
    figure.suptitle("held-out training images: validation during the campaign")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def reference_validation(rows: list[dict], step: int, log: Path | None = None, averaged: bool = False) -> dict:
    """The validation at campaign `step` of `rows`, or at `step` of another run's `log`; of the
    moving average there if `averaged` (a shipped file may be an exported average)."""
    candidates = validations([log]) if log else rows
    found = next((r for r in candidates if r["total_step"] == step and r.get("averaged", False) == averaged), None)
    if found is None:
        kind = "moving-average validation" if averaged else "validation"
        raise SystemExit(f"no {kind} at step {step} in {log or 'these logs'}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--start-step", type=int, default=0)
    parser.add_argument("--reference-step", type=int, default=None)
    parser.add_argument("--reference-log", type=Path, default=None)
    parser.add_argument("--reference-average", action="store_true",
                        help="compare with the moving average's validation at --reference-step")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    rows = validations(args.logs, args.start_step)
    if not rows:
        raise SystemExit("no validation records in these logs")
    reference = None
    if args.reference_step is not None:
        reference = reference_validation(rows, args.reference_step, args.reference_log, args.reference_average)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "campaign.md").write_text(table(rows, reference))
    plot(rows, args.output / "campaign.png")


if __name__ == "__main__":
    main()
