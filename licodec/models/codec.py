"""The codec model: a composition of g_a, one latent codec and g_s.

    x ─► pad to ×64 ─► g_a ─► y ─► ChARMLatentCodec ─► ŷ ─► g_s ─► crop ─► x̂
                                  (gains, hyperprior, slices, rANS)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from licodec.config import CodecConfig
from licodec.container import Digests
from licodec.latent_stream import PAD_MULTIPLE, canvas_offset, latent_shape
from licodec.models.charm import ChARMLatentCodec
from licodec.models.fused import Layer, fused_transform
from licodec.models.transforms import AnalysisTransform, SynthesisTransform
from licodec.precision import transforms_in_bfloat16

LATENT_STRIDE = 16  # g_a's down-sampling
# Large images run g_a and g_s tile by tile, so that memory stays bounded: tiles of TILE pixels a
# side, each with MARGIN pixels of context around it, wider than the transforms' receptive
# fields (about ±6 latent positions for the student), so that tiles meet without seams.
TILE = 1024
MARGIN = 128


# A model's parts, by parameter-name prefix: what `licodec bench` and `python -m licodec.models`
# count, and what SMoDi trains in turn (licodec.training.distill). Each gain unit belongs with the
# latent it scales.
PARTS: dict[str, tuple[str, ...]] = {
    "g_a": ("g_a",),
    "g_s": ("g_s",),
    "hyperprior": ("latent_codec.h_a", "latent_codec.h_mean_s", "latent_codec.h_scale_s", "latent_codec.prior",
                   "latent_codec.z_gain"),
    "charm": ("latent_codec.cc_mean", "latent_codec.cc_scale", "latent_codec.lrp", "latent_codec.y_gain"),
}


def part_sizes(model: nn.Module) -> dict[str, int]:
    """Parameters per part (PARTS) of a licodec model."""
    return {part: sum(p.numel() for name, p in model.named_parameters() if name.startswith(prefixes))
            for part, prefixes in PARTS.items()}


@dataclass
class CompressedImage:
    data: bytes
    y_hat: Tensor
    digests: Digests


def rgb_to_tensor(rgb: np.ndarray, scaled: bool = True) -> Tensor:
    """An HxWx3 uint8 array as the networks' input: [1, 3, H, W] floats in [0, 1], or the uint8
    values themselves (`scaled=False`: 4× less memory; compress scales tile by tile)."""
    x = torch.from_numpy(np.require(rgb, requirements=["C", "W"])).permute(2, 0, 1)[None]
    return x.float() / 255 if scaled else x


def _scaled(x: Tensor) -> Tensor:
    return x.float() / 255 if x.dtype == torch.uint8 else x


def _spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(start, end) of each tile along one axis, and the (start, end) of its context window."""
    if length <= tile + 2 * margin:
        return [(0, length, 0, length)]
    return [(s, min(s + tile, length), max(s - margin, 0), min(s + tile + margin, length))
            for s in range(0, length, tile)]


def canvas_region(x: Tensor, rows: tuple[int, int], cols: tuple[int, int], offset: tuple[int, int]) -> Tensor:
    """Canvas pixels rows × cols (floats in [0, 1]) of image x placed at `offset`: the image's
    own where they fall on it, else its nearest edge pixel (the canvas's replicated padding)."""
    height, width = x.shape[-2:]
    row_index = torch.arange(rows[0] - offset[0], rows[1] - offset[0], device=x.device).clamp_(0, height - 1)
    col_index = torch.arange(cols[0] - offset[1], cols[1] - offset[1], device=x.device).clamp_(0, width - 1)
    return _scaled(x.index_select(-2, row_index).index_select(-1, col_index))


def tensor_to_rgb(x: Tensor) -> np.ndarray:
    """The first image of a [N, 3, H, W] batch in [0, 1] as an HxWx3 uint8 array (rounded)."""
    return (x[0].permute(1, 2, 0).float().cpu().numpy() * 255).round().astype(np.uint8)


def pad_image(x: Tensor) -> Tensor:
    """Replicate the last row/column up to a multiple of 64: cheaper to code than zeros."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % PAD_MULTIPLE, 0, (-h) % PAD_MULTIPLE), mode="replicate")


class LicModel(nn.Module):
    """The codec model, as the module docstring draws it: `forward` for training (g_a, the
    latent codec's relaxed forward, g_s), `compress` / `decompress` for files (the image in its
    canvas, tiled g_a and g_s, the latent codec's exact coding). Inference settings (precision,
    fused kernels) are chosen by `for_inference`."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.g_a = AnalysisTransform(config)
        self.g_s = SynthesisTransform(config)
        self.latent_codec = ChARMLatentCodec(config)
        self.bfloat16_transforms = False  # for_inference decides (licodec.precision)
        self.training_bfloat16 = False  # forward's g_a/g_s under bfloat16 autocast (training only)
        self.fuse_transforms = False  # for_inference: g_a/g_s through fused kernels (licodec.models.fused)
        self._fused: dict[tuple[str, torch.dtype], Layer | None] = {}

    def forward(self, x: Tensor, quality: Tensor, features: bool = False) -> dict:
        """x in [0, 1], sizes a multiple of 64; quality: [B] levels in [1, levels].

        With `training_bfloat16` set (licodec.precision.training_precision), g_a and g_s run under
        bfloat16 autocast on any device; their outputs return to float32, so the latent codec,
        the likelihoods and every loss term are float32 whatever the transforms ran in."""
        with self._training_autocast(x):
            y, features_a = self.g_a(x, features=True)
        y = y.float()
        out = self.latent_codec(y, quality)
        with self._training_autocast(x):
            x_hat, features_s = self.g_s(out["y_hat"], features=True)
        out.update(x_hat=x_hat.float(), y=y)
        if features:
            out.update(features_a=[f.float() for f in features_a], features_s=[f.float() for f in features_s])
        return out

    def _training_autocast(self, x: Tensor) -> torch.autocast:
        return torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.training_bfloat16 and self.training)

    def for_inference(self) -> "LicModel":
        """Eval mode, with g_a and g_s in channels-last (15-30 % faster on CPU, measured here)
        and in bfloat16 on CPUs made for it (licodec.precision), through oneDNN's fused kernels
        where this torch has them (licodec.models.fused; built on first use from the weights then).

        The latent codec's entropy parameters run as integer networks (layout-independent).
        """
        self.eval()
        self.training_bfloat16 = False
        self.bfloat16_transforms = transforms_in_bfloat16()
        self.fuse_transforms, self._fused = True, {}
        self.g_a.to(memory_format=torch.channels_last)
        self.g_s.to(memory_format=torch.channels_last)
        return self

    @torch.no_grad()
    def compress(self, x: Tensor, quality: float, exact: bool = True, trace: list[Tensor] | None = None) -> CompressedImage:
        """x: [1, 3, H, W], floats in [0, 1] or uint8, any size, centred in its canvas (format
        3). `exact=False`: the float reference path (ChARMLatentCodec.compress), for measuring
        what the integer networks cost; `trace`: the entropy parameters, as
        ChARMLatentCodec.decompress says."""
        y = self.analysis(x)
        streams = self.latent_codec.compress(y.contiguous(), quality, exact, trace)
        return CompressedImage(streams.data, streams.y_hat, streams.digests)

    @torch.no_grad()
    def decompress(self, data: bytes, height: int, width: int, quality: float,
                   trace: list[Tensor] | None = None, expected: Digests | None = None,
                   centred: bool = True) -> tuple[np.ndarray, Tensor, Digests]:
        """The decoded HxWx3 uint8 pixels, ŷ, and the digests of the decoded symbols; with the
        file's `expected` digests, a mismatch stops the decode before g_s (ChARMLatentCodec).
        `centred`: where the image sits in its canvas (False for format 2 files)."""
        y_hat, digests = self.latent_codec.decompress(data, latent_shape(height, width), quality, trace=trace,
                                                      expected=expected)
        return self.synthesis(y_hat, height, width, centred), y_hat, digests

    def analysis(self, x: Tensor, centred: bool = True) -> Tensor:
        """g_a of the image in its canvas padded to a multiple of 64 (canvas_offset), tile by
        tile when it is large."""
        height, width = x.shape[-2:]
        offset = canvas_offset(height, width, centred)
        padded_height, padded_width = (PAD_MULTIPLE * n for n in latent_shape(height, width))
        y = None
        for r0, r1, a0, a1 in _spans(padded_height, TILE, MARGIN):
            for c0, c1, b0, b1 in _spans(padded_width, TILE, MARGIN):
                region = canvas_region(x, (a0, a1), (b0, b1), offset)
                out = self._transform("g_a", region.contiguous(memory_format=torch.channels_last))
                out = out.float() if out.dtype == torch.bfloat16 else out
                if y is None:
                    y = out.new_empty(1, out.shape[1], padded_height // LATENT_STRIDE, padded_width // LATENT_STRIDE)
                y[..., r0 // LATENT_STRIDE : r1 // LATENT_STRIDE, c0 // LATENT_STRIDE : c1 // LATENT_STRIDE] = out[
                    ..., (r0 - a0) // LATENT_STRIDE : (r1 - a0) // LATENT_STRIDE,
                    (c0 - b0) // LATENT_STRIDE : (c1 - b0) // LATENT_STRIDE]
        return y

    def synthesis(self, y_hat: Tensor, height: int, width: int, centred: bool = True) -> np.ndarray:
        """g_s of ŷ as the image's HxWx3 uint8 pixels, cut from its canvas (canvas_offset), tile
        by tile when the image is large."""
        pixels = np.empty((height, width, 3), dtype=np.uint8)
        top, left = canvas_offset(height, width, centred)
        tile, margin = TILE // LATENT_STRIDE, MARGIN // LATENT_STRIDE
        for r0, r1, a0, a1 in _spans(y_hat.shape[-2], tile, margin):
            for c0, c1, b0, b1 in _spans(y_hat.shape[-1], tile, margin):
                # The canvas pixels this tile writes that belong to the image.
                rows = range(max(r0 * LATENT_STRIDE, top), min(r1 * LATENT_STRIDE, top + height))
                cols = range(max(c0 * LATENT_STRIDE, left), min(c1 * LATENT_STRIDE, left + width))
                if not rows or not cols:
                    continue
                x_hat = self._transform("g_s", y_hat[..., a0:a1, b0:b1].contiguous(memory_format=torch.channels_last))
                block = x_hat[..., rows.start - a0 * LATENT_STRIDE : rows.stop - a0 * LATENT_STRIDE,
                              cols.start - b0 * LATENT_STRIDE : cols.stop - b0 * LATENT_STRIDE]
                pixels[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = tensor_to_rgb(
                    block.nan_to_num(0.0).clamp(0, 1))  # NaN: a damaged file
        return pixels

    def _transform(self, name: str, x: Tensor) -> Tensor:
        """g_a or g_s of x: fused where it applies (after for_inference, a float32 CPU tensor,
        oneDNN enabled), else the module under the chosen precision."""
        on_cpu = x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.enabled
        if self.fuse_transforms and on_cpu:
            dtype = torch.bfloat16 if self.bfloat16_transforms else torch.float32
            if (name, dtype) not in self._fused:
                self._fused[name, dtype] = fused_transform(getattr(self, name), dtype)
            fused = self._fused[name, dtype]
            if fused is not None:
                return fused(x)
        with self._transform_precision(x):
            return getattr(self, name)(x)

    def __getstate__(self) -> dict:
        """Copies and pickles drop the fused transforms (closures do not pickle); rebuilt on use."""
        return {**super().__getstate__(), "_fused": {}}

    def _transform_precision(self, x: Tensor) -> torch.autocast:
        """bfloat16 autocast for g_a / g_s on the CPU where for_inference chose it (a float64
        input stays float64: autocast leaves it alone)."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16_transforms and x.device.type == "cpu")
