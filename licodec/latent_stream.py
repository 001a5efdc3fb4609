"""The z part of a .lic stream (torch-free): what a decoder checks before any network runs.

    stream ─► long enough for its size? (shortest_stream) ─► z symbols (the factorized prior's
           tables) ─► z digest matches, stream not run out ─► the y slices (ChARMLatentCodec)

The latent codec decodes z through `open_stream` before its networks; the CLI runs the same
checks before torch is even imported (`precheck`), so a crafted or damaged file costs neither.
"""
from __future__ import annotations

import zlib

import numpy as np

from licodec.container import BLOCK
from licodec.errors import LicodecError
from licodec.rans import StreamReader, TableSet, shortest_stream_bits

PAD_MULTIPLE = BLOCK  # images are padded to it: 4 stride-2 steps in g_a and 2 more in h_a
MISMATCH = "decoding mismatch: the decoded latents differ from the encoder's (see docs/format.md)"


def latent_shape(height: int, width: int) -> tuple[int, int]:
    """Spatial size of z for an image of this size (after padding)."""
    return -(-height // PAD_MULTIPLE), -(-width // PAD_MULTIPLE)


def canvas_size(height: int, width: int) -> tuple[int, int]:
    """(rows, columns) of the canvas an image is coded in: its size rounded up to ×64."""
    rows, cols = latent_shape(height, width)
    return PAD_MULTIPLE * rows, PAD_MULTIPLE * cols


def canvas_offset(height: int, width: int, centred: bool = True) -> tuple[int, int]:
    """(rows, columns) before the image in its canvas, padded to ×64 by replicating its edges:
    centred (format 3), so that the canvas's borders, where g_s's zero padding makes its worst
    pixels, fall on padding (a 1×1 image comes back at ~40 dB instead of ~20); at the top left
    in format 2 files."""
    if not centred:
        return 0, 0
    rows, cols = canvas_size(height, width)
    return (rows - height) // 2, (cols - width) // 2


def z_table_index(channels: int, z_shape: tuple[int, int]) -> np.ndarray:
    """Which table codes each z symbol: its channel's."""
    return np.broadcast_to(np.arange(channels).reshape(1, -1, 1, 1), (1, channels, *z_shape))


def z_tables_from(tensors: dict[str, np.ndarray]) -> TableSet:
    """The z tables from a weights file's stored `coder.z_pmf`, `coder.z_length`, `coder.z_offset`."""
    pmfs = [row[:length] for row, length in zip(tensors["coder.z_pmf"], tensors["coder.z_length"])]
    return TableSet(pmfs, tensors["coder.z_offset"])


def symbol_crc(symbols: np.ndarray, digest: int = 0) -> int:
    """The CRC-32 of coded symbols (as int32, in C order), continuing `digest`."""
    return zlib.crc32(np.ascontiguousarray(symbols, dtype=np.int32).tobytes(), digest)


def shortest_stream(tables: TableSet, z_shape: tuple[int, int]) -> int:
    """The fewest bytes any stream of this z size can have: z at the factorized prior's modes
    (a fixed cost per channel, TableSet.least_bits), y free. A floor no encoder's output falls
    under, so that a short file declaring a large image is refused before any work."""
    return int(shortest_stream_bits(float(tables.least_bits().sum()) * z_shape[0] * z_shape[1]) // 8)


def check_progress(reader: StreamReader, expected: int | None = None, digest: int = 0,
                   finished: bool = False) -> None:
    """Stop a decode that cannot end well: the stream ran out before its last slice, or the
    symbols so far do not match their digest (the file keeps 16 bits of their CRC-32)."""
    if not finished and reader.exhausted():
        raise LicodecError("corrupt file: the rANS stream ends before the image does")
    if expected is not None and (digest ^ expected) & 0xFFFF:
        raise LicodecError(MISMATCH)


def open_stream(data: bytes, z_shape: tuple[int, int], tables: TableSet, expected_z: int | None = None,
                bits: list[np.ndarray] | None = None) -> tuple[StreamReader, np.ndarray, int]:
    """The reader positioned after z, z's symbols ([1, C, h, w] integers) and their CRC-32,
    after the floor, the z digest (when the file has one) and the stream's not running out."""
    floor = shortest_stream(tables, z_shape)
    if len(data) < floor:
        raise LicodecError(f"corrupt file: its stream ({len(data)} bytes) is shorter than any image of its "
                           f"size can have ({floor} bytes)")
    reader = StreamReader(data, bits)
    z_symbols = reader.read(z_table_index(len(tables.pmfs), z_shape), tables)
    z_digest = symbol_crc(z_symbols)
    check_progress(reader, expected_z, z_digest)
    return reader, z_symbols, z_digest


def precheck(stream: bytes, height: int, width: int, tables: TableSet | None, expected_z: int | None) -> None:
    """The checks `open_stream` makes, for a caller that has not loaded the model (None tables:
    weights that store none; the model's own decode checks then)."""
    if tables is not None:
        open_stream(stream, latent_shape(height, width), tables, expected_z)
