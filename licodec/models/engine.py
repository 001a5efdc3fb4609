"""How g_a and g_s run when a file is coded: tile by tile, in the chosen precision, through fused
kernels where they exist. LicModel is the network; this is the machinery around its transforms.

    analysis:  image ─► canvas (×64, image centred) ─► tiles with context ─► run(g_a) ─► y
    synthesis: ŷ ─► tiles with context ─► run(g_s) ─► x̂ tiles ─► the image's pixels
    run:       fused oneDNN kernels (float32 CPU input) │ bfloat16 autocast │ the module as it is

Both directions cut the same tiles, in latent positions (`tiles`): TILE pixels a side, each with
MARGIN pixels of context around it, wider than the transforms' receptive fields (about ±6
latent positions for the student), so that tiles meet without seams and memory stays bounded
on large images. `bfloat16` and `fused` are set by LicModel.for_inference (licodec.precision
decides bfloat16) and by the checks that compare precisions and kernels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from licodec.latent_stream import canvas_offset, canvas_size
from licodec.models.fused import Layer, fused_transform

LATENT_STRIDE = 16  # g_a's down-sampling
TILE = 1024
MARGIN = 128


@dataclass(frozen=True)
class Tile:
    """One tile, in any unit: the rows and columns it writes, and the wider ones it reads."""

    rows: slice
    cols: slice
    context_rows: slice
    context_cols: slice

    def inner(self) -> tuple[slice, slice]:
        """The rows and columns it writes, counted from its context's first."""
        return (slice(self.rows.start - self.context_rows.start, self.rows.stop - self.context_rows.start),
                slice(self.cols.start - self.context_cols.start, self.cols.stop - self.context_cols.start))


def spans(length: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(start, end) of each tile along one axis, and the (start, end) of its context window."""
    if length <= tile + 2 * margin:
        return [(0, length, 0, length)]
    return [(s, min(s + tile, length), max(s - margin, 0), min(s + tile + margin, length))
            for s in range(0, length, tile)]


def tiles(height: int, width: int, tile: int, margin: int) -> list[Tile]:
    """The tiles covering a height × width grid once, row by row."""
    return [Tile(slice(r0, r1), slice(c0, c1), slice(a0, a1), slice(b0, b1))
            for r0, r1, a0, a1 in spans(height, tile, margin)
            for c0, c1, b0, b1 in spans(width, tile, margin)]


def pixels(latent: slice) -> slice:
    """The pixels over these latent positions."""
    return slice(latent.start * LATENT_STRIDE, latent.stop * LATENT_STRIDE)


def scaled(x: Tensor) -> Tensor:
    """uint8 pixels as floats in [0, 1]; floats as they are."""
    return x.float() / 255 if x.dtype == torch.uint8 else x


def canvas_region(x: Tensor, rows: slice, cols: slice, offset: tuple[int, int]) -> Tensor:
    """Canvas pixels rows × cols (floats in [0, 1]) of image x placed at `offset`: the image's
    own where they fall on it, else its nearest edge pixel (the canvas's replicated padding)."""
    height, width = x.shape[-2:]
    row_index = torch.arange(rows.start - offset[0], rows.stop - offset[0], device=x.device).clamp_(0, height - 1)
    col_index = torch.arange(cols.start - offset[1], cols.stop - offset[1], device=x.device).clamp_(0, width - 1)
    return scaled(x.index_select(-2, row_index).index_select(-1, col_index))


def tensor_to_rgb(x: Tensor) -> np.ndarray:
    """The first image of a [N, 3, H, W] batch in [0, 1] as an HxWx3 uint8 array (rounded)."""
    return (x[0].permute(1, 2, 0).float().cpu().numpy() * 255).round().astype(np.uint8)


class TransformEngine:
    """Runs a model's g_a and g_s on whole images, as the module docstring draws it."""

    def __init__(self) -> None:
        self.bfloat16 = False  # g_a / g_s under bfloat16 autocast on the CPU
        self.fused = False  # g_a / g_s through fused kernels (licodec.models.fused)
        self._kernels: dict[tuple[str, torch.dtype], Layer | None] = {}

    def configure(self, bfloat16: bool, fused: bool) -> None:
        """New settings; fused kernels are built again from the weights on first use."""
        self.bfloat16, self.fused, self._kernels = bfloat16, fused, {}

    def analysis(self, g_a: nn.Module, x: Tensor, centred: bool = True) -> Tensor:
        """g_a of image x ([1, 3, H, W], uint8 or floats in [0, 1]) in its canvas (canvas_offset)."""
        height, width = x.shape[-2:]
        offset = canvas_offset(height, width, centred)
        rows, cols = (side // LATENT_STRIDE for side in canvas_size(height, width))
        y = None
        for tile in tiles(rows, cols, TILE // LATENT_STRIDE, MARGIN // LATENT_STRIDE):
            region = canvas_region(x, pixels(tile.context_rows), pixels(tile.context_cols), offset)
            out = self.run("g_a", g_a, region.contiguous(memory_format=torch.channels_last))
            out = out.float() if out.dtype == torch.bfloat16 else out
            if y is None:
                y = out.new_empty(1, out.shape[1], rows, cols)
            y[..., tile.rows, tile.cols] = out[(..., *tile.inner())]
        return y

    def synthesis(self, g_s: nn.Module, y_hat: Tensor, height: int, width: int, centred: bool = True) -> np.ndarray:
        """g_s of ŷ as the image's HxWx3 uint8 pixels, cut from its canvas (canvas_offset)."""
        image = np.empty((height, width, 3), dtype=np.uint8)
        top, left = canvas_offset(height, width, centred)
        for tile in tiles(*y_hat.shape[-2:], TILE // LATENT_STRIDE, MARGIN // LATENT_STRIDE):
            # The canvas pixels this tile writes that belong to the image.
            rows = range(max(pixels(tile.rows).start, top), min(pixels(tile.rows).stop, top + height))
            cols = range(max(pixels(tile.cols).start, left), min(pixels(tile.cols).stop, left + width))
            if not rows or not cols:
                continue
            x_hat = self.run("g_s", g_s, y_hat[..., tile.context_rows, tile.context_cols].contiguous(
                memory_format=torch.channels_last))
            first_row, first_col = pixels(tile.context_rows).start, pixels(tile.context_cols).start
            block = x_hat[..., rows.start - first_row : rows.stop - first_row, cols.start - first_col : cols.stop - first_col]
            image[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = tensor_to_rgb(
                block.nan_to_num(0.0).clamp(0, 1))  # NaN: a damaged file
        return image

    def run(self, name: str, transform: nn.Module, x: Tensor) -> Tensor:
        """The transform (`name`: "g_a" or "g_s") of x: fused where it applies (`fused` set, a
        float32 CPU tensor, oneDNN enabled), else the module under the chosen precision."""
        on_cpu = x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.enabled
        if self.fused and on_cpu:
            dtype = torch.bfloat16 if self.bfloat16 else torch.float32
            if (name, dtype) not in self._kernels:
                self._kernels[name, dtype] = fused_transform(transform, dtype)
            kernel = self._kernels[name, dtype]
            if kernel is not None:
                return kernel(x)
        # bfloat16 autocast on the CPU where chosen (a float64 input stays float64: autocast
        # leaves it alone).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16 and x.device.type == "cpu"):
            return transform(x)

    def __getstate__(self) -> dict:
        """Copies and pickles drop the fused kernels (closures do not pickle); rebuilt on use."""
        return {**self.__dict__, "_kernels": {}}
