"""Time Pillow's PNG writing of one image at several zlib levels (median of 5), with the sizes:
the measurement behind images.PNG_COMPRESS_LEVEL.

    python scripts/png_write_speed.py data/kodim23.png
"""
from __future__ import annotations

import io
import statistics
import sys
import time

from PIL import Image


def main() -> None:
    image = Image.open(sys.argv[1] if len(sys.argv) > 1 else "data/kodim23.png").convert("RGB")
    image.load()
    for level in (6, 3, 1):
        times = []
        for _ in range(5):
            buffer = io.BytesIO()
            began = time.perf_counter()
            image.save(buffer, format="PNG", compress_level=level)
            times.append(time.perf_counter() - began)
        print(f"level {level}: {1000 * statistics.median(times):.1f} ms, {len(buffer.getvalue())} bytes")


if __name__ == "__main__":
    main()
