"""Rate control: the fractional quality that meets a target file size, bpp or PSNR.

Qualities are coded in steps of 1/32 (container.QUALITY_STEPS), so the search is a bisection
over those 225 grid points on the real coded file (and, for PSNR, the real decoded image):
about 8 encodes, each a real measurement, never a model estimate. Size and PSNR rise with
quality, which is what bisection needs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from licodec.container import QUALITY_STEPS
from licodec.errors import LicodecError

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}


@dataclass(frozen=True)
class Target:
    kind: str  # "bytes" (--size), "bpp" (--bpp: bytes = bpp × pixels / 8) or "psnr"
    value: float

    def describe(self) -> str:
        units = {"bytes": "{:.0f} bytes", "bpp": "{:g} bpp", "psnr": "{:.2f} dB"}
        return units[self.kind].format(self.value)

    def for_image(self, pixels: int) -> "Target":
        """Size targets in bytes for an image of `pixels` pixels."""
        return Target("bytes", self.value * pixels / 8) if self.kind == "bpp" else self


def parse_size(text: str) -> int:
    """'20KB', '20 kB', '1.5MiB', '3000' (bytes) → bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise LicodecError(f"--size {text!r}: give bytes, e.g. 20000, 20KB, 20KiB or 1.5MB")
    size = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if size < 1:
        raise LicodecError(f"--size {text!r} is too small")
    return int(size)


def grid_quality(step: int) -> float:
    return 1 + step / QUALITY_STEPS


def search(measure: Callable[[float], float], target: Target, levels: int) -> tuple[float, bool]:
    """(quality, met): for a size, the highest quality whose file fits; for a PSNR, the lowest
    quality that reaches it. Where no quality meets the target, the nearest end, met = False."""
    low, high = 0, (levels - 1) * QUALITY_STEPS
    if target.kind == "bpp":
        raise ValueError("convert a bpp target with Target.for_image first")
    if target.kind == "bytes":
        if measure(grid_quality(low)) > target.value:
            return grid_quality(low), False
        while low < high:  # invariant: low fits
            middle = (low + high + 1) // 2
            low, high = (middle, high) if measure(grid_quality(middle)) <= target.value else (low, middle - 1)
        return grid_quality(low), True
    if measure(grid_quality(high)) < target.value:
        return grid_quality(high), False
    while low < high:  # invariant: high reaches the target
        middle = (low + high) // 2
        low, high = (middle + 1, high) if measure(grid_quality(middle)) < target.value else (low, middle)
    return grid_quality(high), True
