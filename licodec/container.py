"""The .lic container: header fields and bytes only (no torch). Specified in docs/format.md.

    "LIC" | version | colour layout | model id (4) | quality | width | height | words | rANS stream
          | sections (count, then type, length, bytes each) | digest (2) | CRC-32 (4)

width, height and the stream's length in 32-bit words are unsigned LEB128 varints, so a
768×512 image with a stream under 64 KiB has a 16-byte header.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace

from licodec.errors import LicodecError

MAGIC = b"LIC"
VERSION = 2  # 2: integer entropy-parameter networks (docs/format.md); 1 decoded only where it was encoded
QUALITY_STEPS = 32  # quality is stored in steps of 1/32 from 1.0
COLOUR_LAYOUTS = ("RGB", "L", "RGBA", "LA")
# Optional sections after the stream: the alpha plane (a PNG), an ICC profile, EXIF.
SECTION_TYPES = {1: "alpha", 2: "icc", 3: "exif"}
MAX_SIDE = 1 << 16
# The transforms run tile by tile, but the latent codec holds the whole latent (~60 MB per
# megapixel at its peak): 100 MP stays within ~6 GB. The decoder refuses larger declared sizes
# before allocating anything, whatever the stream holds.
MAX_PIXELS = 100_000_000
_TRAILER = 6  # digest (2) + CRC-32 (4)


@dataclass(frozen=True)
class Extras:
    """What a file keeps beside the coded colour (each absent when None)."""

    alpha: bytes | None = None  # the alpha plane as a greyscale PNG: lossless
    icc: bytes | None = None  # ICC profile, as the input held it
    exif: bytes | None = None  # EXIF, orientation already applied to the pixels

    def sections(self) -> list[tuple[int, bytes]]:
        return [(kind, getattr(self, name)) for kind, name in SECTION_TYPES.items() if getattr(self, name) is not None]


@dataclass(frozen=True)
class Header:
    model_id: bytes
    quality: float
    width: int
    height: int
    colour: str = "RGB"
    version: int = VERSION
    extras: Extras = Extras()


def quantize_quality(quality: float) -> float:
    """The quality actually coded: the nearest multiple of 1/32 (stored in one byte)."""
    return 1 + round((quality - 1) * QUALITY_STEPS) / QUALITY_STEPS


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise LicodecError("truncated file: header ends early")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos
        if shift > 35:
            raise LicodecError("corrupt file: malformed header field")


def pack(header: Header, stream: bytes, digest: int) -> bytes:
    if len(stream) % 4:
        raise ValueError("rANS stream must be whole 32-bit words")
    if not (1 <= header.width <= MAX_SIDE and 1 <= header.height <= MAX_SIDE):
        raise LicodecError(f"image size {header.width}×{header.height} is outside 1..{MAX_SIDE}")
    quality_code = round((header.quality - 1) * QUALITY_STEPS)
    if not 0 <= quality_code <= 255:
        raise ValueError(f"quality {header.quality} out of range")
    if (header.extras.alpha is not None) != header.colour.endswith("A"):
        raise ValueError(f"colour layout {header.colour} and the alpha section disagree")
    sections = header.extras.sections()
    body = b"".join([
        MAGIC, bytes([header.version, COLOUR_LAYOUTS.index(header.colour)]), header.model_id,
        bytes([quality_code]), _varint(header.width - 1), _varint(header.height - 1),
        _varint(len(stream) // 4), stream, _varint(len(sections)),
        *(bytes([kind]) + _varint(len(payload)) + payload for kind, payload in sections),
        struct.pack("<H", digest & 0xFFFF),
    ])
    return body + struct.pack("<I", zlib.crc32(body))


def read_header(data: bytes) -> tuple[Header, int, int]:
    """Header fields, the stream's offset and its length in bytes; no checksum test."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise LicodecError("not a .lic file (bad magic)")
    if len(data) < 10:
        raise LicodecError("truncated file: header ends early")
    version, flags = data[3], data[4]
    if version != VERSION:
        raise LicodecError(f"unsupported .lic format version {version} (this licodec reads version {VERSION})")
    if flags >= len(COLOUR_LAYOUTS):
        raise LicodecError("corrupt file: unknown colour layout")
    model_id, quality = bytes(data[5:9]), 1 + data[9] / QUALITY_STEPS
    width, pos = _read_varint(data, 10)
    height, pos = _read_varint(data, pos)
    words, pos = _read_varint(data, pos)
    if width >= MAX_SIDE or height >= MAX_SIDE:
        raise LicodecError("corrupt file: image size out of range")
    if (width + 1) * (height + 1) > MAX_PIXELS:
        raise LicodecError(f"image too large to decode: {width + 1}x{height + 1} "
                           f"(at most {MAX_PIXELS // 10**6} megapixels)")
    header = Header(model_id, quality, width + 1, height + 1, COLOUR_LAYOUTS[flags], version)
    return header, pos, 4 * words


def unpack(data: bytes) -> tuple[Header, bytes, int]:
    """Header, rANS stream and the 16-bit symbol digest, after checking length and CRC-32."""
    header, offset, length = read_header(data)
    if len(data) < offset + length + 1 + _TRAILER:
        raise LicodecError(f"truncated file: {len(data)} bytes, the header promises {offset + length + 1 + _TRAILER}")
    extras, end = _read_sections(data, offset + length)
    if len(data) > end + _TRAILER:
        raise LicodecError(f"corrupt file: {len(data) - end - _TRAILER} unexpected bytes after the stream")
    (crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != crc:
        raise LicodecError("corrupt file: checksum mismatch")
    if (extras.alpha is not None) != header.colour.endswith("A"):
        raise LicodecError("corrupt file: colour layout and alpha section disagree")
    (digest,) = struct.unpack("<H", data[-6:-4])
    return replace(header, extras=extras), bytes(data[offset : offset + length]), digest


def _read_sections(data: bytes, pos: int) -> tuple[Extras, int]:
    """The optional sections after the stream, every length checked against the file's size
    before anything is sliced; returns them and where they end."""
    limit = len(data) - _TRAILER
    bounded = memoryview(data)[:limit]
    count, pos = _read_varint(bounded, pos)
    found: dict[str, bytes] = {}
    for _ in range(count):
        if pos >= limit:
            raise LicodecError("truncated file: sections end early")
        kind, (size, pos) = data[pos], _read_varint(bounded, pos + 1)
        name = SECTION_TYPES.get(kind)
        if name is None or name in found:
            raise LicodecError(f"corrupt file: {'unknown' if name is None else 'repeated'} section type {kind}")
        if pos + size > limit:
            raise LicodecError("truncated file: a section ends past the end of the file")
        found[name], pos = bytes(data[pos : pos + size]), pos + size
    return Extras(**found), pos
