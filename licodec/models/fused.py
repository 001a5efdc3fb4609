"""g_a and g_s for inference on the CPU, through oneDNN's fused convolutions.

    UpBlock:   x ─► conv+LeakyReLU ─► shuffle ─► conv ─► c ─► conv1×1(c²) ─► √ ─┐
               └─► conv ─► shuffle ─► skip ──────────────────────────────► skip + c·√(…)  (addcmul in place)
    ResidualGroup: x ─► [conv+LeakyReLU ─► conv+LeakyReLU ─► + ] ─► conv+x  (the sum a post-op)

Why: on a 12-megapixel decode, eager g_s spent half its time in element-wise passes over
full-resolution activations (LeakyReLU, GDN's square, root and product, the residual sums),
each a round trip through memory. oneDNN runs a conv with its LeakyReLU, or with the sum that
follows it, as one kernel (post-ops), and GDN's product with the block's skip becomes one
addcmul in place: the same arithmetic in the transforms' dtype (bfloat16 on AMX CPUs, else float32),
differing from eager autocast only in rounding. g_a and g_s never feed the entropy parameters,
which stay exact (licodec/models/exact.py).

torch exposes these kernels as torch.ops.mkldnn._convolution_pointwise (what torch.compile's CPU
backend emits, without its compile time); a build without them, or one whose result disagrees
with eager on a probe, keeps the eager modules. Modules without a fused form (Swin attention)
run eagerly inside the chain. The weights are copied at build time: build after training.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from licodec.models.layers import GDN, DownBlock, ResidualBlock, ResidualGroup, UpBlock

Layer = Callable[[Tensor], Tensor]


@cache
def _pointwise():
    mkldnn = getattr(torch.ops, "mkldnn", None)
    return getattr(mkldnn, "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None


def transform_kernels() -> str:
    """"fused" or "eager": how g_a and g_s run on this machine's CPU (for reports and cache keys)."""
    return "fused" if _pointwise() is not None and torch.backends.mkldnn.enabled else "eager"


class _Conv:
    """A conv, optionally with LeakyReLU or a following sum fused into it."""

    def __init__(self, conv: nn.Conv2d, dtype: torch.dtype, leaky: nn.LeakyReLU | None = None) -> None:
        self.geometry = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self.unary, self.scalars = ("leaky_relu", [leaky.negative_slope]) if leaky else ("none", [])
        self.use(conv.weight.detach(), conv.bias.detach(), dtype)

    def use(self, weight: Tensor, bias: Tensor, dtype: torch.dtype) -> None:
        """Run with these weights, copied in `dtype` and channels-last as oneDNN reads them."""
        self.weight = weight.to(dtype).contiguous(memory_format=torch.channels_last)
        self.bias = bias.to(dtype)

    def __call__(self, x: Tensor) -> Tensor:
        return _pointwise()(x, self.weight, self.bias, *self.geometry, self.unary, self.scalars, "")

    def plus(self, x: Tensor, other: Tensor) -> Tensor:
        """conv(x) + other in one kernel (no LeakyReLU: oneDNN would apply it after the sum)."""
        return _pointwise().binary(x, other, self.weight, self.bias, *self.geometry, "add", None, None, [], None)


class _Normalisation:
    """GDN's divisor √(β + Σ γ x²) (or its inverse), as a 1×1 conv of x² and a root in place."""

    def __init__(self, gdn: GDN, dtype: torch.dtype) -> None:
        channels = gdn.gamma.shape[0]
        with torch.no_grad():
            beta = gdn.beta_reparam(gdn.beta)
            gamma = gdn.gamma_reparam(gdn.gamma).reshape(channels, channels, 1, 1)
        self.conv = _Conv(nn.Conv2d(channels, channels, 1), dtype)  # the geometry of a 1×1 conv
        self.conv.use(gamma, beta, dtype)
        self.inverse = gdn.inverse

    def factor(self, x: Tensor) -> Tensor:
        """What GDN multiplies x by: √norm (inverse GDN) or 1/√norm."""
        norm = self.conv(torch.square(x))  # the same product as x * x, in fewer passes here
        return norm.sqrt_() if self.inverse else norm.rsqrt_()

    def __call__(self, x: Tensor) -> Tensor:
        return self.factor(x).mul_(x)


def _residual_group(group: ResidualGroup, dtype: torch.dtype) -> Layer:
    *blocks, closing = group.body
    if not all(isinstance(b, ResidualBlock) for b in blocks):
        raise TypeError("a residual group of unknown blocks")
    convs = [(_Conv(b.body[0], dtype, b.body[1]), _Conv(b.body[2], dtype, b.body[3])) for b in blocks]
    closing_conv = _Conv(closing, dtype)

    def run(x: Tensor) -> Tensor:
        h = x
        for first, second in convs:
            h = second(first(h)).add_(h)
        return closing_conv.plus(h, x)

    return run


def _up_block(block: UpBlock, dtype: torch.dtype) -> Layer:
    (subpel, shuffle), leaky, conv, gdn = block.body
    expand, refine = _Conv(subpel, dtype, leaky), _Conv(conv, dtype)
    skip_conv, skip_shuffle = _Conv(block.skip[0], dtype), block.skip[1].upscale_factor
    normalisation = _Normalisation(gdn, dtype)

    def run(x: Tensor) -> Tensor:
        c = refine(F.pixel_shuffle(expand(x), shuffle.upscale_factor))
        factor = normalisation.factor(c)  # before the skip exists: one full-size tensor fewer at the peak
        return F.pixel_shuffle(skip_conv(x), skip_shuffle).addcmul_(c, factor)

    return run


def _down_block(block: DownBlock, dtype: torch.dtype) -> Layer:
    stride_conv, leaky, conv, gdn = block.body
    reduce, refine, skip_conv = _Conv(stride_conv, dtype, leaky), _Conv(conv, dtype), _Conv(block.skip, dtype)
    normalisation = _Normalisation(gdn, dtype)

    def run(x: Tensor) -> Tensor:
        c = refine(reduce(x))
        factor = normalisation.factor(c)
        return skip_conv(x).addcmul_(c, factor)

    return run


def _eager(module: nn.Module, dtype: torch.dtype) -> Layer:
    def run(x: Tensor) -> Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            return module(x)

    return run


def _layer(module: nn.Module, dtype: torch.dtype) -> Layer:
    if isinstance(module, nn.Identity):
        return lambda x: x
    if isinstance(module, nn.Conv2d):
        return _Conv(module, dtype)
    if isinstance(module, GDN):
        return _Normalisation(module, dtype)
    if isinstance(module, UpBlock):
        return _up_block(module, dtype)
    if isinstance(module, DownBlock):
        return _down_block(module, dtype)
    if isinstance(module, ResidualGroup):
        return _residual_group(module, dtype)
    if isinstance(module, nn.PixelShuffle):
        return lambda x: F.pixel_shuffle(x, module.upscale_factor)
    if isinstance(module, nn.Sequential):
        return _chain([_layer(child, dtype) for child in module])
    return _eager(module, dtype)


def _chain(layers: list[Layer]) -> Layer:
    def run(x: Tensor) -> Tensor:
        for layer in layers:
            x = layer(x)
        return x

    return run


def fused_transform(transform: nn.Module, dtype: torch.dtype) -> Layer | None:
    """g_a or g_s (a `_Stages`) as a function of a channels-last CPU tensor, computing in `dtype`,
    or None where this torch has no fused kernels or they disagree with eager on a probe."""
    if _pointwise() is None:
        return None
    try:
        with torch.inference_mode():
            run = _chain([_layer(stage, dtype) for stage in transform.stages])
            fused = lambda x: run(x.to(dtype).contiguous(memory_format=torch.channels_last))  # noqa: E731
            if _agrees_with_eager(fused, transform, dtype):
                return fused
    except (RuntimeError, TypeError, ValueError):  # a kernel this build or CPU does not have
        pass
    return None


def _agrees_with_eager(fused: Layer, transform: nn.Module, dtype: torch.dtype) -> bool:
    """Both on a small random input (the channels of the transform's first conv): equal up to
    the rounding of `dtype`."""
    first = next(m for m in transform.modules() if isinstance(m, nn.Conv2d))
    probe = torch.rand(1, first.in_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    probe = probe.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        expected = transform(probe).float()
    tolerance = 0.05 if dtype == torch.bfloat16 else 1e-4
    return torch.allclose(fused(probe).float(), expected, atol=tolerance * max(1.0, float(expected.abs().max())))
