"""The .lic container: header fields and bytes only (no torch). Specified in docs/format.md.

    "LIC" | version | colour layout | model id (4) | quality | width | height | words | rANS stream
          | sections (count, then type, length, bytes each) | z digest (2) | digest (2) | CRC-32 (4)

(version 2, still decoded, has no z digest.) A file of any version holds at least
MIN_BYTES_PER_BLOCK bytes per 64×64 block of its image (`shortest_file`), so that a decoder's
work is bounded by the bytes it is handed; `pack` pads a version 4 file that would hold fewer.

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
# 4: a padding section, so that every file holds MIN_BYTES_PER_BLOCK bytes per block.
# 3: a digest of z alone, checked before any y is decoded; alpha as WebP lossless.
# 2: integer entropy-parameter networks (docs/format.md). 1 decoded only where it was encoded.
VERSION = 4
READABLE_VERSIONS = (2, 3, 4)
# The last version that changed what any photo's file holds (4 only pads files under 6 bytes a
# block, which no photo measured comes near): rate results keyed by it stay valid across 3 → 4.
RATES_VERSION = 3
QUALITY_STEPS = 32  # quality is stored in steps of 1/32 from 1.0
COLOUR_LAYOUTS = ("RGB", "L", "RGBA", "LA")
# Optional sections after the stream: the alpha plane (WebP lossless or PNG), an ICC profile, EXIF,
# and (version 4) zero bytes that pad a file to its shortest length.
SECTION_TYPES = {1: "alpha", 2: "icc", 3: "exif", 4: "padding"}
PADDING = 4
# A decoder's work grows with the blocks of 64×64 pixels it decodes (~1.4 s per megapixel on 2
# cores): at 6 bytes a block, a 1 kB file asks for at most 170 blocks (0.7 MP). Real files hold
# 7.0 bytes a block or more, flat images the fewest (results/decoder/cost.md), so only an
# unusually flat image is ever padded, and files of versions 2 and 3 meet the rule unpadded.
MIN_BYTES_PER_BLOCK = 6
BLOCK = 64  # the canvas's unit, one z position (licodec.latent_stream.PAD_MULTIPLE)
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

    alpha: bytes | None = None  # the alpha plane, lossless: WebP (version 3 on) or a greyscale PNG
    icc: bytes | None = None  # ICC profile, as the input held it
    exif: bytes | None = None  # EXIF, orientation already applied to the pixels

    def sections(self) -> list[tuple[int, bytes]]:
        return [(kind, getattr(self, name)) for kind, name in SECTION_TYPES.items()
                if kind != PADDING and getattr(self, name) is not None]


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
        """Whether the image sits centred in its canvas padded to ×64 (version 3 on), not at its
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


def blocks(width: int, height: int) -> int:
    """How many 64×64 blocks cover an image of this size (its canvas, licodec.latent_stream)."""
    return -(-width // BLOCK) * -(-height // BLOCK)


def shortest_file(width: int, height: int) -> int:
    """The fewest bytes a file of this size may have: its decoder's work is bounded by them."""
    return MIN_BYTES_PER_BLOCK * blocks(width, height)


def _padding(length: int, shortest: int) -> list[tuple[int, bytes]]:
    """The padding section that brings a file of `length` bytes (without it) to `shortest`."""
    short = shortest - length
    if short <= 0:
        return []
    size = max(0, short - 1 - len(_varint(short)))
    while 1 + len(_varint(size)) + size < short:
        size += 1
    return [(PADDING, bytes(size))]


def pack(header: Header, stream: bytes, digests: Digests, pad: bool = True) -> bytes:
    """The file's bytes; version 4 files padded to `shortest_file` unless `pad` is False (only
    to craft a file that a decoder must refuse)."""
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
    head = b"".join([
        MAGIC, bytes([header.version, COLOUR_LAYOUTS.index(header.colour)]), header.model_id,
        bytes([quality_code]), _varint(header.width - 1), _varint(header.height - 1),
        _varint(len(stream) // 4), stream])
    tail = b"".join(struct.pack("<H", value & 0xFFFF) for value in digest_fields)
    sections = header.extras.sections()
    if pad and header.version >= 4:
        unpadded = len(head) + len(_sections(sections)) + len(tail) + 4
        sections += _padding(unpadded, shortest_file(header.width, header.height))  # count stays 1 byte
    body = head + _sections(sections) + tail
    return body + struct.pack("<I", zlib.crc32(body))


def _sections(sections: list[tuple[int, bytes]]) -> bytes:
    return _varint(len(sections)) + b"".join(bytes([kind]) + _varint(len(payload)) + payload
                                             for kind, payload in sections)


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
    if len(data) < shortest_file(header.width, header.height):
        raise LicodecError(f"corrupt file: {len(data)} bytes, fewer than any {header.width}x{header.height} "
                           f"file holds ({shortest_file(header.width, header.height)})")
    trailer = _trailer(header.version)
    if len(data) < offset + length + 1 + trailer:
        raise LicodecError(f"truncated file: {len(data)} bytes, the header promises {offset + length + 1 + trailer}")
    extras, end = _read_sections(data, offset + length, trailer, header.version)
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


def _read_sections(data: bytes, pos: int, trailer: int, version: int) -> tuple[Extras, int]:
    """The optional sections after the stream, every length checked against the file's size
    before anything is sliced; returns them (padding dropped) and where they end."""
    limit = len(data) - trailer
    bounded = memoryview(data)[:limit]
    count, pos = _read_varint(bounded, pos)
    found: dict[str, bytes] = {}
    for _ in range(count):
        if pos >= limit:
            raise LicodecError("truncated file: sections end early")
        kind, (size, pos) = data[pos], _read_varint(bounded, pos + 1)
        name = SECTION_TYPES.get(kind) if kind != PADDING or version >= 4 else None
        if name is None or name in found:
            raise LicodecError(f"corrupt file: {'unknown' if name is None else 'repeated'} section type {kind}")
        if pos + size > limit:
            raise LicodecError("truncated file: a section ends past the end of the file")
        found[name], pos = bytes(data[pos : pos + size]), pos + size
    found.pop("padding", None)
    return Extras(**found), pos
