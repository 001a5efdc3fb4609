"""Convolutional building blocks: GDN, residual blocks and groups, strided down/up blocks."""
from __future__ import annotations

import torch
from torch import Tensor, nn


def conv(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)


def subpel_conv(in_ch: int, out_ch: int, factor: int = 2) -> nn.Sequential:
    """3×3 conv to out·r² channels then pixel shuffle: up-sampling without checkerboard artefacts."""
    return nn.Sequential(conv(in_ch, out_ch * factor**2), nn.PixelShuffle(factor))


class _LowerBoundFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, bound: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, bound = ctx.saved_tensors
        # Pass the gradient where x is above the bound, or where descending would lift x to it.
        passes = (x >= bound) | (grad < 0)
        return passes.type_as(grad) * grad, None


def lower_bound(x: Tensor, bound: float) -> Tensor:
    """max(x, bound) whose gradient does not vanish below the bound (Ballé et al.)."""
    return _LowerBoundFunction.apply(x, torch.tensor(bound, dtype=x.dtype, device=x.device))


class NonNegative(nn.Module):
    """Reparametrises a non-negative parameter as bound(p)² − pedestal, for stable training."""

    def __init__(self, minimum: float = 0.0, offset: float = 2**-18) -> None:
        super().__init__()
        self.pedestal = offset**2
        self.bound = (minimum + self.pedestal) ** 0.5

    def init(self, value: Tensor) -> Tensor:
        return torch.sqrt(torch.clamp(value + self.pedestal, min=self.pedestal))

    def forward(self, param: Tensor) -> Tensor:
        return lower_bound(param, self.bound) ** 2 - self.pedestal


class GDN(nn.Module):
    """Generalised divisive normalisation: y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²) (inverse: ×)."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = NonNegative(minimum=beta_min)
        self.gamma_reparam = NonNegative()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)
        norm = nn.functional.conv2d(x * x, gamma, beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


class ResidualBlock(nn.Module):
    """conv3×3 → LeakyReLU → conv3×3 → LeakyReLU, plus the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels), nn.LeakyReLU(inplace=True),
            conv(channels, channels), nn.LeakyReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """`blocks` residual blocks and a closing conv, wrapped in one long skip (FEDS's "RG")."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)], conv(channels, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class DownBlock(nn.Module):
    """Stride-2 residual block: conv3×3/2 → LeakyReLU → conv3×3 → GDN, skip = conv1×1/2."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(in_ch, out_ch, stride=2), nn.LeakyReLU(inplace=True), conv(out_ch, out_ch), GDN(out_ch),
        )
        self.skip = conv(in_ch, out_ch, kernel=1, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.skip(x)


class UpBlock(nn.Module):
    """×2 residual block: subpel conv → LeakyReLU → conv3×3 → inverse GDN, skip = subpel conv."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            subpel_conv(in_ch, out_ch), nn.LeakyReLU(inplace=True), conv(out_ch, out_ch), GDN(out_ch, inverse=True),
        )
        self.skip = subpel_conv(in_ch, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.skip(x)
