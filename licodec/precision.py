"""The precision g_a and g_s run in on this machine; the entropy parameters are always exact.

bfloat16 where the CPU has AMX tiles (Intel Sapphire Rapids and later): oneDNN's bfloat16
convolutions ran the student's g_a 2.2× and g_s 2.8× faster than float32 on such a CPU, for
+0.26 % BD-rate on Kodak (scripts/precision_cost.py, results/precision/precision-cost-student.md). Elsewhere bfloat16 convolutions
are emulated or less proven, so float32 stays. g_a only chooses the symbols and g_s only the
pixels (docs/format.md), so every file still decodes on every machine; the pixels of one file
may differ by a level or two between a bfloat16 and a float32 decoder.

LICODEC_PRECISION=float32 (or bfloat16) overrides the choice. Training decides apart
(`training_precision`, `licodec train --precision`).
"""
from __future__ import annotations

import os
from pathlib import Path

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


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), for the benchmarks' records."""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_kind() -> str:
    """Which of the CPU kinds this project meets runs here: what decides precision and speed, so
    the benchmarks record it ("AMX": Intel Xeon Sapphire Rapids and later; "AVX-512 BF16": e.g.
    AMD EPYC Zen 4; else none of bfloat16's matrix instructions)."""
    if _cpu_has_amx():
        return "AMX"
    return "AVX-512 BF16" if _cpu_has_avx512_bf16() else "no bfloat16 matrix instructions"


def _cpu_has_amx() -> bool:
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private, so guarded
    return bool(check and check())


def training_precision(choice: str, device: str) -> str:
    """"bfloat16" or "float32": what g_a and g_s train in (`licodec train --precision`).

    Only g_a and g_s ever run in bfloat16 (autocast, LicModel.forward); the latent codec (gains,
    hyperprior, ChARM slices, LRP), the likelihoods, the factorized prior's CDF, the aux loss,
    the losses, the master weights and Adam stay float32: the rate terms take logs of
    probabilities down to 1e-9 and differences of nearly equal CDF values, which bfloat16's
    8-bit mantissa cannot hold. "auto" picks bfloat16 on a CUDA device that has it and on CPUs
    with bfloat16 matrix instructions (AMX, or AVX-512 BF16), float32 elsewhere.
    """
    if choice not in CHOICES:
        raise LicodecError(f"unknown precision {choice!r} ({', '.join(CHOICES)})")
    if choice != "auto":
        return choice
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if _cpu_has_amx() or _cpu_has_avx512_bf16() else "float32"


def _cpu_has_avx512_bf16() -> bool:
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private, so guarded
    return bool(check and check())
