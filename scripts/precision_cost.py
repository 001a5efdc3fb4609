"""What bfloat16 g_a / g_s (licodec.precision) cost against float32, on a folder of images.

    python scripts/precision_cost.py ../shared/data/kodak --model student

Per quality: mean bpp and PSNR of real coded streams with g_a and g_s in bfloat16 and in
float32 (the same exact entropy parameters), and the BD-rate of bfloat16 against float32.
Needs a CPU where bfloat16 autocast runs (any; it is fast with AMX tiles).
"""
from __future__ import annotations

import numpy as np

from exactness_cost import report
from licodec.metrics import psnr
from licodec.models.codec import rgb_to_tensor


def measure(model, rgb: np.ndarray, quality: float, bfloat16: bool) -> tuple[float, float]:
    """(bpp, PSNR) of one image, encoded and decoded with g_a and g_s in one precision."""
    model.engine.bfloat16 = bfloat16
    height, width = rgb.shape[:2]
    compressed = model.compress(rgb_to_tensor(rgb), quality)
    decoded = model.synthesis(compressed.y_hat, height, width)
    return 8 * len(compressed.data) / (height * width), psnr(rgb, decoded)


def main() -> None:
    report(__doc__, measure, ("bfloat16", "float32"), "bfloat16 g_a/g_s against float32")


if __name__ == "__main__":
    main()
