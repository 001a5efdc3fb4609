"""What the integer entropy-parameter networks cost against the float ones, on a folder of images.

    python scripts/exactness_cost.py ../shared/data/kodak --model student

Per quality: mean bpp and PSNR of real coded streams, through the exact path (what .lic files
use) and the float reference path (`compress(exact=False)`, μ and ŷ rounded to the same grids),
the rate change at that quality, and the BD-rate of exact against float over all qualities
(negative: the exact path is cheaper).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from bjontegaard import bd_rate
from PIL import Image

from licodec.metrics import psnr
from licodec.models.codec import rgb_to_tensor
from licodec.images import list_images
from licodec.weights import load_model, resolve


def measure(model, rgb: np.ndarray, quality: float, exact: bool) -> tuple[float, float]:
    """(bpp, PSNR) of one image coded through one path; PSNR of the 8-bit decoded pixels."""
    height, width = rgb.shape[:2]
    compressed = model.compress(rgb_to_tensor(rgb), quality, exact=exact)
    decoded = model.synthesis(compressed.y_hat, height, width)
    return 8 * len(compressed.data) / (height * width), psnr(rgb, decoded)


def compare(images: list[np.ndarray], qualities: list[float], measure, labels: tuple[str, str]) -> float:
    """Print a markdown table of mean (bpp, PSNR) per quality for two variants of the coder,
    `measure(rgb, quality, first: bool)`, and return the first's BD-rate against the second."""
    rows: dict[bool, list] = {True: [], False: []}
    first, second = labels
    print(f"| quality | bpp {first} | bpp {second} | rate change | PSNR {first} | PSNR {second} |")
    print("|---|---|---|---|---|---|")
    with torch.no_grad():
        for quality in qualities:
            for variant in (True, False):
                rows[variant].append(np.mean([measure(rgb, quality, variant) for rgb in images], axis=0))
            (bpp_a, psnr_a), (bpp_b, psnr_b) = rows[True][-1], rows[False][-1]
            print(f"| {quality:g} | {bpp_a:.4f} | {bpp_b:.4f} | {100 * (bpp_a / bpp_b - 1):+.2f} % | "
                  f"{psnr_a:.3f} | {psnr_b:.3f} |", flush=True)
    a, b = np.array(rows[True]), np.array(rows[False])
    return bd_rate(b[:, 0], b[:, 1], a[:, 0], a[:, 1], method="akima")


def arguments(description: str) -> tuple[argparse.Namespace, list[np.ndarray], list[float]]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("images")
    parser.add_argument("--model", default="student")
    parser.add_argument("--quality", type=float, action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(2)
    images = [np.asarray(Image.open(p).convert("RGB")) for p in list_images(args.images)]
    return args, images, args.quality or [float(q) for q in range(1, 9)]


def report(doc: str, measure, labels: tuple[str, str], what: str) -> None:
    """The command line of a comparison script: the table, then the BD-rate of `what`."""
    args, images, qualities = arguments(doc.split("\n\n")[0])
    model = load_model(resolve(args.model))
    bd = compare(images, qualities, lambda rgb, q, first: measure(model, rgb, q, first), labels)
    print(f"\nBD-rate of {what} ({len(images)} images): {bd:+.2f} %")


def main() -> None:
    report(__doc__, measure, ("exact", "float"), "the exact path against the float path")


if __name__ == "__main__":
    main()
