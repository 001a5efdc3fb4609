"""The analysis and synthesis transforms g_a and g_s (FEDS, Fig. 2).

    g_a: x ─► ↓ ─► RG ─► [Swin-V2] ─► ↓ ─► RG ─► [Swin-V2] ─► ↓ ─► RG ─► ↓ ─► y
    g_s: ŷ ─► ↑ ─► RG ─► ↑ ─► [Swin-V2] ─► RG ─► ↑ ─► [Swin-V2] ─► RG ─► ↑ ─► x̂

Four stride-2 steps (×16), a residual group (RG) after each of the first three, and Swin-V2
attention after the first two down-samplings (mirrored in g_s) when the config has attention.
g_a's first convolution and g_s's last, the two that touch pixels, stay float32 when the rest
trains in bfloat16 (layers.FullPrecisionConv2d says why). Each transform is a list of stages;
`forward(..., features=True)` also returns every stage's output, which distillation aligns
between teacher and student.
"""
from __future__ import annotations

from torch import Tensor, nn

from licodec.config import CodecConfig
from licodec.models.layers import GDN, DownBlock, ResidualGroup, UpBlock, conv, subpel_conv
from licodec.models.swin import SwinV2Attention


def _attention(config: CodecConfig) -> nn.Module:
    if not config.attention_layers:
        return nn.Identity()
    return SwinV2Attention(config.N, config.attention_layers, config.attention_window,
                           config.attention_heads, config.mlp_ratio)


class _Stages(nn.Module):
    def __init__(self, stages: list[nn.Module]) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor, features: bool = False):
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return (x, outputs) if features else x


class AnalysisTransform(_Stages):
    def __init__(self, config: CodecConfig) -> None:
        n, groups = config.N, config.residual_groups
        group = lambda: ResidualGroup(n, config.blocks_per_group) if groups else nn.Identity()  # noqa: E731
        # First step is a plain 5×5 conv: a strided 1×1 skip on 3-channel input crashes
        # torch 2.13's CPU backward under channels-last (shared/reference/measurements.md).
        super().__init__([
            nn.Sequential(conv(3, n, 5, stride=2, full_precision=True), GDN(n), group(), _attention(config)),
            nn.Sequential(DownBlock(n, n), group(), _attention(config)),
            nn.Sequential(DownBlock(n, n), group()),
            conv(n, config.M, 3, stride=2),
        ])


class SynthesisTransform(_Stages):
    def __init__(self, config: CodecConfig) -> None:
        n, groups = config.N, config.residual_groups
        group = lambda: ResidualGroup(n, config.blocks_per_group) if groups else nn.Identity()  # noqa: E731
        super().__init__([
            nn.Sequential(UpBlock(config.M, n), group()),
            nn.Sequential(UpBlock(n, n), _attention(config), group()),
            nn.Sequential(UpBlock(n, n), _attention(config), group()),
            subpel_conv(n, 3, 2, full_precision=True),
        ])
