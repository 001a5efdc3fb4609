"""Integer entropy-parameter networks: ẑ → μ, σ index and LRP-corrected ŷ, the same on any machine.

    z symbols ─► (s·2¹⁰ + median)·inverse gain ─► h_mean_s, h_scale_s ─► side ─┐
          ┌─────────────────────────────────────────────────────────────────┘
          └─► slice i: cc_mean_i, cc_scale_i over (side, ŷ_0 … ŷ_{i-1}) ─► μ_i (×2⁻⁸), σ index
              ŷ_i = symbols + μ_i + ½·tanh(lrp_i(…))   (×2⁻⁸)

Why: float kernels differ in the last bit between CPUs, thread counts, torch builds and GPUs,
and one different rounding of μ or σ derails the rANS decoder. Following Ballé, Johnston &
Minnen ("Integer networks for data compression with latent-variable models", ICLR 2019), every
value on this path is an integer:
- activations are multiples of 2⁻¹⁰ held as integers (ACTIVATION_BITS), clamped to ±2²⁰;
- each conv's weights are integers below 2¹⁵ (the float weights × a power of two, rounded:
  exact, so the conversion itself is the same everywhere), biases integers below 2⁵⁰;
- products and sums are therefore integers below 2⁵³, and float64 holds them exactly: a float64
  matmul gives the same result in any summation order, with or without fused multiply-add, on
  any BLAS or GPU. Convolutions run as one matmul per kernel tap on shifted views of the input
  (no Winograd or FFT algorithm), band by band over rows so that memory stays bounded;
- rescaling multiplies by a power of two and rounds with floor(x + ½): exact;
- GELU and ½·tanh are lookup tables from licodec/data/format_tables.npz;
- the z inverse gains per quality step are integers stored in the weights file (`coder.*`).
g_a, g_s and h_a stay float: they decide the symbols (encoder) and the pixels (decoder), never
the entropy parameters. The cost against the float path is measured by scripts/exactness_cost.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from licodec import format_tables
from licodec.container import QUALITY_STEPS  # the z gain table has one row per coded quality step
from licodec.errors import LicodecError
from licodec.format_tables import ACTIVATION_BITS, LOOKUP_REACH, MEAN_BITS

WEIGHT_BITS = 15
BIAS_BITS = 50
ACTIVATION_LIMIT = 2.0**20
EXACT_LIMIT = 2.0**53  # float64 holds every integer below this
Z_SYMBOL_LIMIT = 2**15  # the integer path clamps z symbols here (larger ones never occur in practice)
GAIN_BITS = 16  # z inverse gains are multiples of 2^-16


@dataclass(frozen=True)
class IntegerConv:
    """One conv layer of an integer network, and what follows it."""

    weight: Tensor  # [out, in·k·k] integers (float64), in F.unfold's order
    bias: Tensor  # [out, 1] integers, in units of 2^-(ACTIVATION_BITS + exponent)
    kernel: int
    rescale: float  # 2^-(exponent + ACTIVATION_BITS − output bits): back to the output grid
    shuffle: int  # pixel-shuffle factor after the conv (1: none)
    gelu: bool

    @cached_property
    def taps(self) -> Tensor:
        """[k·k, in, out]: the weight of each kernel position (tap), as `accumulate` reads it."""
        kernel_area = self.kernel * self.kernel
        return self.weight.view(self.weight.shape[0], -1, kernel_area).permute(2, 1, 0).contiguous()

    @property
    def pad(self) -> int:
        return self.kernel // 2

    def __call__(self, x: Tensor) -> Tensor:
        """[B, in, H, W] → [B, out, H·shuffle, W·shuffle]: the layer on its own (`run` chains layers)."""
        return torch.stack([_chain([self], image) for image in x])

    @cached_property
    def rounding_offset(self) -> Tensor:
        """[1, out]: bias·rescale + ½, exact (a power-of-two scale of an integer below 2⁵⁰)."""
        return (self.bias * self.rescale + 0.5).view(1, -1)

    def accumulate(self, rows: Tensor, width: int, acc: Tensor) -> None:
        """acc ← Σ over the taps of the shifted input × the tap's weight (the bias comes in
        `activate`, which saves a pass over acc).

        rows: the zero-padded input, channels last, flattened to [(H + 2·pad)·W', in] (W' = width
        + 2·pad); acc: [H·W' − 2·pad, out], output (y, x) at row y·W' + x (x ≥ width: unused).
        Tap (dy, dx) reads the rows from dy·W' + dx on, a view, so each tap is one matmul without
        im2col's copy (as fast again here). Only exact products and sums: no Winograd or FFT
        algorithm can be picked."""
        padded_width = width + 2 * self.pad
        for tap in range(self.kernel * self.kernel):
            dy, dx = divmod(tap, self.kernel)
            start = dy * padded_width + dx
            if tap == 0:
                torch.mm(rows[start : start + len(acc)], self.taps[tap], out=acc)
            else:
                acc.addmm_(rows[start : start + len(acc)], self.taps[tap])

    def activate(self, acc: Tensor) -> None:
        """In place: the bias added and back to the output grid, floor((acc + bias)·rescale + ½)
        computed as floor(acc·rescale + rounding_offset): both terms are exact and the sum is the
        same single rounding of the same value, so the result is identical; clamped, then GELU
        where the layer has one."""
        torch.add(self.rounding_offset, acc, alpha=self.rescale, out=acc)
        acc.floor_().clamp_(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
        if self.gelu:
            acc.copy_(_lookup_gelu(acc))


def _padded_rows(image: Tensor, pad: int) -> Tensor:
    """[C, H, W] → the zero-padded image in float64, channels last, as [(H + 2·pad)·(W + 2·pad),
    C] rows. Only the border is zeroed: a full fill was a fifth of a large image's latent time."""
    channels, height, width = image.shape
    rows = image.new_empty(height + 2 * pad, width + 2 * pad, channels, dtype=torch.float64)
    rows[pad : pad + height, pad : pad + width] = image.permute(1, 2, 0)
    if pad:
        rows[:pad] = 0
        rows[pad + height :] = 0
        rows[pad : pad + height, :pad] = 0
        rows[pad : pad + height, pad + width :] = 0
    return rows.view(-1, channels)


def _chain(network: list[IntegerConv], image: Tensor) -> Tensor:
    """[in, H, W] through the layers. Where the next layer has the same padding and no pixel
    shuffle comes between, a layer accumulates straight into the next layer's padded input
    (its unused columns fall on the padding and are zeroed): no pad, permute or copy between."""
    rows, (height, width) = _padded_rows(image, network[0].pad), image.shape[1:]
    for layer, following in zip(network, [*network[1:], None]):
        pad, padded_width = layer.pad, width + 2 * layer.pad
        count = height * padded_width - 2 * pad  # the last output row needs no padding columns
        chained = following is not None and following.pad == pad and layer.shuffle == 1
        if chained:  # output (y, x) lands on the next input's padded cell (y + pad, x + pad)
            buffer = rows.new_empty((height + 2 * pad) * padded_width, layer.taps.shape[2])
            start, offset = pad * padded_width, pad * padded_width + pad
            buffer[:offset] = 0  # the top padding; acc covers the rest up to the bottom padding
            buffer[offset + count :] = 0
        else:
            buffer, start, offset = rows.new_empty(height * padded_width, layer.taps.shape[2]), 0, 0
        acc = buffer[offset : offset + count]
        layer.accumulate(rows, width, acc)
        layer.activate(acc)
        grid = buffer[start : start + height * padded_width].view(height, padded_width, -1)
        if chained:
            grid[:, :pad] = 0
            grid[:, pad + width :] = 0
            rows = buffer
            continue
        out = grid[:, :width].permute(2, 0, 1)
        if layer.shuffle > 1:
            out = F.pixel_shuffle(out, layer.shuffle)
            height, width = out.shape[1:]
        if following is None:
            return out
        rows = _padded_rows(out, following.pad)
    raise AssertionError("unreachable: the last layer returns")


def integer_conv(conv: nn.Conv2d, output_bits: int = ACTIVATION_BITS, shuffle: int = 1,
                 gelu: bool = False) -> IntegerConv:
    """The float conv as integers: weights × 2^exponent rounded, the exponent as large as the
    bounds allow (WEIGHT_BITS for weights, BIAS_BITS for biases)."""
    weight = conv.weight.detach().double().cpu()
    bias = conv.bias.detach().double().cpu()
    exponent = WEIGHT_BITS - _binary_exponent(weight)
    exponent = min(exponent, BIAS_BITS - ACTIVATION_BITS - _binary_exponent(bias))
    fan_in = weight[0].numel()
    if fan_in * ACTIVATION_LIMIT * 2.0**WEIGHT_BITS + 2.0**BIAS_BITS >= EXACT_LIMIT:
        raise ValueError(f"a conv with fan-in {fan_in} cannot be exact in float64")
    weight_int = torch.round(torch.ldexp(weight, torch.tensor(exponent))).reshape(weight.shape[0], -1)
    bias = torch.round(torch.ldexp(bias, torch.tensor(exponent + ACTIVATION_BITS)))[:, None]
    rescale = 2.0 ** -(exponent + ACTIVATION_BITS - output_bits)
    return IntegerConv(weight_int.contiguous(), bias, weight.shape[-1], rescale, shuffle, gelu)


def _binary_exponent(values: Tensor) -> int:
    """e such that max |values| < 2^e (frexp: exact)."""
    largest = float(values.abs().max()) if values.numel() else 0.0
    return math.frexp(largest)[1]


@lru_cache(maxsize=None)
def _table(name: str) -> Tensor:
    return torch.from_numpy(format_tables.load()[name]).double()


def _lookup(table: Tensor, x: Tensor) -> Tensor:
    """table[x] for x on the activation grid over [-LOOKUP_REACH, LOOKUP_REACH] (x clamped)."""
    reach = LOOKUP_REACH << ACTIVATION_BITS
    index = (x.clamp(-reach, reach) + reach).long()
    return table.to(x.device)[index]


def _lookup_gelu(x: Tensor) -> Tensor:
    """GELU on the activation grid: the table inside its reach, x above it, 0 below."""
    return torch.where(x > LOOKUP_REACH << ACTIVATION_BITS, x, _lookup(_table("gelu"), x))


def integer_network(sequential: nn.Sequential, output_bits: int = ACTIVATION_BITS) -> list[IntegerConv]:
    """A Sequential of convs, GELUs and (conv, PixelShuffle) pairs as integer layers."""
    modules = [m for m in sequential.modules() if isinstance(m, (nn.Conv2d, nn.GELU, nn.PixelShuffle))]
    layers: list[dict] = []
    for module in modules:
        if isinstance(module, nn.Conv2d):
            layers.append({"conv": module, "shuffle": 1, "gelu": False})
        elif isinstance(module, nn.PixelShuffle):
            layers[-1]["shuffle"] = module.upscale_factor
        else:
            layers[-1]["gelu"] = True
    return [integer_conv(layer["conv"], output_bits if i == len(layers) - 1 else ACTIVATION_BITS,
                         layer["shuffle"], layer["gelu"]) for i, layer in enumerate(layers)]


# Networks run band by band over rows, each layer's input and accumulator (float64) within
# BAND_BYTES (a Kodak image is one band), so that memory stays bounded on large images.
BAND_BYTES = 128 << 20
MIN_BAND_ROWS = 16


def _band_rows(network: list[IntegerConv], width: int) -> int:
    row_bytes, scale = 0, 1
    for layer in network:
        channels = layer.taps.shape[1] + layer.taps.shape[2]  # input + accumulator
        row_bytes = max(row_bytes, channels * width * scale * 8)
        scale *= layer.shuffle
    return max(MIN_BAND_ROWS, BAND_BYTES // max(row_bytes, 1))


def run(network: list[IntegerConv], x: Tensor) -> Tensor:
    """The network on x (integers × 2^-10, any float dtype), clamped first so that every sum
    stays exact, band by band. A band carries `halo` rows of context on each side, as many as
    the zero padding at its edges could reach, so the result is exactly the whole tensor's.
    The result is float32: integers up to the activation limit (2^20) are exact in it."""
    x = x.clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT)
    halo = sum(layer.kernel // 2 for layer in network)
    scale = math.prod(layer.shuffle for layer in network)
    height, rows = x.shape[-2], _band_rows(network, x.shape[-1])
    out: Tensor | None = None
    for r0 in range(0, height, rows):
        r1 = min(r0 + rows, height)
        a0, a1 = max(r0 - halo, 0), min(r1 + halo, height)
        band = torch.stack([_chain(network, image) for image in x[..., a0:a1, :]])  # float64 from here
        if out is None:
            out = torch.empty(*band.shape[:2], height * scale, band.shape[-1], dtype=torch.float32)
        out[..., r0 * scale : r1 * scale, :] = band[..., (r0 - a0) * scale : (r1 - a0) * scale, :]
    return out


def z_inverse_gain_table(z_gain: nn.Module) -> np.ndarray:
    """Per quality step (1/32) and channel, the z inverse gain as an integer × 2^-GAIN_BITS.
    Stored in the weights file: exp() at load time could differ in the last bit by machine."""
    levels = z_gain.log_gain.shape[0]
    quality = 1 + torch.arange((levels - 1) * QUALITY_STEPS + 1, dtype=torch.float64) / QUALITY_STEPS
    with torch.no_grad():
        inverse = z_gain.interpolate(z_gain.log_inverse.detach().double().cpu(), quality)[:, :, 0, 0]
    return torch.round(inverse * 2.0**GAIN_BITS).clamp(1, 2.0**26).to(torch.int64).numpy()


class ExactEntropyParameters:
    """The decoder's (and encoder's) entropy parameters in integer arithmetic, behind
    licodec.models.entropy_parameters.EntropyParameters; see the module doc.

    Units: side and ŷ slices are integers × 2^-10; μ and the coded ŷ integers × 2^-8."""

    def __init__(self, codec: nn.Module, z_inverse_gain: np.ndarray) -> None:
        self.h_mean_s = integer_network(codec.h_mean_s)
        self.h_scale_s = integer_network(codec.h_scale_s)
        self.cc_mean = [integer_network(t, output_bits=MEAN_BITS) for t in codec.cc_mean]
        self.cc_scale = [integer_network(t) for t in codec.cc_scale]
        self.lrp = [integer_network(t) for t in codec.lrp]
        self.support = [codec.support_slices(i) for i in range(codec.slices)]
        medians = codec.prior.medians().detach().double().cpu()
        self.medians = torch.round(torch.ldexp(medians, torch.tensor(ACTIVATION_BITS))).view(1, -1, 1, 1)
        self.z_inverse_gain = torch.from_numpy(np.asarray(z_inverse_gain, dtype=np.float64))
        self.scale_threshold = _table("scale_threshold").float()  # integers below 2^24: exact
        self.half_tanh = _table("half_tanh")

    def side(self, z_symbols: Tensor, quality: float) -> tuple[Tensor, Tensor]:
        step = int(round((quality - 1) * QUALITY_STEPS))
        if not 0 <= step < len(self.z_inverse_gain):  # a damaged file's quality byte
            levels = 1 + (len(self.z_inverse_gain) - 1) // QUALITY_STEPS
            raise LicodecError(f"corrupt file: quality {quality:g} is outside this model's 1..{levels}")
        gain = self.z_inverse_gain[step].view(1, -1, 1, 1)
        z_hat = z_symbols.double().cpu().clamp(-Z_SYMBOL_LIMIT, Z_SYMBOL_LIMIT) * 2.0**ACTIVATION_BITS + self.medians
        z_hat = torch.floor(z_hat * gain * 2.0**-GAIN_BITS + 0.5)  # below 2^51: exact in float64
        return run(self.h_mean_s, z_hat), run(self.h_scale_s, z_hat)

    def slice_parameters(self, i: int, side: tuple[Tensor, Tensor], decoded: list[Tensor]):
        """μ_i (× 2^-8), the scale-table index of σ_i, and the support LRP needs."""
        support = decoded[: self.support[i]]
        mean_support = torch.cat([side[0], *support], dim=1)
        mean = run(self.cc_mean[i], mean_support)
        scale = run(self.cc_scale[i], torch.cat([side[1], *support], dim=1))
        index = torch.bucketize(scale, self.scale_threshold)
        return mean, index.numpy(), mean_support

    def reconstruct(self, i: int, symbols: Tensor, mean: Tensor, mean_support: Tensor) -> Tensor:
        """ŷ_i × 2^-10 from the slice's symbols, μ_i and the LRP correction, in float32: exact up
        to 2^24 (|ŷ| ≤ 16384), and the networks clamp their inputs far below that."""
        y_hat = symbols.double().cpu() * 2.0**MEAN_BITS + mean
        scaled = (y_hat * 2.0 ** (ACTIVATION_BITS - MEAN_BITS)).clamp(-ACTIVATION_LIMIT, ACTIVATION_LIMIT).float()
        y_hat = y_hat + _lookup(self.half_tanh, run(self.lrp[i], torch.cat([mean_support, scaled], dim=1)))
        return (y_hat * 2.0 ** (ACTIVATION_BITS - MEAN_BITS)).float()
