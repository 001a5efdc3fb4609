"""g_a and g_s of the shipped student eager against fused (licodec.models.fused), interleaved in
one process so that both see the same machine, and how far apart their pixels are.

    python scripts/fused_ab.py data/kodim23.png --repeats 9
    python scripts/fused_ab.py data/kodim23.png --resize 2048x1536 --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from licodec.models.codec import rgb_to_tensor
from licodec.weights import load_model, resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--resize", default=None, help="WxH")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = Image.open(args.image).convert("RGB")
    if args.resize:
        image = image.resize(tuple(int(v) for v in args.resize.split("x")), Image.LANCZOS)
    net = load_model(resolve("student"))
    x = rgb_to_tensor(np.array(image), scaled=False)
    times = {kernels: {"g_a": [], "g_s": []} for kernels in ("eager", "fused")}
    pixels = {}
    with torch.inference_mode():
        y_hat = torch.round(net.analysis(x))  # a stand-in for ŷ: the same input for both
        for round_ in range(args.repeats + 1):  # the first round warms up and is dropped
            for kernels in times:
                net.engine.fused = kernels == "fused"
                began = time.perf_counter()
                net.analysis(x)
                middle = time.perf_counter()
                pixels[kernels] = net.synthesis(y_hat, image.height, image.width)
                if round_:
                    times[kernels]["g_a"].append(middle - began)
                    times[kernels]["g_s"].append(time.perf_counter() - middle)
    print(f"{image.width}x{image.height}, {args.threads} threads, g_a/g_s in "
          f"{'bfloat16' if net.engine.bfloat16 else 'float32'}, median of {args.repeats}:")
    for kernels, spent in times.items():
        print(f"  {kernels}: g_a {statistics.median(spent['g_a']):.3f} s, g_s {statistics.median(spent['g_s']):.3f} s")
    for stage in ("g_a", "g_s"):
        ratio = statistics.median(times["fused"][stage]) / statistics.median(times["eager"][stage])
        print(f"  fused / eager, {stage}: {ratio:.2f}")
    difference = np.abs(pixels["fused"].astype(int) - pixels["eager"].astype(int))
    print(f"  pixels: largest difference {difference.max()}, mean {difference.mean():.3f} levels")


if __name__ == "__main__":
    main()
