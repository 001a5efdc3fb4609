"""Image quality metrics on 8-bit images (numpy only).

PSNR is one line of arithmetic, so it is written here rather than pulled from a library;
MS-SSIM comes from pytorch-msssim.
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


MS_SSIM_MIN_SIDE = 161  # 5 scales of an 11-pixel window: (11 − 1)·2⁴ pixels, plus one


def ms_ssim(reference: np.ndarray, decoded: np.ndarray) -> float | None:
    """MS-SSIM (linear, in [0, 1]) of two HxWx3 uint8 images; None if a side is under 161 pixels,
    where its 5 scales are undefined."""
    import torch
    from pytorch_msssim import ms_ssim as reference_ms_ssim

    if reference.shape != decoded.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {decoded.shape}")
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    a, b = (torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].double() for x in (reference, decoded))
    return float(reference_ms_ssim(a, b, data_range=255.0))
