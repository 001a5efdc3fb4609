"""Where encode and decode time goes: g_a, the latent encoder, the latent decoder and g_s.

    python scripts/stage_times.py data/kodim23.png --threads 2
    python scripts/stage_times.py data/kodim23.png --resize 4000x3000 --repeats 1

Median wall time of each stage of the shipped student (as `licodec` loads it, so in bfloat16
where licodec.precision chooses it) on one image at quality 4, after a warm-up run.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from licodec.models.codec import latent_shape, rgb_to_tensor
from licodec.weights import load_model, resolve


def median_seconds(run, repeats: int):
    result, times = run(), []
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--model", default="student")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--resize", default=None, help="WxH")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = Image.open(args.image).convert("RGB")
    if args.resize:
        image = image.resize(tuple(int(v) for v in args.resize.split("x")), Image.LANCZOS)
    net = load_model(resolve(args.model))
    x = rgb_to_tensor(np.array(image), scaled=False)
    shape = latent_shape(image.height, image.width)
    with torch.inference_mode():
        g_a, y = median_seconds(lambda: net.analysis(x), args.repeats)
        encode, streams = median_seconds(lambda: net.latent_codec.compress(y.contiguous(), 4.0), args.repeats)
        decode, (y_hat, _) = median_seconds(lambda: net.latent_codec.decompress(streams.data, shape, 4.0), args.repeats)
        g_s, _ = median_seconds(lambda: net.synthesis(y_hat, image.height, image.width), args.repeats)
    print(f"{image.width}x{image.height}, {args.threads} threads, g_a/g_s in "
          f"{'bfloat16' if net.bfloat16_transforms else 'float32'}: g_a {g_a:.3f} s, latent encode {encode:.3f} s, "
          f"latent decode {decode:.3f} s, g_s {g_s:.3f} s")


if __name__ == "__main__":
    main()
