"""The transforms' ceiling: the PSNR of g_s(g_a(x)) without quantisation, beside each level's PSNR.

No rate buys more quality than g_s gives back from the unquantised latent (scaled by the
level's gain and inverse gain, as the decoder sees it), so when the top levels sit close to that
ceiling, the plateau is the transforms', and only training them (or wider ones) lifts it.

    python scripts/transform_ceiling.py weights/student.safetensors ../shared/data/train --holdout 24 --limit 8

--holdout N: the N images `licodec train --holdout N` validates on (never trained on), not the
whole folder; --limit: the first of those. Several weights files give one row each.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import Tensor

from licodec.models import LicModel
from licodec.models.codec import pad_image
from licodec.images import list_images
from licodec.training.data import split_holdout
from licodec.training.validate import ALL_LEVELS, load_images, rounded_psnr
from licodec.weights import load_model, read_info


@torch.no_grad()
def ceiling_and_levels(model: LicModel, images: list[Tensor]) -> tuple[float, dict[int, float]]:
    """(mean PSNR of g_s(y·gain·inverse gain) at the top level, {level: mean PSNR with rounding})."""
    gains = model.latent_codec.y_gain
    top = torch.tensor([float(ALL_LEVELS[-1])])
    ceiling, levels = [], {q: [] for q in ALL_LEVELS}
    for x in images:
        h, w = x.shape[-2:]
        padded = pad_image(x)
        y = model.g_a(padded)
        ceiling.append(rounded_psnr(model.g_s(y * gains.gain(top) * gains.inverse(top))[..., :h, :w], x))
        for q in ALL_LEVELS:
            levels[q].append(rounded_psnr(model(padded, torch.tensor([float(q)]))["x_hat"][..., :h, :w], x))
    return float(np.mean(ceiling)), {q: float(np.mean(v)) for q, v in levels.items()}


def refined_ceiling(model: LicModel, images: list[Tensor], steps: int) -> float:
    """Mean PSNR of g_s(ŷ) with ŷ optimised for `steps` Adam steps (lr 1e-2) from g_a(x)."""
    gains = model.latent_codec.y_gain
    top = torch.tensor([float(ALL_LEVELS[-1])])
    scale = (gains.gain(top) * gains.inverse(top)).detach()
    model.requires_grad_(False)
    results = []
    for x in images:
        h, w = x.shape[-2:]
        with torch.no_grad():
            y = model.g_a(pad_image(x))
        y.requires_grad_(True)
        optimizer = torch.optim.Adam([y], lr=1e-2)
        for _ in range(steps):
            loss = torch.mean((model.g_s(y * scale)[..., :h, :w] - x) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            results.append(rounded_psnr(model.g_s(y * scale)[..., :h, :w], x))
    return float(np.mean(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="+")
    parser.add_argument("images")
    parser.add_argument("--holdout", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--refine", type=int, default=0, metavar="N")
    args = parser.parse_args()
    torch.set_num_threads(2)
    paths = split_holdout(args.images, args.holdout)[1] if args.holdout else list_images(args.images)
    images = load_images(paths, args.limit)
    refined = f" g_s alone, {args.refine} steps |" if args.refine else ""
    print("| weights | ceiling (dB) | " + " | ".join(f"q{q}" for q in ALL_LEVELS) + " | ceiling − q8 |" + refined)
    print("|---|---|" + "---|" * len(ALL_LEVELS) + "---|" + "---|" * bool(args.refine))
    for path in args.weights:
        model = load_model(read_info(path)).eval()
        ceiling, levels = ceiling_and_levels(model, images)
        extra = f" {refined_ceiling(model, images, args.refine):.2f} |" if args.refine else ""
        print(f"| {path} | {ceiling:.2f} | " + " | ".join(f"{levels[q]:.2f}" for q in ALL_LEVELS)
              + f" | {ceiling - levels[ALL_LEVELS[-1]]:.2f} |" + extra)


if __name__ == "__main__":
    main()
