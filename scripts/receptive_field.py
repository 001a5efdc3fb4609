"""How far g_a and g_s of each architecture reach: the margin a tile needs (licodec.models.codec).

    python scripts/receptive_field.py student teacher

A randomly initialised model in float64 (the reach is the architecture's, not the weights'): one
column of the input changed, and the farthest column of the output that moves. g_s: latent column
0 → pixel columns; g_a: pixel column 0 → latent columns (16 pixels each).
"""
from __future__ import annotations

import argparse

import torch

from licodec.config import get_config
from licodec.models.codec import LicModel


def farthest_moved(transform, x: torch.Tensor) -> int:
    changed = x.clone()
    changed[..., 0] += 1
    with torch.no_grad():
        difference = (transform(x) - transform(changed)).abs().amax(dim=(0, 1, 2))
    return int((difference > 0).nonzero().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("architectures", nargs="+")
    args = parser.parse_args()
    for name in args.architectures:
        torch.manual_seed(0)
        model = LicModel(get_config(name)).double().eval()
        y = torch.randn(1, model.config.M, 8, 24, dtype=torch.float64)
        x = torch.rand(1, 3, 128, 384, dtype=torch.float64)
        print(f"{name}: g_s moves pixel columns up to {farthest_moved(model.g_s, y)} from latent column 0; "
              f"g_a moves latent columns up to {farthest_moved(model.g_a, x)} from pixel column 0")


if __name__ == "__main__":
    main()
