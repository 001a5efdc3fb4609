"""Image quality metrics on 8-bit images (numpy only).

PSNR is one line of arithmetic, so it is written here rather than pulled from a library;
MS-SSIM comes from pytorch-msssim in the evaluation code.
"""
from __future__ import annotations

import math

import numpy as np


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB over all channels, peak 255; inf for identical images."""
    if reference.shape != decoded.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {decoded.shape}")
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
