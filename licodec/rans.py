"""rANS coding of integer symbols through constriction, with table-based models and escapes.

    symbols + table index per symbol ─► grouped by table ─► constriction AnsCoder ─► bytes

Every distribution is a fixed table (one per Gaussian scale level, one per channel of z), so
one constriction model object codes all symbols of a group in a single vectorised call; this is
~10× faster than per-symbol Gaussian parameters (shared/reference/measurements.md). Each
table ends in an escape bin: a symbol outside the table's range is coded as "escape" and then
its value verbatim (zigzag, 2×16 bits), so every integer round-trips. constriction itself has
no escape mechanism and refuses symbols of zero probability.

ANS is a stack: `StreamWriter` records symbols in decoding order and encodes them reversed in
`finish()`, so that `StreamReader` decodes them in the same order, interleaved with the model.
Torch-free: this module sees only numpy arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import constriction
import numpy as np

from licodec.errors import LicodecError

_model = constriction.stream.model
_RAW_CHUNK = _model.Uniform(1 << 16)
TAIL_MASS = 1e-9
# constriction's default rANS coder: 24-bit probabilities, a 64-bit state, 32-bit words.
PRECISION_BITS = 24
# What coding one symbol can cost less than −log2 p: the state x ≥ 2^32 grows to at least
# ⌊x/f⌋·2^24 with f ≤ 2^24, so by at least (2^24/f)·256/257 (and it never shrinks).
RANS_SLACK_BITS = math.log2(257 / 256)
RANS_STATE_BITS = 64  # what the final state holds beyond the symbols' own bits


@dataclass
class TableSet:
    """Discrete distributions indexed by integer; table k covers symbols offset[k] .. offset[k]+size[k]-1."""

    pmfs: list[np.ndarray]
    offsets: np.ndarray
    sizes: np.ndarray = field(init=False)
    models: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        self.sizes = np.array([len(p) for p in self.pmfs], dtype=np.int64)
        self.models = [_model.Categorical(_with_escape_bin(p), perfect=False) for p in self.pmfs]

    def bits(self, symbols: np.ndarray, table_index: np.ndarray) -> np.ndarray:
        """The information of each symbol under its table, −log2 p, in bits (an escaped symbol:
        the escape bin plus its 32 raw bits). What the coder spends, up to rANS's overhead."""
        symbols, table_index = np.asarray(symbols, dtype=np.int64), np.asarray(table_index, dtype=np.int64)
        out = np.empty(symbols.shape, dtype=np.float64)
        for k in np.unique(table_index):
            chosen = table_index == k
            pmf = _with_escape_bin(self.pmfs[k])
            values = symbols[chosen] - self.offsets[k]
            inside = (values >= 0) & (values < self.sizes[k])
            probability = pmf[np.where(inside, values, self.sizes[k])]
            # constriction quantises probabilities to 24 bits and gives every bin at least one step.
            out[chosen] = -np.log2(np.maximum(probability, 2.0**-PRECISION_BITS)) + np.where(inside, 0, 32)
        return out

    def least_bits(self) -> np.ndarray:
        """Per table, the fewest bits the rANS coder can spend on one of its symbols: −log2 of
        its most probable bin (widened by constriction's quantisation, at most one 2^-24 step
        per bin), less RANS_SLACK_BITS, never below 0. A lower bound on any real stream's length
        (`shortest_stream_bits`)."""
        out = np.empty(len(self.pmfs))
        for k, pmf in enumerate(self.pmfs):
            pmf = _with_escape_bin(pmf)
            widest = min(1.0, pmf.max() / pmf.sum() + len(pmf) * 2.0**-PRECISION_BITS)
            out[k] = max(0.0, -math.log2(widest) - RANS_SLACK_BITS)
        return out


def shortest_stream_bits(symbol_bits: float) -> float:
    """The fewest bits of a stream whose symbols cost at least `symbol_bits` (TableSet.least_bits
    summed over them): rANS may store up to a state's worth of them in its final state."""
    return max(0.0, symbol_bits - RANS_STATE_BITS)


def _with_escape_bin(pmf: np.ndarray) -> np.ndarray:
    pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
    return np.append(pmf, max(1.0 - pmf.sum(), TAIL_MASS))


# Tables reach 16 bins past the 1e-9 tails: an outlier a few σ further out (common in young
# models) then costs ~24 bits at the table's floor probability instead of escape + 32 raw bits.
TABLE_MARGIN = 16


def gaussian_tables(scale_table: np.ndarray) -> TableSet:
    """One zero-mean discretised Gaussian per scale, over ±(ceil(σ·z) + 16); z leaves TAIL_MASS out."""
    tail_z = -_normal_ppf(TAIL_MASS / 2)
    pmfs, offsets = [], []
    for scale in np.asarray(scale_table, dtype=np.float64):
        half = int(math.ceil(scale * tail_z)) + TABLE_MARGIN
        edges = (np.arange(-half, half + 2, dtype=np.float64) - 0.5) / (scale * math.sqrt(2))
        cdf = np.array([0.5 * math.erfc(-e) for e in edges])
        pmfs.append(np.diff(cdf))
        offsets.append(-half)
    return TableSet(pmfs, np.array(offsets))


def _normal_ppf(p: float) -> float:
    """Φ⁻¹(p) by bisection on erfc: needs no scipy, runs once per table set."""
    lo, hi = -40.0, 0.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _zigzag(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.int64)
    return ((values << 1) ^ (values >> 63)).astype(np.uint64)


def _unzigzag(codes: np.ndarray) -> np.ndarray:
    codes = codes.astype(np.int64)
    return (codes >> 1) ^ -(codes & 1)


def _grouped(table_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stable sort by table: (order, sorted table index, group tables, group boundaries)."""
    # A stable sort of 16-bit keys is numpy's radix sort: ~10× faster than on int64 here, and
    # every table set has far fewer than 2^15 tables.
    small = len(table_index) and -(2**15) <= table_index.min() and table_index.max() < 2**15
    order = np.argsort(table_index.astype(np.int16) if small else table_index, kind="stable")
    sorted_index = table_index[order]
    starts = np.flatnonzero(np.diff(sorted_index, prepend=sorted_index[:1] - 1))  # already sorted: no np.unique
    tables = sorted_index[starts]
    bounds = np.append(starts, len(sorted_index))
    return order, sorted_index, tables, bounds


class StreamWriter:
    """Collects symbols in decoding order; `finish()` encodes them into one rANS stream."""

    def __init__(self) -> None:
        self._pending: list[tuple[object, np.ndarray]] = []

    def write(self, symbols: np.ndarray, table_index: np.ndarray, tables: TableSet) -> None:
        symbols = np.asarray(symbols, dtype=np.int64).ravel()
        order, sorted_index, groups, bounds = _grouped(np.asarray(table_index, dtype=np.int64).ravel())
        values = symbols[order] - tables.offsets[sorted_index]
        escaped = (values < 0) | (values >= tables.sizes[sorted_index])
        coded = np.where(escaped, tables.sizes[sorted_index], values).astype(np.int32)
        for k, start, end in zip(groups, bounds[:-1], bounds[1:]):
            self._pending.append((tables.models[k], coded[start:end]))
        if escaped.any():
            raw = _zigzag(symbols[order][escaped])
            if raw.max() >= 1 << 32:
                raise LicodecError("latent value out of codable range (|value| ≥ 2^31)")
            self._pending.append((_RAW_CHUNK, (raw >> 16).astype(np.int32)))
            self._pending.append((_RAW_CHUNK, (raw & 0xFFFF).astype(np.int32)))

    def finish(self) -> bytes:
        coder = constriction.stream.stack.AnsCoder()
        for model, symbols in reversed(self._pending):
            coder.encode_reverse(symbols, model)
        return coder.get_compressed().astype("<u4").tobytes()


class StreamReader:
    """Decodes what a StreamWriter wrote, given the same table indexes in the same order."""

    def __init__(self, data: bytes, bits: list[np.ndarray] | None = None) -> None:
        """`bits`: if given, each read appends the information of its symbols (TableSet.bits)."""
        if len(data) % 4:
            raise LicodecError("corrupt file: rANS stream length is not a multiple of 4 bytes")
        try:
            self._coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
        except ValueError as e:  # constriction refuses a stream that could not have been written
            raise LicodecError(f"corrupt file: invalid rANS stream ({e})") from None
        self._bits = bits

    def read(self, table_index: np.ndarray, tables: TableSet) -> np.ndarray:
        try:
            return self._read(table_index, tables)
        except (ValueError, RuntimeError) as e:  # constriction on a damaged stream
            raise LicodecError(f"corrupt file: invalid rANS stream ({e})") from None

    def _read(self, table_index: np.ndarray, tables: TableSet) -> np.ndarray:
        flat_index = np.asarray(table_index, dtype=np.int64).ravel()
        order, sorted_index, groups, bounds = _grouped(flat_index)
        coded = np.empty(len(flat_index), dtype=np.int64)
        for k, start, end in zip(groups, bounds[:-1], bounds[1:]):
            coded[start:end] = self._coder.decode(tables.models[k], int(end - start))
        escaped = coded == tables.sizes[sorted_index]
        symbols = coded + tables.offsets[sorted_index]
        count = int(escaped.sum())
        if count:
            high = self._coder.decode(_RAW_CHUNK, count).astype(np.uint64)
            low = self._coder.decode(_RAW_CHUNK, count).astype(np.uint64)
            symbols[escaped] = _unzigzag((high << 16) | low)
        out = np.empty_like(symbols)
        out[order] = symbols
        out = out.reshape(np.shape(table_index))
        if self._bits is not None:
            self._bits.append(tables.bits(out, table_index))
        return out

    def exhausted(self) -> bool:
        """Whether every word has been read and the state is back where an encoder starts. From
        there the coder decodes every further symbol as its table's first bin (a value ~6σ
        below the mean) without reading anything: a stream of real symbols never ends early."""
        return self._coder.is_empty()

    def finish(self) -> None:
        """A stream that decodes to its end leaves the coder empty; anything else is corrupt."""
        if not self._coder.is_empty():
            raise LicodecError("corrupt file: rANS stream has data left after decoding")
