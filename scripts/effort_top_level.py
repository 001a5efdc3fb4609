"""What each encoder effort gains at one quality level, image by image on the same images: mean
bpp and PSNR per effort, their change against effort 0, the median encode seconds. It reads
`licodec eval`'s per-image records, so a higher effort measured on a subset (one level only, its
hours are long) compares with the full runs on that subset:

    licodec eval SUBSET --model student --effort 4 --quality 8 --baselines '' \
        --reference licodec-student-e4 -o results/effort/kodak-q8
    python scripts/effort_top_level.py results/effort/kodak/per-image results/effort/kodak-q8/per-image \
        --quality 8 -o results/effort/kodak-q8/top-level.md

(SUBSET: a folder of links to kodim01, 04, 07, 10, 13, 16, 19, 22.) `--at E=Q` reads effort E
at quality Q instead, for a comparison at equal or lower bpp (a quality a little under q8 where
refinement spends more bits):

    licodec eval SUBSET --model student --effort 4 --quality 7.90625 --baselines '' \
        --reference licodec-student-e4 -o results/effort/kodak-q8-equal-bpp
    python scripts/effort_top_level.py results/effort/kodak/per-image results/effort/kodak-q8/per-image \
        results/effort/kodak-q8-equal-bpp/per-image --quality 8 --at 4=7.90625 \
        -o results/effort/kodak-q8-equal-bpp/top-level.md
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

EFFORT = re.compile(r"-e(\d+)\.json$")  # licodec-student-e3.json; no suffix: effort 0


def records(folders: list[Path], quality: float, at: dict[int, float] | None = None) -> dict[int, dict[str, dict]]:
    """effort → image → the record at `quality` (or at `at[effort]`), over every licodec-*.json
    in the folders."""
    at = at or {}
    found: dict[int, dict[str, dict]] = {}
    for folder in folders:
        for path in sorted(folder.glob("licodec-*.json")):
            match = EFFORT.search(path.name)
            effort = int(match[1]) if match else 0
            for record in json.loads(path.read_text()):
                if record["quality"] == at.get(effort, quality):
                    found.setdefault(effort, {})[record["image"]] = record
    return found


def table(found: dict[int, dict[str, dict]], quality: float, at: dict[int, float] | None = None) -> str:
    images = sorted(set.intersection(*(set(by_image) for by_image in found.values())))
    if 0 not in found or not images:
        raise SystemExit("need effort 0 and at least one image every effort was measured on")

    def mean(effort: int, key: str) -> float:
        return statistics.mean(found[effort][image][key] for image in images)

    elsewhere = "".join(f"; effort {e} at q{q:g}" for e, q in sorted((at or {}).items()))
    lines = [f"q{quality:g}{elsewhere} on {len(images)} images ({', '.join(Path(i).stem for i in images)})", "",
             "| effort | mean bpp | mean PSNR | PSNR vs effort 0 | bpp vs effort 0 | median encode s |",
             "|---|---|---|---|---|---|"]
    for effort in sorted(found):
        bpp, psnr = mean(effort, "bpp"), mean(effort, "psnr-rgb")
        seconds = statistics.median(found[effort][image]["encoding_time"] for image in images)
        lines.append(f"| {effort} | {bpp:.3f} | {psnr:.2f} | {psnr - mean(0, 'psnr-rgb'):+.2f} dB | "
                     f"{100 * (bpp / mean(0, 'bpp') - 1):+.1f} % | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def effort_at(text: str) -> tuple[int, float]:
    effort, _, quality = text.partition("=")
    try:
        return int(effort), float(quality)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected E=Q, e.g. 4=7.90625: {text!r}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="per-image folders of licodec eval")
    parser.add_argument("--quality", type=float, default=8.0)
    parser.add_argument("--at", action="append", default=[], metavar="E=Q", type=effort_at,
                        help="read effort E at quality Q instead (repeatable)")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    at = dict(args.at)
    report = table(records(args.folders, args.quality, at), args.quality, at)
    if args.output:
        args.output.write_text(report)
    print(report, end="")


if __name__ == "__main__":
    main()
