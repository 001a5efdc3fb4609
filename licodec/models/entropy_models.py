"""Differentiable probability models: the factorized prior for z and the Gaussian conditional for y.

Both follow Ballé et al. (2018) as CompressAI implements them (`EntropyBottleneck`,
`GaussianConditional`); tests check equal likelihoods against CompressAI. Turning these models
into integer tables for the rANS coder is `probability_tables()` here and `licodec.rans`.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from licodec.format_tables import SCALE_BOUND  # smallest σ; also the first entry of the coder's scale table
from licodec.models.layers import lower_bound
from licodec.rans import TAIL_MASS  # the mass the coder's tables leave out: one definition

LIKELIHOOD_BOUND = 1e-9


def gaussian_likelihood(y: Tensor, scales: Tensor, means: Tensor) -> Tensor:
    """P(y in a unit bin) under N(mean, scale²); symmetric form with erfc for precision in tails."""
    values = torch.abs(y - means)
    scales = lower_bound(scales, SCALE_BOUND)
    upper = 0.5 * torch.erfc(-(0.5 - values) / (scales * math.sqrt(2)))
    lower = 0.5 * torch.erfc(-(-0.5 - values) / (scales * math.sqrt(2)))
    return lower_bound(upper - lower, LIKELIHOOD_BOUND)


class FactorizedPrior(nn.Module):
    """Per-channel non-parametric density (Ballé 2018, appendix 6.1) for z.

    A monotone per-channel MLP models the CDF; `quantiles` track where the tails hold
    TAIL_MASS/2 each and are fitted by `aux_loss()`. The median is the quantisation centre.
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        self.channels = channels
        widths = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / widths[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, widths[i + 1], widths[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, widths[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[i + 1], 1)))
        target = torch.tensor([-init_scale, 0.0, init_scale])
        self.quantiles = nn.Parameter(target.repeat(channels, 1, 1))
        self.register_buffer("target", torch.tensor([-math.log(2 / TAIL_MASS - 1), 0.0, math.log(2 / TAIL_MASS - 1)]))

    def _logits_cumulative(self, x: Tensor, stop_gradient: bool) -> Tensor:
        """x: [C, 1, K] → CDF logits at x, per channel."""
        logits = x
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            logits = torch.matmul(F.softplus(matrix), logits) + bias
            if i < len(self.factors):
                factor = self.factors[i].detach() if stop_gradient else self.factors[i]
                logits = logits + torch.tanh(factor) * torch.tanh(logits)
        return logits

    def medians(self) -> Tensor:
        return self.quantiles[:, 0, 1].detach()

    def aux_loss(self) -> Tensor:
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    def likelihood(self, z: Tensor) -> Tensor:
        """P(z in a unit bin), z: [B, C, H, W]."""
        values = z.permute(1, 0, 2, 3).reshape(self.channels, 1, -1)
        lower = self._logits_cumulative(values - 0.5, stop_gradient=False)
        upper = self._logits_cumulative(values + 0.5, stop_gradient=False)
        # Subtract on the side of the median where the sigmoids are far from 1 (precision).
        sign = -torch.sign(lower + upper).detach()
        likelihood = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        likelihood = likelihood.reshape(self.channels, z.shape[0], *z.shape[2:]).permute(1, 0, 2, 3)
        return lower_bound(likelihood, LIKELIHOOD_BOUND)

    def tail_bounds(self, iterations: int = 80, reach: float = 1e4) -> tuple[Tensor, Tensor]:
        """Per channel, where the CDF is TAIL_MASS/2 and 1 − TAIL_MASS/2, found by bisection.

        The learned CDF is monotone, so this is exact whatever the state of the aux loss (as
        CompressAI's `update(update_quantiles=True)`). Float64; call on a float64 copy.
        """
        bounds = []
        for target in (self.target[0], self.target[2]):
            low = torch.full((self.channels, 1, 1), -reach, dtype=torch.float64)
            high = torch.full((self.channels, 1, 1), reach, dtype=torch.float64)
            for _ in range(iterations):
                middle = (low + high) / 2
                below = self._logits_cumulative(middle, stop_gradient=True) < target
                low, high = torch.where(below, middle, low), torch.where(below, high, middle)
            bounds.append(((low + high) / 2).flatten())
        return bounds[0], bounds[1]

    def probability_tables(self, max_half_width: int = 4096) -> tuple[list[np.ndarray], np.ndarray]:
        """Per channel: PMF over the integers [median-a, median+b] covering all but the tails.

        Returns the PMFs (float64) and each table's offset (its first bin's symbol, relative
        to the median). Evaluated in float64 on a copy, so that the tables depend on the
        weights alone, not on thread count or vector width.
        """
        model = copy.deepcopy(self).double()
        with torch.no_grad():
            medians = model.quantiles[:, 0, 1]
            lower, upper = model.tail_bounds()
            below = torch.ceil(medians - lower).clamp(0, max_half_width).long()
            above = torch.ceil(upper - medians).clamp(0, max_half_width).long()
            lengths = below + above + 1
            grid = torch.arange(int(lengths.max()), dtype=torch.float64)
            points = (medians - below)[:, None] + grid[None, :]
            lower = model._logits_cumulative(points[:, None] - 0.5, stop_gradient=True)[:, 0]
            upper = model._logits_cumulative(points[:, None] + 0.5, stop_gradient=True)[:, 0]
            sign = -torch.sign(lower + upper)
            pmf = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        pmfs = [pmf[c, : int(lengths[c])].numpy() for c in range(self.channels)]
        return pmfs, -below.numpy().astype(np.int64)
