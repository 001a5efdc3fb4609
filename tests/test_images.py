"""Images as people have them: EXIF orientation, 16-bit samples, metadata, tiny and odd sizes."""
from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import licodec
from licodec.cli import main
from licodec.errors import LicodecWarning


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def png_16_bit_rgb(path, value: int, size=(8, 8)) -> None:
    """A 48-bit PNG written by hand: Pillow cannot write one."""
    w, h = size
    rows = b"".join(b"\x00" + np.full((w, 3), value, ">u2").tobytes() for _ in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_exif_orientation_is_applied(tiny_weights, photo, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    portrait = tmp_path / "phone.jpg"
    Image.open(photo).save(portrait, exif=exif.tobytes(), quality=95)
    result = run("encode", portrait, "-o", tmp_path / "p.lic")
    assert result.exit_code == 0 and "warning" in result.output and "EXIF" in result.output
    width, height = Image.open(photo).size
    assert licodec.decode(tmp_path / "p.lic").size == (height, width)


def test_16_bit_greyscale_is_scaled_to_8_bits_with_a_warning(tiny_weights, tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((16, 24), 257 * 200, np.uint16)).save(path)
    result = run("encode", path, "-o", tmp_path / "g.lic")
    assert result.exit_code == 0, result.output
    assert "16-bit greyscale converted to 8 bits" in result.output
    assert licodec.decode(tmp_path / "g.lic").mode == "L"
    from licodec.images import open_image, to_rgb

    with pytest.warns(LicodecWarning):
        rgb, colour = to_rgb(open_image(path))
    assert colour == "L" and np.array_equal(np.array(rgb), np.full((16, 24, 3), 200, np.uint8))


def test_16_bit_colour_warns_instead_of_being_cut_silently(tiny_weights, tmp_path):
    path = tmp_path / "rgb16.png"
    png_16_bit_rgb(path, 40000)
    with pytest.warns(LicodecWarning, match="16-bit colour"):
        licodec.encode(path)


def test_an_icc_profile_is_dropped_with_a_warning(tiny_weights, photo, tmp_path):
    path = tmp_path / "icc.png"
    Image.open(photo).save(path, icc_profile=b"a profile")
    with pytest.warns(LicodecWarning, match="ICC profile"):
        licodec.encode(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LicodecWarning)
        licodec.encode(photo)  # nothing to drop: no warning


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (13, 1), (3, 7), (65, 63)])
def test_tiny_and_odd_sizes_round_trip(tiny_weights, tmp_path, size):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    data = licodec.encode(image, quality=3)
    assert licodec.decode(data).size == size
