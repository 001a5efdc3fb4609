"""A markdown table of training runs from their logs: steps, time, and the last validation.

    python -m licodec.training.summary runs/short/plain runs/short/feds runs/short/smodi
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def summarise(runs: list[Path]) -> str:
    lines = ["| run | architecture | steps | seconds | s/step | Kodak q1 bpp / dB | q4 bpp / dB | q8 bpp / dB |",
             "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        last = records[-1]
        validated = [r for r in records if "val" in r]
        cells = [f"{v['bpp']:.3f} / {v['psnr']:.2f}" for v in validated[-1]["val"].values()] if validated else ["—"] * 3
        provenance = json.loads(_metadata(run / "weights.safetensors").get("provenance", "{}"))
        arch = "derived from teacher" if provenance.get("derive_student") == "True" else provenance.get("arch", "?")
        lines.append(f"| {run.name} | {arch} | {last['step']} | {last['seconds']:.0f} | "
                     f"{last['seconds'] / last['step']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _metadata(path: Path) -> dict:
    from licodec.weights import read_info

    return read_info(path).metadata if path.exists() else {}


if __name__ == "__main__":
    print(summarise([Path(p) for p in sys.argv[1:]]), end="")
