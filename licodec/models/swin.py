"""Swin-Transformer-V2 attention for convolutional feature maps (Liu et al., CVPR 2022).

    NCHW ─► pad to window ─► tokens ─► [W-MSA block, SW-MSA block, ...] ─► crop ─► NCHW

V2 differences from V1, all kept here: scaled cosine attention with a learnable per-head
logit scale (clamped at ln 100), a log-spaced continuous position bias from a small MLP,
and res-post-norm (LayerNorm after each sub-layer, inside the residual).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_MAX_LOGIT_SCALE = math.log(1.0 / 0.01)


def _log_spaced_offsets(window: int) -> Tensor:
    """Relative offsets (Δy, Δx) in [-(W-1), W-1]², scaled to ±8 and log-spaced: [(2W-1)², 2]."""
    span = torch.arange(-(window - 1), window, dtype=torch.float32)
    table = torch.stack(torch.meshgrid(span, span, indexing="ij"), dim=-1).reshape(-1, 2)
    table = table / max(window - 1, 1) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)


def _relative_index(window: int) -> Tensor:
    """For each (query, key) pair in a window, the row of its offset in the offset table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[..., 0] * (2 * window - 1) + relative[..., 1]


class WindowAttentionV2(nn.Module):
    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))  # k has no bias, as in the paper
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, heads, bias=False))
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("offsets", _log_spaced_offsets(window), persistent=False)
        self.register_buffer("relative_index", _relative_index(window).flatten(), persistent=False)

    def position_bias(self, tokens: int) -> Tensor:
        bias = self.cpb_mlp(self.offsets)[self.relative_index]  # [N*N, heads]
        return 16 * torch.sigmoid(bias.T.reshape(self.heads, tokens, tokens))

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """x: [windows·B, N, C]; mask: [windows, N, N] of 0 / -100, or None."""
        batch, tokens, dim = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(batch, tokens, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        scale = torch.exp(torch.clamp(self.logit_scale, max=_MAX_LOGIT_SCALE))
        logits = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)) * scale
        logits = logits + self.position_bias(tokens)
        if mask is not None:
            windows = mask.shape[0]
            logits = logits.view(batch // windows, windows, self.heads, tokens, tokens) + mask[None, :, None]
            logits = logits.view(batch, self.heads, tokens, tokens)
        out = (logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj(out)


def _to_windows(x: Tensor, window: int) -> Tensor:
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def _from_windows(windows: Tensor, window: int, h: int, w: int) -> Tensor:
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def _shift_mask(h: int, w: int, window: int, shift: int, device: torch.device) -> Tensor:
    """-100 between tokens that the cyclic shift brought together from different regions."""
    regions = torch.zeros(1, h, w, 1, device=device)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for rows in bands:
        for cols in bands:
            regions[:, rows, cols, :] = label
            label += 1
    ids = _to_windows(regions, window).squeeze(-1)
    return (ids[:, None, :] != ids[:, :, None]).float() * -100.0


class SwinV2Block(nn.Module):
    """x + LN(attention(x)); x + LN(MLP(x)) — res-post-norm, optionally with shifted windows."""

    def __init__(self, dim: int, window: int, heads: int, shifted: bool, mlp_ratio: float) -> None:
        super().__init__()
        self.window, self.shifted = window, shifted
        self.attn = WindowAttentionV2(dim, window, heads)
        self.norm1 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, H, W, C] with H and W multiples of the window."""
        _, h, w, _ = x.shape
        window = self.window
        shift = window // 2 if self.shifted and min(h, w) > window else 0
        shifted = torch.roll(x, (-shift, -shift), (1, 2)) if shift else x
        mask = _shift_mask(h, w, window, shift, x.device) if shift else None
        attended = _from_windows(self.attn(_to_windows(shifted, window), mask), window, h, w)
        if shift:
            attended = torch.roll(attended, (shift, shift), (1, 2))
        x = x + self.norm1(attended)
        return x + self.norm2(self.mlp(x))


class SwinV2Attention(nn.Module):
    """Alternating window / shifted-window Swin-V2 blocks on an NCHW feature map of any size."""

    def __init__(self, dim: int, layers: int, window: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.window = window
        self.blocks = nn.ModuleList(
            SwinV2Block(dim, window, heads, shifted=i % 2 == 1, mlp_ratio=mlp_ratio) for i in range(layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        _, _, h, w = x.shape
        pad_h, pad_w = (-h) % self.window, (-w) % self.window
        tokens = F.pad(x, (0, pad_w, 0, pad_h)).permute(0, 2, 3, 1)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens.permute(0, 3, 1, 2)[:, :, :h, :w].contiguous()
