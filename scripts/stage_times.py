"""Where encode and decode time goes: g_a, the latent encoder, the latent decoder and g_s.

    python scripts/stage_times.py data/kodim23.png --threads 2
    python scripts/stage_times.py data/kodim23.png --resize 4000x3000 --repeats 1 --profile

Median wall time of each stage of the shipped student (as `licodec` loads it, so in bfloat16
where licodec.precision chooses it) on one image at quality 4, after a warm-up run. --profile
adds, for the latent decoder and g_s, the operators that took the most time (torch.profiler);
--tile and --margin try other tilings of g_a/g_s (licodec.models.engine.TILE, MARGIN).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from licodec.models import engine
from licodec.latent_stream import latent_shape
from licodec.models.codec import rgb_to_tensor
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
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--tile", type=int, default=engine.TILE, help="tile side for g_a/g_s (pixels)")
    parser.add_argument("--margin", type=int, default=engine.MARGIN, help="context around each tile (pixels)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    engine.TILE, engine.MARGIN = args.tile, args.margin
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
          f"{'bfloat16' if net.engine.bfloat16 else 'float32'}: g_a {g_a:.3f} s, latent encode {encode:.3f} s, "
          f"latent decode {decode:.3f} s, g_s {g_s:.3f} s")
    if args.profile:
        with torch.inference_mode():
            print_profile("latent decode", lambda: net.latent_codec.decompress(streams.data, shape, 4.0))
            print_profile("g_s", lambda: net.synthesis(y_hat, image.height, image.width))


def print_profile(stage: str, run) -> None:
    """The operators that took the most time in one run of a stage (self time, all threads' wall)."""
    with torch.profiler.profile() as profile:
        run()
    events = sorted(profile.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\n{stage}: {total / 1e6:.3f} s of operator time")
    for event in events[:8]:
        seconds = event.self_cpu_time_total / 1e6
        print(f"  {event.key:34s} {seconds:6.3f} s  {100 * event.self_cpu_time_total / total:4.1f} %  ({event.count} calls)")


if __name__ == "__main__":
    main()
