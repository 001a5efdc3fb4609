"""Rate-distortion loss with a λ per sample (variable-rate training)."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def bits_per_pixel(likelihoods: dict[str, Tensor], pixels: int) -> Tensor:
    """Per-sample bpp: Σ −log2 p over every latent, divided by H·W."""
    bits = sum(torch.log(lik).flatten(1).sum(dim=1) for lik in likelihoods.values())
    return bits / (-math.log(2) * pixels)


def rate_distortion(out: dict, x: Tensor, lambdas: Tensor) -> dict[str, Tensor]:
    """CompressAI's convention: loss = λ·255²·MSE + bpp, averaged over the batch."""
    mse = ((out["x_hat"] - x) ** 2).flatten(1).mean(dim=1)
    bpp = bits_per_pixel(out["likelihoods"], x.shape[-2] * x.shape[-1])
    loss = (lambdas * 255**2 * mse + bpp).mean()
    psnr = -10 * torch.log10(mse.detach().clamp(min=1e-10))
    return {"loss": loss, "mse": mse.mean(), "bpp": bpp.mean(), "psnr": psnr.mean()}
