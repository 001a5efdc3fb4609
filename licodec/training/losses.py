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


def level_weights(lambdas: Tensor, table: Tensor) -> Tensor:
    """Per-sample loss weights ∝ 1/√λ, with mean 1 over the λ table.

    A sample's RD loss grows roughly like √λ across the table (its rate does), so unweighted
    variable-rate training spends most of its gradient on the top levels: with the 100× MSE
    table, q7–q8 carried 73 % of the distortion weight and q4 3.5 %. Dividing by √λ makes every
    level's loss about the same size.
    """
    inverse_root = table.rsqrt()
    return lambdas.rsqrt() / inverse_root.mean()


def rate_distortion(out: dict, x: Tensor, lambdas: Tensor, metric: str = "mse",
                    sample_weights: Tensor | None = None) -> dict[str, Tensor]:
    """CompressAI's convention, averaged over the batch: loss = λ·255²·MSE + bpp for "mse",
    λ·(1 − MS-SSIM) + bpp for "ms-ssim" (with the MS-SSIM λ table); each sample's loss times
    its weight when `sample_weights` is given (see `level_weights`)."""
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
    loss = distortion + bpp
    if sample_weights is not None:
        loss = loss * sample_weights
    return {"loss": loss.mean(), **terms}
