"""Convolutional building blocks: GDN, residual blocks and groups, strided down/up blocks."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class FullPrecisionConv2d(nn.Conv2d):
    """A convolution that stays float32 inside bfloat16 autocast (the same parameters and state
    dict as nn.Conv2d).

    For the layers that touch pixels, g_a's first and g_s's last: in bfloat16 their input (the
    image) or output (x̂) is rounded to 8 significant bits, about a level of 255, and the weight
    gradients that sum those roundings over every pixel of a batch came out 2-9× too large on
    the trained student (shared with the rest of g_a/g_s in bfloat16: the batch's gradient off by
    2.2× its norm; with these two in float32, 0.8×, under the 1.3× that another batch differs
    by; scripts/bfloat16_gradient.py). They hold ~3 % of the transforms' multiply-adds.
    """

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float() if x.dtype == torch.bfloat16 else x)


def conv(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, full_precision: bool = False) -> nn.Conv2d:
    kind = FullPrecisionConv2d if full_precision else nn.Conv2d
    return kind(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)


def subpel_conv(in_ch: int, out_ch: int, factor: int = 2, full_precision: bool = False) -> nn.Sequential:
    """3×3 conv to out·r² channels then pixel shuffle: up-sampling without checkerboard artefacts."""
    return nn.Sequential(conv(in_ch, out_ch * factor**2, full_precision=full_precision), nn.PixelShuffle(factor))


class _LowerBoundFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, bound: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp(min=bound)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        # Pass the gradient where x is above the bound, or where descending would lift x to it.
        passes = (x >= ctx.bound) | (grad < 0)
        return passes.type_as(grad) * grad, None


def lower_bound(x: Tensor, bound: float) -> Tensor:
    """max(x, bound) whose gradient does not vanish below the bound (Ballé et al.). The bound
    stays a Python number: a tensor made from it per call is a host-to-GPU copy that waits."""
    return _LowerBoundFunction.apply(x, bound)


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
