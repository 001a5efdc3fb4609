"""The format's fixed tables, stored as data so that every machine codes with the same numbers.

    python -m licodec.format_tables --write   # regenerates licodec/data/format_tables.npz

What a decoder must reproduce bit for bit cannot come from libm at run time: erfc, exp and tanh
may differ in the last bit between platforms, and one such bit may change a quantised
probability or a rounding. So the Gaussian tables, the scale-index thresholds and the lookup
tables of the integer networks (GELU, ½·tanh; `licodec.models.exact`) are computed once, here,
and shipped. docs/format.md names the file's SHA-256: changing it is a format change.
Torch-free, like `licodec.rans`.
"""
from __future__ import annotations

import argparse
import hashlib
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from licodec.rans import TableSet, gaussian_tables

PATH = Path(__file__).resolve().parent / "data" / "format_tables.npz"

SCALE_BOUND = 0.11  # the smallest σ, the first Gaussian table
SCALE_MAX = 256.0
SCALE_LEVELS = 128
ACTIVATION_BITS = 10  # integer-network activations are multiples of 2^-10
MEAN_BITS = 8  # μ and ŷ are multiples of 2^-8
LOOKUP_REACH = 8  # GELU and tanh are tabulated on [-8, 8]; beyond, GELU(x) = max(x, 0), tanh = ±1


def scale_table() -> np.ndarray:
    return np.exp(np.linspace(math.log(SCALE_BOUND), math.log(SCALE_MAX), SCALE_LEVELS))


def build() -> dict[str, np.ndarray]:
    """Every table from its definition (float64 libm: the result is then frozen in the file)."""
    scales = scale_table()
    gaussians = gaussian_tables(scales)
    width = int(gaussians.sizes.max())
    pmf = np.zeros((SCALE_LEVELS, width))
    for k, p in enumerate(gaussians.pmfs):
        pmf[k, : len(p)] = p
    # σ maps to the table nearest in log scale: boundaries at geometric midpoints, expressed on
    # the activation grid, so that an integer σ·2^10 compares exactly (index = #thresholds < σ).
    boundaries = np.sqrt(scales[:-1] * scales[1:])
    grid = np.arange(-LOOKUP_REACH << ACTIVATION_BITS, (LOOKUP_REACH << ACTIVATION_BITS) + 1) / (1 << ACTIVATION_BITS)
    gelu = np.array([0.5 * x * math.erfc(-x / math.sqrt(2)) for x in grid])
    return {
        "gaussian_pmf": pmf,
        "gaussian_length": gaussians.sizes,
        "gaussian_offset": gaussians.offsets,
        "scale_threshold": np.floor(boundaries * (1 << ACTIVATION_BITS)).astype(np.int64),
        "gelu": np.round(gelu * (1 << ACTIVATION_BITS)).astype(np.int64),
        "half_tanh": np.round(0.5 * np.tanh(grid) * (1 << MEAN_BITS)).astype(np.int64),
    }


@lru_cache(maxsize=1)
def load() -> dict[str, np.ndarray]:
    with np.load(PATH) as stored:
        return {name: stored[name] for name in stored.files}


@lru_cache(maxsize=1)
def gaussian_table_set() -> TableSet:
    tables = load()
    pmfs = [row[:length] for row, length in zip(tables["gaussian_pmf"], tables["gaussian_length"])]
    return TableSet(pmfs, tables["gaussian_offset"])


def file_sha256() -> str:
    return hashlib.sha256(PATH.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {PATH.name} (a format change)")
    args = parser.parse_args()
    if args.write:
        PATH.parent.mkdir(exist_ok=True)
        np.savez_compressed(PATH, **build())
    print(f"{PATH}: sha256 {file_sha256()}")


if __name__ == "__main__":
    main()
