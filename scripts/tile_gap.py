"""Whole-image vs tiled rate: what the entropy model loses or gains when it sees whole images.

The training issue's first cause: a model trained on small crops codes the same pixels as
independent 128² tiles far cheaper than as one image (its hyperprior never saw an interior
position). For each quality, the model's estimated bpp and PSNR on each image cropped to a
multiple of the tile, coded whole and as independent tiles; gap = whole / tiled − 1.

    python scripts/tile_gap.py weights/student.safetensors ../shared/data/kodak --tile 128 --tile 256
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from licodec.training.losses import bits_per_pixel
from licodec.training.validate import load_images
from licodec.weights import load_model, read_info


@torch.no_grad()
def bits_and_squared_error(model, x: torch.Tensor, quality: float) -> tuple[float, float]:
    out = model(x, torch.tensor([quality]))
    x_hat = torch.round(out["x_hat"].clamp(0, 1) * 255)
    bits = float(bits_per_pixel(out["likelihoods"], 1))
    return bits, float(((x_hat - x * 255) ** 2).sum())


def tiled(model, x: torch.Tensor, tile: int, quality: float) -> tuple[float, float]:
    totals = np.zeros(2)
    for top in range(0, x.shape[-2], tile):
        for left in range(0, x.shape[-1], tile):
            totals += bits_and_squared_error(model, x[..., top : top + tile, left : left + tile], quality)
    return float(totals[0]), float(totals[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights")
    parser.add_argument("images")
    parser.add_argument("--tile", type=int, action="append", required=True)
    parser.add_argument("--quality", type=float, action="append", default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_model(read_info(args.weights))
    images = load_images(args.images)
    print("| quality | tile | whole bpp | tiled bpp | whole / tiled | whole PSNR | tiled PSNR |")
    print("|---|---|---|---|---|---|---|")
    for quality in args.quality or [1.0, 4.0, 8.0]:
        for tile in args.tile:
            whole, parts = np.zeros(2), np.zeros(2)
            pixels = 0
            for x in images:
                h, w = (x.shape[-2] // tile) * tile, (x.shape[-1] // tile) * tile
                x = x[..., :h, :w]
                pixels += h * w * 3
                whole += bits_and_squared_error(model, x, quality)
                parts += tiled(model, x, tile, quality)
            psnr = [10 * np.log10(255**2 * pixels / err) for err in (whole[1], parts[1])]
            bpp = [3 * bits / pixels for bits in (whole[0], parts[0])]
            print(f"| {quality:g} | {tile} | {bpp[0]:.4f} | {bpp[1]:.4f} | {bpp[0] / bpp[1]:.3f} | "
                  f"{psnr[0]:.2f} | {psnr[1]:.2f} |")


if __name__ == "__main__":
    main()
