"""Peak memory (RSS) of `licodec encode` and `licodec decode` on large images, and seconds.

    python scripts/peak_memory.py ../shared/data/kodak/kodim01.png --size 3840x2160 --size 8000x6000

Each size is the given photo resized (Lanczos) to that size, a stand-in for a camera photo; each
command runs in its own process, and its peak RSS is what the kernel reports for that child.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

Image.MAX_IMAGE_PIXELS = None  # our own input, made here


# A fresh measuring process per command: RUSAGE_CHILDREN's peak is the largest of all children.
_MEASURE = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_of(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one command, run as the only child of a measuring process."""
    began = time.perf_counter()
    kilobytes = subprocess.run([sys.executable, "-c", _MEASURE, *command], check=True, capture_output=True,
                               text=True).stdout
    return int(kilobytes) / 1024, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo")
    parser.add_argument("--size", action="append", required=True, help="WIDTHxHEIGHT")
    parser.add_argument("--quality", default="4")
    parser.add_argument("--model", default="student")
    args = parser.parse_args()
    licodec = [sys.executable, "-m", "licodec"]
    print("| size | megapixels | encode peak RSS | encode s | decode peak RSS | decode s | bpp |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.size:
            width, height = (int(v) for v in size.split("x"))
            png, lic, out = (Path(folder) / f"{size}.{ext}" for ext in ("png", "lic", "out.png"))
            Image.open(args.photo).convert("RGB").resize((width, height), Image.LANCZOS).save(png, compress_level=1)
            encode = peak_of(licodec + ["encode", str(png), "-o", str(lic), "-q", args.quality,
                                        "--model", args.model, "--quiet"])
            decode = peak_of(licodec + ["decode", str(lic), "-o", str(out), "--quiet"])
            bpp = 8 * lic.stat().st_size / (width * height)
            print(f"| {width}×{height} | {width * height / 1e6:.1f} | {encode[0]:.0f} MB | {encode[1]:.1f} | "
                  f"{decode[0]:.0f} MB | {decode[1]:.1f} | {bpp:.3f} |", flush=True)


if __name__ == "__main__":
    main()
