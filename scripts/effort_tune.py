"""Tune the encoder's latent refinement (licodec.models.refine) on held-out training images.

    python scripts/effort_tune.py ../shared/data/train --images 6 --quality 1,3,5,7 \
        --schedule 50:0.01:0.05 --schedule 50:0.02:0.05

Each --schedule is ITERATIONS:LEARNING_RATE:END_TEMPERATURE[:latent][:lrEND] (parse_schedule). Every image is coded for real (the
exact coder, then the unchanged decoder); the table gives the mean bpp and PSNR per quality and
the BD-rate against effort 0. The images are `--holdout 24` of the training folder, the ones
`licodec train --holdout 24` validates on: the test sets (Kodak, wikipedia-photos) never choose.
Results are cached per (image, quality, schedule) in --cache, so a longer grid can grow over runs.
Output: results/effort/tune.md (--out).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from licodec.bdrate import compare
from licodec.metrics import psnr
from licodec.models.codec import rgb_to_tensor
from licodec.models.refine import Schedule, refine
from licodec.training.data import split_holdout
from licodec.weights import load_model, resolve


def parse_schedule(text: str) -> Schedule:
    """ITERATIONS:LEARNING_RATE:END_TEMPERATURE, then optionally `latent` (Schedule.step_unit;
    bins by default) and `lrX` (Schedule.end_learning_rate X), e.g. 50:0.02:0.05:lr0.002."""
    iterations, learning_rate, end_temperature, *extras = text.split(":")
    options: dict = {}
    for extra in extras:
        if extra.startswith("lr"):
            options["end_learning_rate"] = float(extra[2:])
        else:
            options["step_unit"] = extra
    return Schedule(int(iterations), float(learning_rate), end_temperature=float(end_temperature), **options)


def code(net, rgb: np.ndarray, quality: float, schedule: Schedule) -> dict:
    height, width = rgb.shape[:2]
    start = time.perf_counter()
    y_gained, z = refine(net, rgb_to_tensor(rgb, scaled=False), quality, schedule)
    streams = net.latent_codec.compress_gained(y_gained, z, quality)
    seconds = time.perf_counter() - start
    pixels = net.decompress(streams.data, height, width, quality, expected=streams.digests)[0]  # raises on drift
    return {"bpp": len(streams.data) * 8 / (height * width), "psnr": psnr(rgb, pixels), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--quality", default="1,3,5,7")
    parser.add_argument("--schedule", action="append", default=[])
    parser.add_argument("--model", default="student")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("results/effort/cache/tune.json"))
    parser.add_argument("--out", type=Path, default=Path("results/effort/tune.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = load_model(resolve(args.model))
    qualities = [float(q) for q in args.quality.split(",")]
    images = split_holdout(args.data, 24)[1][: args.images]
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    names = ["0:0:0", *args.schedule]
    curves = {}
    for name in names:
        schedule = Schedule(0) if name == "0:0:0" else parse_schedule(name)
        rows = []
        for quality in qualities:
            points = []
            for path in images:
                key = f"{args.model}|{path.name}|{quality}|{name}"
                if key not in cache:
                    cache[key] = code(net, np.array(Image.open(path).convert("RGB")), quality, schedule)
                    args.cache.parent.mkdir(parents=True, exist_ok=True)
                    args.cache.write_text(json.dumps(cache, indent=0))
                points.append(cache[key])
            rows.append({k: float(np.mean([p[k] for p in points])) for k in ("bpp", "psnr", "seconds")})
            print(name, quality, rows[-1], flush=True)
        curves[name] = {"results": {"bpp": [r["bpp"] for r in rows], "psnr-rgb": [r["psnr"] for r in rows]},
                        "seconds": [r["seconds"] for r in rows]}
    write_table(args, images, qualities, curves)


def write_table(args, images: list[Path], qualities: list[float], curves: dict) -> None:
    lines = [f"# Latent refinement on {len(images)} held-out training images", "",
             "Command: `python scripts/effort_tune.py " + " ".join(
                 [str(args.data), f"--images {args.images}", f"--quality {args.quality}"]
                 + [f"--schedule {s}" for s in args.schedule]) + "`", "",
             "Schedule: iterations:learning rate:end temperature (start 0.5)[:latent: the step in units "
             "of y, not of the quantiser's bins][:lrX: the lr falls exponentially to X]. Mean bpp / PSNR per quality; "
             "seconds: mean encode time per image (refinement + coding, this 2-core CPU, not quiet).", "",
             "| schedule | " + " | ".join(f"q{q:g}" for q in qualities) + " | s/image | BD-rate vs effort 0 |",
             "|---" * (len(qualities) + 3) + "|"]
    base = curves["0:0:0"]
    for name, curve in curves.items():
        cells = [f"{b:.3f} / {p:.2f}" for b, p in zip(curve["results"]["bpp"], curve["results"]["psnr-rgb"])]
        bd = compare(base, curve) if name != "0:0:0" else None
        saving = f"{bd['bd_rate']:+.2f} %" if bd else "—"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean(curve['seconds']):.1f} | {saving} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
