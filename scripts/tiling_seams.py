"""Tiled against untiled coding of one large image: file size and PSNR (seams would cost PSNR).

    python scripts/tiling_seams.py ../shared/data/kodak --tile 512 --tile 1024

The image is a 3×3 mosaic of the folder's first nine photos (2304×1536, cropped to 2250×1500 so
that the edges are not multiples of the tile), small enough to code untiled too. Each --tile
value codes it with g_a and g_s run on tiles of that size (licodec.models.engine.TILE).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from licodec.metrics import psnr
from licodec.models import engine
from licodec.models.codec import rgb_to_tensor
from licodec.images import list_images
from licodec.weights import load_model, resolve


def mosaic(folder: str) -> np.ndarray:
    photos = [np.asarray(Image.open(p).convert("RGB").resize((768, 512), Image.LANCZOS))
              for p in list_images(folder)[:9]]
    rows = [np.hstack(photos[3 * r : 3 * r + 3]) for r in range(3)]
    return np.ascontiguousarray(np.vstack(rows)[:1500, :2250])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images")
    parser.add_argument("--tile", type=int, action="append", default=[])
    parser.add_argument("--model", default="student")
    parser.add_argument("--quality", type=float, default=4.0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_model(resolve(args.model))
    rgb = mosaic(args.images)
    x = rgb_to_tensor(rgb, scaled=False)
    print("| tiles | bytes | PSNR | seconds (encode + decode) |")
    print("|---|---|---|---|")
    for tile in [100_000, *args.tile]:
        engine.TILE = tile
        began = time.perf_counter()
        compressed = model.compress(x, args.quality)
        pixels = model.decompress(compressed.data, *rgb.shape[:2], args.quality)[0]
        label = "none (whole image)" if tile == 100_000 else f"{tile}² + {engine.MARGIN} px margins"
        print(f"| {label} | {len(compressed.data)} | {psnr(rgb, pixels):.4f} | {time.perf_counter() - began:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
