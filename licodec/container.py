"""The .lic container: header fields and bytes only (no torch). Specified in docs/format.md.

    "LIC" | version | colour layout | model id (4) | quality | width | height | words | rANS stream
          | sections (count, then type, length, bytes each) | z digest (2) | digest (2) | CRC-32 (4)

(version 2, still decoded, has no z digest.)

width, height and the stream's length in 32-bit words are unsigned LEB128 varints, so a
768×512 image with a stream under 64 KiB has a 16-byte header.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, replace
from typing import NamedTuple

from licodec.errors import LicodecError

MAGIC = b"LIC"
# 3: a digest of z alone, checked before any y is decoded; alpha as WebP lossless.
# 2: integer entropy-parameter networks (docs/format.md). 1 decoded only where it was encoded.
VERSION = 3
READABLE_VERSIONS = (2, 3)
QUALITY_STEPS = 32  # quality is stored in steps of 1/32 from 1.0
COLOUR_LAYOUTS = ("RGB", "L", "RGBA", "LA")
# Optional sections after the stream: the alpha plane (WebP lossless or PNG), an ICC profile, EXIF.
SECTION_TYPES = {1: "alpha", 2: "icc", 3: "exif"}
MAX_SIDE = 1 << 16
# The transforms run tile by tile, but the latent codec holds the whole latent (~60 MB per
# megapixel at its peak): 100 MP stays within ~6 GB. The decoder refuses larger declared sizes
# before allocating anything, whatever the stream holds.
MAX_PIXELS = 100_000_000
MAX_PIXELS_VARIABLE = "LICODEC_MAX_PIXELS"  # a lower cap for servers, as Pillow's MAX_IMAGE_PIXELS


class Digests(NamedTuple):
    """CRC-32s of the coded symbols (the file keeps their low 16 bits): of all of them, and of
    z's alone (version 3), which a decoder checks before it decodes any y."""

    symbols: int
    z: int | None = None


def _trailer(version: int) -> int:
    return 6 if version == 2 else 8  # [z digest (2)] + digest (2) + CRC-32 (4)


@dataclass(frozen=True)
class Extras:
    """What a file keeps beside the coded colour (each absent when None)."""

    alpha: bytes | None = None  # the alpha plane, lossless: WebP (version 3) or a greyscale PNG
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

    @property
    def centred(self) -> bool:
        """Whether the image sits centred in its canvas padded to ×64 (version 3), not at its
        top left (version 2): licodec.latent_stream.canvas_offset."""
        return self.version >= 3


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


def pack(header: Header, stream: bytes, digests: Digests) -> bytes:
    if len(stream) % 4:
        raise ValueError("rANS stream must be whole 32-bit words")
    if not (1 <= header.width <= MAX_SIDE and 1 <= header.height <= MAX_SIDE):
        raise LicodecError(f"image size {header.width}×{header.height} is outside 1..{MAX_SIDE}")
    quality_code = round((header.quality - 1) * QUALITY_STEPS)
    if not 0 <= quality_code <= 255:
        raise ValueError(f"quality {header.quality} out of range")
    if (header.extras.alpha is not None) != header.colour.endswith("A"):
        raise ValueError(f"colour layout {header.colour} and the alpha section disagree")
    if header.version not in READABLE_VERSIONS or (header.version > 2) != (digests.z is not None):
        raise ValueError(f"version {header.version} files need {'a' if header.version > 2 else 'no'} z digest")
    digest_fields = [digests.symbols] if header.version == 2 else [digests.z, digests.symbols]
    sections = header.extras.sections()
    body = b"".join([
        MAGIC, bytes([header.version, COLOUR_LAYOUTS.index(header.colour)]), header.model_id,
        bytes([quality_code]), _varint(header.width - 1), _varint(header.height - 1),
        _varint(len(stream) // 4), stream, _varint(len(sections)),
        *(bytes([kind]) + _varint(len(payload)) + payload for kind, payload in sections),
        *(struct.pack("<H", value & 0xFFFF) for value in digest_fields),
    ])
    return body + struct.pack("<I", zlib.crc32(body))


def read_header(data: bytes) -> tuple[Header, int, int]:
    """Header fields, the stream's offset and its length in bytes; no checksum test."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise LicodecError("not a .lic file (bad magic)")
    if len(data) < 10:
        raise LicodecError("truncated file: header ends early")
    version, flags = data[3], data[4]
    if version not in READABLE_VERSIONS:
        raise LicodecError(f"unsupported .lic format version {version} (this licodec reads versions "
                           f"{' and '.join(map(str, READABLE_VERSIONS))})")
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


def unpack(data: bytes) -> tuple[Header, bytes, Digests]:
    """Header, rANS stream and the 16-bit symbol digests, after checking length and CRC-32."""
    header, offset, length = read_header(data)
    trailer = _trailer(header.version)
    if len(data) < offset + length + 1 + trailer:
        raise LicodecError(f"truncated file: {len(data)} bytes, the header promises {offset + length + 1 + trailer}")
    extras, end = _read_sections(data, offset + length, trailer)
    if len(data) > end + trailer:
        raise LicodecError(f"corrupt file: {len(data) - end - trailer} unexpected bytes after the stream")
    (crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != crc:
        raise LicodecError("corrupt file: checksum mismatch")
    if (extras.alpha is not None) != header.colour.endswith("A"):
        raise LicodecError("corrupt file: colour layout and alpha section disagree")
    fields = struct.unpack(f"<{trailer // 2 - 2}H", data[-trailer:-4])
    digests = Digests(fields[-1], fields[0] if len(fields) == 2 else None)
    return replace(header, extras=extras), bytes(data[offset : offset + length]), digests


def pixel_limit(max_pixels: int | None = None) -> int:
    """The largest image to decode: `max_pixels`, else $LICODEC_MAX_PIXELS, else MAX_PIXELS
    (the format's own limit, which neither can raise)."""
    if max_pixels is None:
        setting = os.environ.get(MAX_PIXELS_VARIABLE, "").strip()
        if not setting:
            return MAX_PIXELS
        try:
            max_pixels = parse_pixels(setting)
        except ValueError as e:
            raise LicodecError(f"{MAX_PIXELS_VARIABLE}={setting}: {e}") from None
    if not 1 <= max_pixels <= MAX_PIXELS:
        raise LicodecError(f"max pixels {max_pixels} is outside 1..{MAX_PIXELS} (the format's limit)")
    return max_pixels


def parse_pixels(text: str) -> int:
    """A pixel count: 24000000, 24M or 0.5M (megapixels); ValueError with the reason."""
    scale = 10**6 if text.endswith(("M", "m")) else 1
    try:
        value = float(text[:-1] if scale > 1 else text)
    except ValueError:
        raise ValueError("not a pixel count (e.g. 24000000 or 24M)") from None
    if not (value * scale).is_integer() or not 1 <= value * scale <= MAX_PIXELS:
        raise ValueError(f"a whole number of pixels from 1 to {MAX_PIXELS // 10**6}M")
    return int(value * scale)


def check_pixels(header: Header, max_pixels: int | None = None) -> None:
    """Refuse, before anything is allocated, an image larger than the decoder's cap."""
    limit = pixel_limit(max_pixels)
    if header.width * header.height > limit:
        raise LicodecError(f"image too large to decode: {header.width}x{header.height} is over the limit of "
                           f"{limit} pixels (--max-pixels, ${MAX_PIXELS_VARIABLE})")


def _read_sections(data: bytes, pos: int, trailer: int) -> tuple[Extras, int]:
    """The optional sections after the stream, every length checked against the file's size
    before anything is sliced; returns them and where they end."""
    limit = len(data) - trailer
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
