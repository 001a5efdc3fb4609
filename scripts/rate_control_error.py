"""How close rate control lands to its target on a folder of images: mean |error| per target.

    python scripts/rate_control_error.py ../shared/data/kodak --bpp 0.25 --bpp 0.5 --psnr 26 --psnr 28

A size target is met from below (the highest quality that fits) and a PSNR target from above
(the lowest quality that reaches it); the error is the distance to the target, reported over
the images where the model's quality range reaches it.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from licodec import api
from licodec.metrics import psnr
from licodec.rate_control import Target
from licodec.images import list_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images")
    parser.add_argument("--bpp", type=float, action="append", default=[])
    parser.add_argument("--psnr", type=float, action="append", default=[])
    parser.add_argument("--model", default="student")
    args = parser.parse_args()
    torch.set_num_threads(2)
    paths = list_images(args.images)
    print("| target | images met | mean achieved | mean abs error | max abs error | mean quality |")
    print("|---|---|---|---|---|---|")
    for target in [Target("bpp", b) for b in args.bpp] + [Target("psnr", p) for p in args.psnr]:
        achieved, qualities, met_count = [], [], 0
        for path in paths:
            with Image.open(path) as im:
                image = im.convert("RGB")
            result = api.encode_to_target(image, target, args.model)
            data, quality, met = result.data, result.quality, result.met
            if not met:
                continue
            met_count += 1
            qualities.append(quality)
            if target.kind == "bpp":
                achieved.append(8 * len(data) / (image.width * image.height))
            else:
                achieved.append(psnr(np.array(image), np.array(api.decode(data).convert("RGB"))))
        errors = np.abs(np.array(achieved) - target.value)
        unit = "bpp" if target.kind == "bpp" else "dB"
        print(f"| {target.describe()} | {met_count}/{len(paths)} | {np.mean(achieved):.4f} {unit} | "
              f"{errors.mean():.4f} {unit} | {errors.max():.4f} {unit} | {np.mean(qualities):.2f} |")


if __name__ == "__main__":
    main()
