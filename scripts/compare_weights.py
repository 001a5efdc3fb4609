"""Two weights files side by side on a folder of images: estimated bpp and PSNR per quality.

Used to check that float16 storage (`licodec export --half`) codes like the float32 original:

    python scripts/compare_weights.py runs/x/weights.safetensors weights/student.safetensors ../shared/data/kodak
    python scripts/compare_weights.py runs/t/weights.safetensors weights/teacher.safetensors ../shared/data/kodak --limit 6

(--limit N: the folder's first N images, for a large model on a small machine.)
"""
from __future__ import annotations

import argparse

import torch

from licodec.training.validate import ALL_LEVELS, load_images, validate
from licodec.weights import load_model, read_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("images")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    images = load_images(args.images, args.limit)
    a, b = (validate(load_model(read_info(path)), images, ALL_LEVELS) for path in (args.a, args.b))
    print("| quality | bpp A | bpp B | B / A | PSNR A | PSNR B | B − A (dB) |\n|---|---|---|---|---|---|---|")
    for q in a:
        print(f"| {q} | {a[q]['bpp']:.4f} | {b[q]['bpp']:.4f} | {b[q]['bpp'] / a[q]['bpp']:.4f} | "
              f"{a[q]['psnr']:.3f} | {b[q]['psnr']:.3f} | {b[q]['psnr'] - a[q]['psnr']:+.3f} |")


if __name__ == "__main__":
    main()
