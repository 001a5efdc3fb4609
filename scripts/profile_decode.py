"""Where one decode's time goes: cProfile of `licodec.decode` on a flat grey image, after a warm-up.

    python scripts/profile_decode.py --size 1792x1664 --quality 1   # #24's bound file

Flat grey at 1792x1664 is the largest canvas whose stream floor fits in 1 kB
(scripts/decoder_cost.py), so its decode bounds what any 1 kB file can cost.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from PIL import Image

import licodec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1792x1664", help="WxH")
    parser.add_argument("--quality", type=float, default=1.0)
    parser.add_argument("--rows", type=int, default=30, help="profile rows, by cumulative time")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    data = licodec.encode(Image.new("RGB", (width, height), (128,) * 3), quality=args.quality)
    licodec.decode(data)  # warm-up: weights, tables, oneDNN primitives
    profile, began = cProfile.Profile(), time.perf_counter()
    profile.runcall(licodec.decode, data)
    print(f"{width}x{height} q{args.quality:g}, {len(data)} bytes: decode {time.perf_counter() - began:.2f} s")
    report = io.StringIO()
    pstats.Stats(profile, stream=report).sort_stats("cumulative").print_stats(args.rows)
    print(report.getvalue())


if __name__ == "__main__":
    main()
