"""Validation during training: estimated bpp and PSNR on whole held-out images at a few λ.

The rate is the model's own estimate (Σ −log2 p of the rounded latents), which the coded file
matches within about 1 % (tests/test_shipped.py); `licodec eval` measures real files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from licodec.models import LicModel
from licodec.models.codec import pad_image, rgb_to_tensor
from licodec.images import list_images
from licodec.training.losses import bits_per_pixel

VAL_QUALITIES = (1, 4, 8)  # both ends and the middle of the λ table
ALL_LEVELS = tuple(range(1, 9))


def load_images(images: str | Path | list[Path], limit: int | None = None) -> list[Tensor]:
    """Images (a folder, or a list of files) as [1, 3, H, W] tensors in [0, 1]."""
    paths = images if isinstance(images, list) else list_images(images)
    loaded = []
    for path in paths[:limit]:
        with Image.open(path) as im:
            array = np.array(im.convert("RGB"))
        loaded.append(rgb_to_tensor(array))
    return loaded


def rounded_psnr(x_hat: Tensor, x: Tensor) -> float:
    """PSNR of x_hat clamped and rounded to 8 bits (the pixels a decoder writes) against x in [0, 1]."""
    mse = torch.mean((torch.round(x_hat.clamp(0, 1) * 255) - x * 255) ** 2)
    return float(10 * torch.log10(255**2 / mse.clamp(min=1e-10)))


@torch.no_grad()
def validate(model: LicModel, images: list[Tensor], qualities=VAL_QUALITIES) -> dict[str, dict[str, float]]:
    """{"q1": {"bpp": mean bpp, "psnr": mean PSNR}, ...} with rounding, as the coder quantises."""
    was_training = model.training
    model.eval()
    with torch.compiler.set_stance("force_eager"):  # --compile: whole images would recompile per size
        results = _validate(model, images, qualities)
    model.train(was_training)
    return results


def _validate(model: LicModel, images: list[Tensor], qualities) -> dict[str, dict[str, float]]:
    results = {}
    for q in qualities:
        bpps, psnrs = [], []
        for x in images:
            h, w = x.shape[-2:]
            out = model(pad_image(x), torch.tensor([float(q)], device=x.device))
            psnrs.append(rounded_psnr(out["x_hat"][..., :h, :w], x))
            bpps.append(float(bits_per_pixel(out["likelihoods"], h * w)))
        results[f"q{q:g}"] = {"bpp": round(float(np.mean(bpps)), 4), "psnr": round(float(np.mean(psnrs)), 3)}
    return results
