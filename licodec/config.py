"""Architecture configs: frozen dataclasses, one registry of named configs.

Torch-free on purpose: `licodec info` and `licodec --help` read configs without importing torch.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

# CompressAI's MSE λ table for quality levels 1..8 (loss = λ·255²·MSE + bpp).
MSE_LAMBDAS: tuple[float, ...] = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18)
# CompressAI's MS-SSIM λ table (loss = λ·(1 − MS-SSIM) + bpp), for `licodec train --metric ms-ssim`.
MSSSIM_LAMBDAS: tuple[float, ...] = (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.0)


@dataclass(frozen=True)
class CodecConfig:
    """Everything needed to build a model; stored in every weights file."""

    N: int  # transform width
    M: int  # latent channels of y
    hyper_channels: int  # channels of z
    slices: int  # ChARM slices (M must divide evenly)
    max_support_slices: int  # earlier slices a slice may condition on; -1 = all
    slice_hidden: tuple[int, ...]  # widths of the cc_mean / cc_scale / lrp transforms
    residual_groups: int = 3
    blocks_per_group: int = 1
    attention_layers: int = 0  # Swin-V2 layers per attention module; 0 = no attention
    attention_window: int = 8
    attention_heads: int = 4
    mlp_ratio: float = 4.0
    lambdas: tuple[float, ...] = MSE_LAMBDAS

    def __post_init__(self) -> None:
        if self.M % self.slices:
            raise ValueError(f"M={self.M} is not divisible by slices={self.slices}")

    @property
    def slice_channels(self) -> int:
        return self.M // self.slices

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CodecConfig":
        fields = json.loads(text)
        for key in ("slice_hidden", "lambdas"):
            fields[key] = tuple(fields[key])
        return cls(**fields)


CONFIGS: dict[str, CodecConfig] = {
    # The FEDS paper's dimensions (Fu et al. 2025): N=128, teacher M=400 in 8 slices with
    # Swin-V2 after the 1st and 2nd down-sampling and 3 residual groups × 6 blocks;
    # student M=160 in 5 slices, no attention, 1 block per group. The paper does not give the
    # slice transforms' widths; (320, 224, 128) brings the totals to 90.96 M / 35.79 M against
    # the paper's 95.43 M / 35.34 M (`python -m licodec.models`).
    "feds-teacher": CodecConfig(
        N=128, M=400, hyper_channels=192, slices=8, max_support_slices=-1,
        slice_hidden=(320, 224, 128), blocks_per_group=6, attention_layers=2, attention_heads=4,
    ),
    "feds-student": CodecConfig(
        N=128, M=160, hyper_channels=192, slices=5, max_support_slices=-1,
        slice_hidden=(320, 224, 128), blocks_per_group=1,
    ),
    # The compact pair this project trains on CPUs and ships.
    "teacher": CodecConfig(  # 11.95 M parameters
        N=96, M=160, hyper_channels=96, slices=8, max_support_slices=4,
        slice_hidden=(56, 40), blocks_per_group=2, attention_layers=2, attention_heads=3,
        mlp_ratio=2.0,
    ),
    "student": CodecConfig(  # 3.71 M parameters: 31 % of the teacher
        N=56, M=100, hyper_channels=64, slices=5, max_support_slices=-1,
        slice_hidden=(48, 32), blocks_per_group=1,
    ),
    # The student's student (distillation issue): the student's parts and depth at widths that
    # are multiples of 16 (the matrix units' tile), 35 % of its multiply-adds per pixel. M=80
    # keeps 5 slices, so each slice is 16 of the student's 20 channels (distill.prune_student).
    "fast": CodecConfig(  # 1.65 M parameters, 34.5 kMAC/px (the student: 3.71 M, 99.1)
        N=32, M=80, hyper_channels=48, slices=5, max_support_slices=-1,
        slice_hidden=(32, 32), blocks_per_group=1,
    ),
}


def get_config(name: str) -> CodecConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(CONFIGS)}") from None
