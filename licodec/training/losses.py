"""Rate-distortion loss with a λ per sample (variable-rate training)."""
from __future__ import annotations

import math

import torch
from pytorch_msssim import ms_ssim
from torch import Tensor


def bits_per_pixel(likelihoods: dict[str, Tensor], pixels: int) -> Tensor:
    """Per-sample bpp: Σ −log2 p over every latent, divided by H·W."""
    bits = sum(torch.log(lik).flatten(1).sum(dim=1) for lik in likelihoods.values())
    return bits / (-math.log(2) * pixels)


def rate_distortion(out: dict, x: Tensor, lambdas: Tensor, metric: str = "mse") -> dict[str, Tensor]:
    """CompressAI's convention, averaged over the batch: loss = λ·255²·MSE + bpp for "mse",
    λ·(1 − MS-SSIM) + bpp for "ms-ssim" (with the MS-SSIM λ table)."""
    mse = ((out["x_hat"] - x) ** 2).flatten(1).mean(dim=1)
    bpp = bits_per_pixel(out["likelihoods"], x.shape[-2] * x.shape[-1])
    terms = {"mse": mse.mean(), "bpp": bpp.mean(), "psnr": (-10 * torch.log10(mse.detach().clamp(min=1e-10))).mean()}
    if metric == "mse":
        distortion = lambdas * 255**2 * mse
    elif metric == "ms-ssim":
        similarity = ms_ssim(out["x_hat"].clamp(0, 1), x, data_range=1.0, size_average=False)
        distortion = lambdas * (1 - similarity)
        terms["ms_ssim"] = similarity.mean()
    else:
        raise ValueError(f"unknown metric {metric!r} (mse, ms-ssim)")
    return {"loss": (distortion + bpp).mean(), **terms}
