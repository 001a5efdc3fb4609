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
from licodec.training.data import list_images
from licodec.weights import load_model, resolve


def measure(model, rgb: np.ndarray, quality: float, exact: bool) -> tuple[float, float]:
    """(bpp, PSNR) of one image coded through one path; PSNR of the 8-bit decoded pixels."""
    height, width = rgb.shape[:2]
    compressed = model.compress(rgb_to_tensor(rgb), quality, exact=exact)
    decoded = model.synthesis(compressed.y_hat, height, width)
    return 8 * len(compressed.data) / (height * width), psnr(rgb, decoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images")
    parser.add_argument("--model", default="student")
    parser.add_argument("--quality", type=float, action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_model(resolve(args.model))
    qualities = args.quality or [float(q) for q in range(1, 9)]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in list_images(args.images)]
    rows = {True: [], False: []}
    print("| quality | bpp exact | bpp float | rate change | PSNR exact | PSNR float |")
    print("|---|---|---|---|---|---|")
    with torch.no_grad():
        for quality in qualities:
            for exact in (True, False):
                rows[exact].append(np.mean([measure(model, rgb, quality, exact) for rgb in images], axis=0))
            (bpp_e, psnr_e), (bpp_f, psnr_f) = rows[True][-1], rows[False][-1]
            print(f"| {quality:g} | {bpp_e:.4f} | {bpp_f:.4f} | {100 * (bpp_e / bpp_f - 1):+.2f} % | "
                  f"{psnr_e:.3f} | {psnr_f:.3f} |", flush=True)
    exact, reference = np.array(rows[True]), np.array(rows[False])
    bd = bd_rate(reference[:, 0], reference[:, 1], exact[:, 0], exact[:, 1], method="akima")
    print(f"\nBD-rate of the exact path against the float path ({len(images)} images): {bd:+.2f} %")


if __name__ == "__main__":
    main()
