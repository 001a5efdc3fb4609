"""`python -m licodec.models`: parameter counts of every named architecture, per part."""
from __future__ import annotations

from torch import nn

from licodec.config import CONFIGS
from licodec.models import LicModel


def _millions(*modules: nn.Module) -> str:
    return f"{sum(p.numel() for m in modules for p in m.parameters()) / 1e6:.2f}"


def main() -> None:
    print("| architecture | total (M) | g_a | g_s | hyperprior | ChARM slices | gains |")
    print("|---|---|---|---|---|---|---|")
    for name, config in CONFIGS.items():
        model = LicModel(config)
        codec = model.latent_codec
        print(f"| {name} | {_millions(model)} | {_millions(model.g_a)} | {_millions(model.g_s)} | "
              f"{_millions(codec.h_a, codec.h_mean_s, codec.h_scale_s, codec.prior)} | "
              f"{_millions(codec.cc_mean, codec.cc_scale, codec.lrp)} | {_millions(codec.y_gain, codec.z_gain)} |")


if __name__ == "__main__":
    main()
