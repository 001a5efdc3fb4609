"""The precision g_a and g_s run in on this machine; the entropy parameters are always exact.

bfloat16 where the CPU has AMX tiles (Intel Sapphire Rapids and later): oneDNN's bfloat16
convolutions ran the student's g_a 2.2× and g_s 2.8× faster than float32 on such a CPU, for
+0.26 % BD-rate on Kodak (scripts/precision_cost.py, results/robustness/precision-cost-student.md). Elsewhere bfloat16 convolutions
are emulated or less proven, so float32 stays. g_a only chooses the symbols and g_s only the
pixels (docs/format.md), so every file still decodes on every machine; the pixels of one file
may differ by a level or two between a bfloat16 and a float32 decoder.

LICODEC_PRECISION=float32 (or bfloat16) overrides the choice.
"""
from __future__ import annotations

import os

import torch

from licodec.errors import LicodecError

ENVIRONMENT = "LICODEC_PRECISION"
CHOICES = ("auto", "float32", "bfloat16")


def transform_precision() -> str:
    """"bfloat16" or "float32": what g_a and g_s run in here (for reports and cache keys)."""
    return "bfloat16" if transforms_in_bfloat16() else "float32"


def transforms_in_bfloat16() -> bool:
    """Whether g_a and g_s run under bfloat16 autocast on the CPU."""
    choice = os.environ.get(ENVIRONMENT, "auto")
    if choice not in CHOICES:
        raise LicodecError(f"{ENVIRONMENT}={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "auto":
        return _cpu_has_amx()
    return choice == "bfloat16"


def _cpu_has_amx() -> bool:
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private, so guarded
    return bool(check and check())
