"""Images as people have them: EXIF orientation, 16-bit samples, alpha, metadata, tiny and odd sizes."""
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
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    width, height = Image.open(photo).size
    decoded = licodec.decode(tmp_path / "p.lic")
    assert decoded.size == (height, width)
    assert 0x0112 not in decoded.getexif()  # upright already: a viewer must not turn it again
    assert run("decode", tmp_path / "p.lic", "-o", tmp_path / "p.png").exit_code == 0
    compared = run("compare", portrait, tmp_path / "p.png")  # the original turned upright, as encode did
    assert compared.exit_code == 0 and "psnr" in compared.output, compared.output


def test_16_bit_greyscale_is_scaled_to_8_bits_with_a_warning(tiny_weights, tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((16, 24), 257 * 200, np.uint16)).save(path)
    result = run("encode", path, "-o", tmp_path / "g.lic")
    assert result.exit_code == 0, result.output
    assert "16-bit greyscale converted to 8 bits" in result.output
    assert licodec.decode(tmp_path / "g.lic").mode == "L"
    from licodec.images import open_image, to_rgb

    with pytest.warns(LicodecWarning):
        rgb, colour, _ = to_rgb(open_image(path))
    assert colour == "L" and np.array_equal(np.array(rgb), np.full((16, 24, 3), 200, np.uint8))


def test_16_bit_colour_warns_instead_of_being_cut_silently(tiny_weights, tmp_path):
    path = tmp_path / "rgb16.png"
    png_16_bit_rgb(path, 40000)
    with pytest.warns(LicodecWarning, match="16-bit colour"):
        licodec.encode(path)


def _tagged(photo, path, icc: bytes) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Licodec Camera"
    Image.open(photo).save(path, icc_profile=icc, exif=exif)


def test_icc_profile_and_exif_are_kept_and_restored(tiny_weights, photo, tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    _tagged(photo, tmp_path / "tagged.png", icc)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LicodecWarning)  # nothing dropped: no warning
        assert run("encode", tmp_path / "tagged.png", "-o", tmp_path / "t.lic").exit_code == 0
    assert run("decode", tmp_path / "t.lic", "-o", tmp_path / "t.png").exit_code == 0
    for decoded in (licodec.decode(tmp_path / "t.lic"), Image.open(tmp_path / "t.png")):
        assert decoded.info["icc_profile"] == icc
        assert decoded.getexif()[0x010F] == "Licodec Camera"
    assert "ICC profile" in run("info", tmp_path / "t.lic").output


def test_the_callers_image_keeps_its_exif(tiny_weights, photo):
    image = Image.open(photo)
    exif = Image.Exif()
    exif[0x010F] = "Licodec Camera"
    exif[0x0112] = 1
    image.info["exif"] = exif.tobytes()
    licodec.encode(image)
    assert image.getexif().get(0x0112) == 1 and image.getexif()[0x010F] == "Licodec Camera"


def test_strip_leaves_metadata_out(tiny_weights, photo, tmp_path):
    _tagged(photo, tmp_path / "tagged.png", b"a profile")
    assert run("encode", "--strip", tmp_path / "tagged.png", "-o", tmp_path / "s.lic").exit_code == 0
    decoded = licodec.decode(tmp_path / "s.lic")
    assert "icc_profile" not in decoded.info and not decoded.getexif()
    assert len((tmp_path / "s.lic").read_bytes()) < len(licodec.encode(tmp_path / "tagged.png"))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_kept_losslessly(tiny_weights, photo, tmp_path, mode):
    image = Image.open(photo).convert(mode[:-1])
    rng = np.random.default_rng(0)
    alpha = rng.integers(0, 256, (image.height, image.width), dtype=np.uint8)
    image.putalpha(Image.fromarray(alpha))
    decoded = licodec.decode(licodec.encode(image, quality=3))
    assert decoded.mode == mode and np.array_equal(np.array(decoded.getchannel("A")), alpha)


def test_palette_transparency_becomes_alpha(tiny_weights, photo):
    image = Image.open(photo).convert("P")
    image.info["transparency"] = 0
    decoded = licodec.decode(licodec.encode(image))
    assert decoded.mode == "RGBA"
    assert np.array_equal(np.array(decoded.getchannel("A")), np.array(image.convert("RGBA").getchannel("A")))


def test_alpha_into_a_format_without_it_is_dropped_with_a_warning(tiny_weights, photo, tmp_path):
    image = Image.open(photo).convert("RGBA")
    (tmp_path / "a.lic").write_bytes(licodec.encode(image))
    result = run("decode", tmp_path / "a.lic", "-o", tmp_path / "a.jpg")
    assert result.exit_code == 0 and "transparency dropped" in result.output
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


def test_a_damaged_alpha_plane_is_a_clean_error(tiny_weights, photo):
    from licodec import container
    from licodec.errors import LicodecError

    header, stream, digest = container.unpack(licodec.encode(Image.open(photo).convert("RGBA")))
    import dataclasses

    for alpha in (b"not a png", _png_of_size(3, 3), _webp_of_size(3, 3)):
        damaged = dataclasses.replace(header, extras=container.Extras(alpha=alpha))
        with pytest.raises(LicodecError, match="alpha plane"):
            licodec.decode(container.pack(damaged, stream, digest))


def _png_of_size(width: int, height: int) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def _webp_of_size(width: int, height: int) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="WEBP", lossless=True)
    return buffer.getvalue()


def test_alpha_is_coded_as_webp_lossless_in_fewer_bytes_than_png(photo):
    from licodec.images import alpha_from_bytes, alpha_to_bytes, alpha_to_png

    # A cut-out's alpha: opaque inside a soft-edged disc, transparent outside.
    yy, xx = np.mgrid[:240, :320]
    disc = np.clip((100 - np.hypot(xx - 160, yy - 120)) * 32, 0, 255).astype(np.uint8)
    alpha = Image.fromarray(disc)
    coded = alpha_to_bytes(alpha)
    assert coded[:4] == b"RIFF" and coded[8:12] == b"WEBP"
    assert len(coded) < len(alpha_to_png(alpha))
    for data in (coded, alpha_to_png(alpha)):  # version 2 files hold PNG
        assert np.array_equal(np.array(alpha_from_bytes(data, alpha.size)), disc)


def test_alpha_wider_than_webp_allows_stays_png(monkeypatch):
    from licodec import images

    monkeypatch.setattr(images, "WEBP_MAX_SIDE", 15)
    assert images.alpha_to_bytes(Image.new("L", (16, 4)))[:8] == b"\x89PNG\r\n\x1a\n"


def test_version_2_files_keep_decoding(tiny_weights, photo):
    """Format 2: one digest, alpha as PNG, the image at its canvas's top left. Repacked from a
    version 4 file of a size the canvas does not pad, it decodes alike; so does format 3, which
    differs from 4 only by having no padding section."""
    import dataclasses

    from licodec import container
    from licodec.images import alpha_to_png

    # 128x64, a multiple of 64: no padding, so format 2's top-left canvas is format 3's centred one.
    image = Image.open(photo).convert("RGBA").resize((128, 64))
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    header, stream, digests = container.unpack(licodec.encode(image, quality=3))
    old = dataclasses.replace(header, version=2, extras=container.Extras(alpha=alpha_to_png(image.getchannel("A"))))
    old_file = container.pack(old, stream, container.Digests(digests.symbols))
    assert container.read_header(old_file)[0].version == 2
    decoded, new = licodec.decode(old_file), licodec.decode(container.pack(header, stream, digests))
    assert np.array_equal(np.array(decoded), np.array(new))
    version_3 = container.pack(dataclasses.replace(header, version=3), stream, digests)
    assert np.array_equal(np.array(licodec.decode(version_3)), np.array(new))
    with pytest.raises(licodec.LicodecError, match="decoding mismatch"):
        licodec.decode(container.pack(old, stream, container.Digests(digests.symbols ^ 1)))


def test_version_2_files_place_the_image_at_the_canvas_top_left(tiny_weights, photo, monkeypatch):
    """A padded size: format 2 decodes the canvas's top left, format 3 its centre."""
    import dataclasses

    from licodec import container
    from licodec.models import LicModel

    offsets = []
    synthesis = LicModel.synthesis
    monkeypatch.setattr(LicModel, "synthesis", lambda self, y, h, w, centred=True: offsets.append(centred)
                        or synthesis(self, y, h, w, centred))
    header, stream, digests = container.unpack(licodec.encode(photo, quality=3))  # 96x80: padded
    licodec.decode(container.pack(header, stream, digests))
    licodec.decode(container.pack(dataclasses.replace(header, version=2), stream, container.Digests(digests.symbols)))
    assert offsets == [True, False]


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (13, 1), (3, 7), (65, 63)])
def test_tiny_and_odd_sizes_round_trip(tiny_weights, tmp_path, size):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    data = licodec.encode(image, quality=3)
    assert licodec.decode(data).size == size


def test_a_file_under_its_shortest_length_is_padded_and_decodes_alike(tiny_weights, photo, monkeypatch):
    """Only unusually flat images fall under 6 bytes a block; a higher minimum makes a photo one."""
    from licodec import container

    image = Image.open(photo).convert("RGB")
    plain = licodec.encode(image, quality=1)
    plain_parts, decoded = container.unpack(plain), np.array(licodec.decode(plain))
    monkeypatch.setattr(container, "MIN_BYTES_PER_BLOCK", 4 * len(plain))
    padded = licodec.encode(image, quality=1)
    assert len(padded) >= container.shortest_file(*image.size) > len(plain)
    assert container.unpack(padded) == plain_parts
    assert np.array_equal(np.array(licodec.decode(padded)), decoded)
    with pytest.raises(licodec.LicodecError, match="fewer than any"):
        licodec.decode(plain)  # now under the minimum: refused
