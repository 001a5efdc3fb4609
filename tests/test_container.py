"""The .lic container: compact header, and every kind of damage is a clean LicodecError."""
from dataclasses import replace

import pytest

from licodec import container
from licodec.errors import LicodecError
from licodec.checks.fuzz import with_fixed_crc

HEADER = container.Header(model_id=b"\x01\x02\x03\x04", quality=3.5, width=768, height=512)
STREAM = bytes(range(256)) * 40  # 10240 bytes, whole words


def test_round_trip():
    header, stream, digest = container.unpack(container.pack(HEADER, STREAM, container.Digests(0xBEEF, 0xBEEF)))
    assert (header, stream, digest) == (HEADER, STREAM, (0xBEEF, 0xBEEF))


def test_header_is_at_most_16_bytes_for_a_typical_image():
    data = container.pack(HEADER, STREAM, container.Digests(0, 0))
    _, offset, length = container.read_header(data)
    assert offset <= 16
    assert len(data) == offset + length + 1 + 8  # no sections: one byte saying so; two digests, CRC


EXTRAS = container.Extras(alpha=b"\x89PNG alpha", icc=b"icc" * 100, exif=b"Exif\0\0")


def test_sections_round_trip():
    header = container.Header(b"abcd", 2.0, 30, 20, "RGBA", extras=EXTRAS)
    assert container.unpack(container.pack(header, STREAM[:40], container.Digests(5, 5))) == (header, STREAM[:40], container.Digests(5, 5))
    metadata_only = container.Header(b"abcd", 2.0, 30, 20, "L", extras=container.Extras(exif=b"x"))
    assert container.unpack(container.pack(metadata_only, b"", container.Digests(5, 5)))[0] == metadata_only


def test_alpha_and_colour_layout_must_agree():
    with pytest.raises(ValueError):
        container.pack(container.Header(b"abcd", 2.0, 30, 20, "RGB", extras=EXTRAS), b"", container.Digests(0, 0))
    data = bytearray(container.pack(container.Header(b"abcd", 2.0, 30, 20, "RGBA", extras=EXTRAS), b"", container.Digests(0, 0)))
    data[4] = 0  # says RGB, holds alpha
    with pytest.raises(LicodecError, match="disagree"):
        container.unpack(with_fixed_crc(bytes(data)))


@pytest.mark.parametrize("sections, message", [
    (b"\x01\x09\x05abcde", "unknown section type 9"),
    (b"\x02\x02\x01a\x02\x01b", "repeated section"),
    (b"\x01\x02\x7fabc", "past the end"),
    (b"\x05\x02\x01a", "sections end early"),
])
def test_damaged_sections_are_clean_errors_even_with_a_valid_crc(sections, message):
    head = container.pack(container.Header(b"abcd", 2.0, 30, 20), b"", container.Digests(0, 0))[:-9]  # up to the stream's end
    with pytest.raises(LicodecError, match=message):
        container.unpack(with_fixed_crc(head + sections + b"\0" * 8))


def test_greyscale_and_fractional_quality():
    header = container.Header(b"abcd", container.quantize_quality(5.01), 1, 70000 - 4465, "L")
    assert container.unpack(container.pack(header, b"", container.Digests(1, 1)))[0] == header
    assert container.quantize_quality(5.01) == 5.0


@pytest.mark.parametrize("data, message", [
    (b"", "bad magic"),
    (b"PNG\x01\x00abcd\x00\x00\x00\x00", "bad magic"),
    (b"LIC\x07\x00abcd\x00\x00\x00\x00", "version 7"),
    (b"LIC\x01\x00ab", "truncated"),
])
def test_foreign_or_short_files(data, message):
    with pytest.raises(LicodecError, match=message):
        container.unpack(data)


def test_every_truncation_is_an_error():
    data = container.pack(HEADER, STREAM[:400], container.Digests(7, 7))
    for cut in range(len(data)):
        with pytest.raises(LicodecError):
            container.unpack(data[:cut])


def test_every_flipped_byte_is_an_error():
    data = bytearray(container.pack(HEADER, STREAM[:400], container.Digests(7, 7)))
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x10
        with pytest.raises(LicodecError):
            container.unpack(bytes(damaged))


def test_trailing_bytes_are_an_error():
    with pytest.raises(LicodecError, match="unexpected bytes"):
        container.unpack(container.pack(HEADER, STREAM, container.Digests(0, 0)) + b"\x00")


def test_version_2_files_still_unpack_without_a_z_digest():
    old = container.Header(b"abcd", 2.0, 30, 20, version=2)
    data = container.pack(old, STREAM[:40], container.Digests(0xBEEF))
    assert len(data) == len(container.pack(replace(old, version=3), STREAM[:40], container.Digests(1, 2))) - 2
    assert container.unpack(data) == (old, STREAM[:40], (0xBEEF, None))
    with pytest.raises(ValueError, match="z digest"):
        container.pack(old, b"", container.Digests(1, 2))
    with pytest.raises(ValueError, match="z digest"):
        container.pack(HEADER, b"", container.Digests(1))


@pytest.mark.parametrize("text, pixels", [("24000000", 24_000_000), ("24M", 24_000_000), ("0.5m", 500_000),
                                          ("100M", container.MAX_PIXELS), ("1", 1)])
def test_pixel_counts_parse(text, pixels):
    assert container.parse_pixels(text) == pixels


@pytest.mark.parametrize("text", ["", "M", "x", "-5", "0", "101M", "1.5", "0.0000001M", "nan", "inf"])
def test_bad_pixel_counts_say_why(text):
    with pytest.raises(ValueError):
        container.parse_pixels(text)


def test_the_pixel_cap_comes_from_the_caller_then_the_environment(monkeypatch):
    header = container.Header(b"abcd", 2.0, 3000, 2000)
    monkeypatch.delenv(container.MAX_PIXELS_VARIABLE, raising=False)
    container.check_pixels(header)
    with pytest.raises(LicodecError, match="3000x2000 is over the limit of 5999999 pixels"):
        container.check_pixels(header, 5_999_999)
    monkeypatch.setenv(container.MAX_PIXELS_VARIABLE, "5M")
    with pytest.raises(LicodecError, match="over the limit of 5000000"):
        container.check_pixels(header)
    container.check_pixels(header, 6_000_000)  # the caller's value wins
    monkeypatch.setenv(container.MAX_PIXELS_VARIABLE, "lots")
    with pytest.raises(LicodecError, match="LICODEC_MAX_PIXELS=lots: not a pixel count"):
        container.check_pixels(header)
    with pytest.raises(LicodecError, match="outside 1..100000000"):
        container.check_pixels(header, 200_000_000)


@pytest.mark.parametrize("width, height", [(1, 1), (768, 512), (4000, 3000), (65535, 1525)])
def test_files_are_padded_to_their_shortest_length_and_unpack_alike(width, height):
    header = replace(HEADER, width=width, height=height)
    for stream in (b"", STREAM[:40], STREAM):
        data = container.pack(header, stream, container.Digests(7, 8))
        shortest = container.shortest_file(width, height)
        assert shortest <= len(data) <= max(shortest + 1, len(container.pack(header, stream, container.Digests(7, 8),
                                                                             pad=False)))
        assert container.unpack(data) == (header, stream, container.Digests(7, 8))


def test_the_shortest_file_grows_with_the_blocks_it_covers():
    assert container.shortest_file(64, 64) == container.shortest_file(1, 1) == container.MIN_BYTES_PER_BLOCK
    assert container.shortest_file(65, 64) == 2 * container.MIN_BYTES_PER_BLOCK
    assert container.shortest_file(4000, 3000) == container.MIN_BYTES_PER_BLOCK * 63 * 47


@pytest.mark.parametrize("version", [2, 3, 4])
def test_a_file_shorter_than_its_size_allows_is_refused_in_every_version(version):
    header = replace(HEADER, width=4000, height=3000, version=version)
    data = container.pack(header, STREAM[:400], container.Digests(1, None if version == 2 else 2), pad=False)
    assert len(data) < container.shortest_file(4000, 3000)
    with pytest.raises(LicodecError, match="fewer than any 4000x3000 file"):
        container.unpack(data)


def test_no_file_of_1_kb_declares_more_than_170_blocks():
    """What bounds a decoder's work (docs/format.md): 1 kB asks for at most 0.7 megapixels."""
    assert max(n for n in range(1, 10**5) if n * container.MIN_BYTES_PER_BLOCK <= 1024) == 170
    for width, height in [(832, 896), (1024, 1024), (10000, 10000), (65535, 1525)]:
        data = container.pack(replace(HEADER, width=width, height=height), STREAM[:900], container.Digests(1, 2),
                              pad=False)
        assert len(data) <= 1024
        with pytest.raises(LicodecError, match="fewer than any"):
            container.unpack(data)


def test_padding_sections_are_version_4s():
    padded = container.pack(replace(HEADER, width=4000, height=3000), b"", container.Digests(1, 2))
    assert container.read_header(padded)[0].version == 4
    as_version_3 = with_fixed_crc(padded[:3] + b"\x03" + padded[4:])
    with pytest.raises(LicodecError, match="unknown section type 4"):
        container.unpack(as_version_3)
