"""The .lic container: compact header, and every kind of damage is a clean LicodecError."""
import pytest

from licodec import container
from licodec.errors import LicodecError

HEADER = container.Header(model_id=b"\x01\x02\x03\x04", quality=3.5, width=768, height=512)
STREAM = bytes(range(256)) * 40  # 10240 bytes, whole words


def test_round_trip():
    header, stream, digest = container.unpack(container.pack(HEADER, STREAM, 0xBEEF))
    assert (header, stream, digest) == (HEADER, STREAM, 0xBEEF)


def test_header_is_at_most_16_bytes_for_a_typical_image():
    data = container.pack(HEADER, STREAM, 0)
    _, offset, length = container.read_header(data)
    assert offset <= 16
    assert len(data) == offset + length + 6


def test_greyscale_and_fractional_quality():
    header = container.Header(b"abcd", container.quantize_quality(5.01), 1, 70000 - 4465, "L")
    assert container.unpack(container.pack(header, b"", 1))[0] == header
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
    data = container.pack(HEADER, STREAM[:400], 7)
    for cut in range(len(data)):
        with pytest.raises(LicodecError):
            container.unpack(data[:cut])


def test_every_flipped_byte_is_an_error():
    data = bytearray(container.pack(HEADER, STREAM[:400], 7))
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x10
        with pytest.raises(LicodecError):
            container.unpack(bytes(damaged))


def test_trailing_bytes_are_an_error():
    with pytest.raises(LicodecError, match="unexpected bytes"):
        container.unpack(container.pack(HEADER, STREAM, 0) + b"\x00")
