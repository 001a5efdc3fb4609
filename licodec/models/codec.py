"""The codec model: a composition of g_a, one latent codec and g_s.

    x ─► canvas (×64) ─► g_a ─► y ─► ChARMLatentCodec ─► ŷ ─► g_s ─► crop ─► x̂
                                    (gains, hyperprior, slices, rANS)

LicModel is the network (its parameters and the training forward) and the file-coding calls;
how g_a and g_s run on a whole image (tiles, precision, fused kernels) is its TransformEngine's
(licodec.models.engine).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from licodec.config import CodecConfig
from licodec.container import Digests
from licodec.latent_stream import canvas_size, latent_shape
from licodec.models.charm import ChARMLatentCodec
from licodec.models.engine import TransformEngine
from licodec.models.transforms import AnalysisTransform, SynthesisTransform
from licodec.precision import transforms_in_bfloat16

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


def pad_image(x: Tensor) -> Tensor:
    """Replicate the last row/column up to the canvas (×64): cheaper to code than zeros. The
    training-side view of an image; files centre it instead (TransformEngine.analysis)."""
    height, width = x.shape[-2:]
    rows, cols = canvas_size(height, width)
    return F.pad(x, (0, cols - width, 0, rows - height), mode="replicate")


class LicModel(nn.Module):
    """The codec model, as the module docstring draws it: `forward` for training (g_a, the
    latent codec's relaxed forward, g_s), `compress` / `decompress` for files (the image in its
    canvas, g_a and g_s run by `engine`, the latent codec's exact coding). `for_inference`
    chooses the engine's settings (precision, fused kernels)."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.g_a = AnalysisTransform(config)
        self.g_s = SynthesisTransform(config)
        self.latent_codec = ChARMLatentCodec(config)
        self.training_bfloat16 = False  # forward's g_a/g_s under bfloat16 autocast (training only)
        self.frozen_bfloat16 = False  # the same in eval mode: a distillation teacher's forward
        self.engine = TransformEngine()  # how g_a/g_s run on files; for_inference configures it

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
        enabled = self.frozen_bfloat16 if not self.training else self.training_bfloat16
        return torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=enabled)

    def for_inference(self) -> "LicModel":
        """Eval mode, with g_a and g_s in channels-last (15-30 % faster on CPU, measured here)
        and in bfloat16 on CPUs made for it (licodec.precision), through oneDNN's fused kernels
        where this torch has them (licodec.models.fused; built on first use from the weights then).

        The latent codec's entropy parameters run as integer networks (layout-independent).
        """
        self.eval()
        self.training_bfloat16 = self.frozen_bfloat16 = False
        self.engine.configure(bfloat16=transforms_in_bfloat16(), fused=True)
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
        """g_a of the image in its canvas (TransformEngine.analysis: tiled, precision, kernels)."""
        return self.engine.analysis(self.g_a, x, centred)

    def synthesis(self, y_hat: Tensor, height: int, width: int, centred: bool = True) -> np.ndarray:
        """g_s of ŷ as the image's HxWx3 uint8 pixels (TransformEngine.synthesis)."""
        return self.engine.synthesis(self.g_s, y_hat, height, width, centred)
