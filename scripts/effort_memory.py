"""Peak memory (RSS) of the encoder's latent refinement on a large photo.

    python scripts/effort_memory.py ../shared/data/kodak/kodim01.png --size 4000x3000

The refinement runs window by window (licodec.models.refine: TILE latents and MARGIN of
context), and what a window holds (its latents, their Adam moments, one forward's activations
for the backward) does not depend on how many iterations it runs: the peak of 2 iterations per
window is the peak of every effort level. Writes one line of markdown to stdout.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from PIL import Image

from licodec.models.codec import rgb_to_tensor
from licodec.models.refine import Schedule, refine
from licodec.weights import load_model, resolve

Image.MAX_IMAGE_PIXELS = None  # our own input, made here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo")
    parser.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT")
    parser.add_argument("--quality", type=float, default=8.0)
    parser.add_argument("--iterations", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(2)
    width, height = (int(v) for v in args.size.split("x"))
    rgb = np.array(Image.open(args.photo).convert("RGB").resize((width, height), Image.LANCZOS))
    net = load_model(resolve("student"))
    x = rgb_to_tensor(rgb, scaled=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    refine(net, x, args.quality, Schedule(args.iterations))
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {width}×{height} | {width * height / 1e6:.1f} MP | q{args.quality:g} | {args.iterations} iterations "
          f"per window | peak RSS {peak:.0f} MB (before refining: {before:.0f} MB) | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
