"""Encoder effort levels: how many refinement iterations each one spends (torch-free, so that the
CLI refuses a bad --effort before torch loads). The refinement is licodec.models.refine.

Higher is slower and smaller, as with cjxl's -e; 0 is g_a's single pass, the default, and gives
the files licodec always gave. Every effort's files decode with the same decoder.
"""
from __future__ import annotations

from licodec.errors import LicodecError

# Iterations per level, each double the last. On this project's 2-core AVX-512 BF16 CPU a Kodak
# image (768×512) took a median 13.8 s at effort 1 and 27.1 s at effort 2, about 1.4 s per
# iteration and megapixel (results/effort/kodak/effort.md, `make eval-effort`).
ITERATIONS: tuple[int, ...] = (0, 25, 50, 100, 200, 400, 800)
MAX_EFFORT = len(ITERATIONS) - 1
HELP = ("encoder effort 0 (one pass, the default) to {top}: higher refines each image's latents for "
        "more iterations ({levels}), smaller files at the same quality, same decoder; each iteration "
        "costs about 1.4 s per megapixel on 2 CPU cores (768×512: 14 s at effort 1)").format(
    top=MAX_EFFORT, levels=", ".join(f"{e}: {n}" for e, n in enumerate(ITERATIONS) if e))


def check_effort(effort: object) -> int:
    """The effort as an int in 0..MAX_EFFORT, or a one-line LicodecError."""
    if isinstance(effort, bool) or not isinstance(effort, int):
        try:
            value = int(str(effort).strip())
        except ValueError:
            raise LicodecError(f"effort {effort!r} is not a whole number (0..{MAX_EFFORT})") from None
    else:
        value = effort
    if not 0 <= value <= MAX_EFFORT:
        raise LicodecError(f"effort {effort} is outside 0..{MAX_EFFORT}")
    return value


def iterations(effort: int) -> int:
    return ITERATIONS[check_effort(effort)]
