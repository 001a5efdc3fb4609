"""The saving each encoder effort buys, from a `licodec eval --effort 0,...` results folder:

    python -m licodec.evaluation.effort_table results/effort/kodak     (what `make eval-effort` runs)

Per effort: BD-rate against effort 0 of the same model and against the folder's reference
(bd-rate.json), the top level's bpp / PSNR, and the median encode seconds per image (every image
and quality of that curve, this machine). Written as OUT/effort.md.
"""
from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

from licodec.bdrate import compare

_EFFORT = re.compile(r"-e(\d+)$")


def _effort(name: str) -> int:
    match = _EFFORT.search(name)
    return int(match.group(1)) if match else 0


def table(folder: Path) -> str:
    curves = {path.stem: json.loads(path.read_text()) for path in folder.glob("licodec-*.json")}
    base_name = next(name for name in curves if _effort(name) == 0)
    reference = json.loads((folder / "bd-rate.json").read_text())
    against_reference = {row["codec"]: row for row in reference["rows"]}
    lines = [f"| effort | refinement | BD-rate vs effort 0 | BD-rate vs {reference['reference']} | "
             "top level: bpp / PSNR | median encode s per image |", "|---|---|---|---|---|---|"]
    for name in sorted(curves, key=_effort):
        curve = curves[name]
        records = json.loads((folder / "per-image" / f"{name}.json").read_text())
        saving = compare(curves[base_name], curve) if name != base_name else None
        row = against_reference.get(name, {}).get("psnr") or {}
        top = max(range(len(curve["results"]["bpp"])), key=lambda i: curve["results"]["bpp"][i])
        lines.append(
            f"| {_effort(name)} | {curve['meta'].get('refinement', 'none (one pass of g_a)')} | "
            f"{_percent(saving['bd_rate']) if saving else '—'} | {_percent(row.get('bd_rate'))} | "
            f"{curve['results']['bpp'][top]:.3f} / {curve['results']['psnr-rgb'][top]:.2f} | "
            f"{statistics.median(r['encoding_time'] for r in records):.1f} |")
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f} %"


if __name__ == "__main__":
    results = Path(sys.argv[1])
    (results / "effort.md").write_text(table(results))
    print((results / "effort.md").read_text())
