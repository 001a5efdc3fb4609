"""The interface between the coding loops and the networks that predict the entropy
parameters, and its float implementation.

    z symbols ─► side(z) ─► slice_parameters(i, side, ŷ_<i) ─► μ_i, σ index_i ─► rANS ─► symbols_i
                                                                              └─► reconstruct(i) ─► ŷ_i

ChARMLatentCodec's compress and decompress run the same loop over any EntropyParameters:
ExactEntropyParameters (licodec.models.exact: integer networks, what files use, equal on every
machine) or FloatEntropyParameters here (the float networks rounded to the same grids: the
reference that measures what exactness costs).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from licodec.format_tables import ACTIVATION_BITS, MEAN_BITS


class EntropyParameters(Protocol):
    """What the coding loops ask of the entropy-parameter networks, in integer units (side and ŷ
    × 2^-10, μ × 2^-8): ExactEntropyParameters (licodec.models.exact, what files use) and
    FloatEntropyParameters (the float reference) both implement it."""

    def side(self, z_symbols: Tensor, quality: float) -> tuple[Tensor, Tensor]:
        """h_mean_s and h_scale_s of the decoded z."""

    def slice_parameters(self, i: int, side: tuple[Tensor, Tensor],
                         decoded: list[Tensor]) -> tuple[Tensor, np.ndarray, Tensor]:
        """Slice i's μ, σ table index and the support its LRP needs, from side and earlier slices."""

    def reconstruct(self, i: int, symbols: Tensor, mean: Tensor, support: Tensor) -> Tensor:
        """Slice i's ŷ from its symbols: symbol + μ + LRP."""


class FloatEntropyParameters:
    """The float networks behind the same interface and units as ExactEntropyParameters (μ × 2^-8,
    ŷ × 2^-10), μ and ŷ rounded to those grids: the reference path (`compress(exact=False)`)."""

    def __init__(self, codec: nn.Module) -> None:
        self.codec = codec  # a ChARMLatentCodec: its float networks

    def side(self, z_symbols: Tensor, quality: float) -> tuple[Tensor, Tensor]:
        q = torch.tensor([quality], device=z_symbols.device)
        z_hat = (z_symbols + self.codec.prior.medians().view(1, -1, 1, 1)) * self.codec.z_gain.inverse(q)
        return self.codec.side_float(z_hat)

    def slice_parameters(self, i: int, side: tuple[Tensor, Tensor], decoded: list[Tensor]):
        real = [d.to(side[0]) * 2.0**-ACTIVATION_BITS for d in decoded]
        mean, scale, support = self.codec.slice_parameters_float(i, side, real)
        return torch.round(mean * 2.0**MEAN_BITS).cpu().double(), self.codec.scale_index(scale), support

    def reconstruct(self, i: int, symbols: Tensor, mean: Tensor, support: Tensor) -> Tensor:
        y_hat = (symbols.double() + mean * 2.0**-MEAN_BITS).to(support)
        y_hat = y_hat + self.codec.lrp_correction(i, support, y_hat)
        return torch.round(y_hat.double().cpu() * 2.0**MEAN_BITS) * 2.0 ** (ACTIVATION_BITS - MEAN_BITS)
