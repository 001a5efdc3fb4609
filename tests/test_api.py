"""The Python API: licodec.encode / licodec.decode on images, arrays and paths."""
import numpy as np
import pytest
from PIL import Image

import licodec
from licodec import container


def test_encode_decode_pil_array_and_path(tiny_weights, photo):
    image = Image.open(photo).convert("RGB")
    from_pil = licodec.encode(image, quality=2)
    assert licodec.encode(np.array(image), quality=2) == from_pil
    assert licodec.encode(photo, quality=2) == from_pil
    decoded = licodec.decode(from_pil)
    assert isinstance(decoded, Image.Image) and decoded.size == image.size


def test_encoding_is_deterministic_and_quality_changes_the_file(tiny_weights, photo):
    assert licodec.encode(photo, quality=3) == licodec.encode(photo, quality=3)
    assert licodec.encode(photo, quality=3) != licodec.encode(photo, quality=3.5)


def test_a_decoder_that_drifts_is_caught(tiny_weights, photo):
    """The symbol digest turns a desynchronised decode into an error, never a wrong image."""
    header, stream, digests = container.unpack(licodec.encode(photo))
    for tampered in (digests._replace(symbols=digests.symbols ^ 1), digests._replace(z=digests.z ^ 1)):
        with pytest.raises(licodec.LicodecError, match="decoding mismatch"):
            licodec.decode(container.pack(header, stream, tampered))


def test_decode_refuses_more_pixels_than_max_pixels(tiny_weights, photo, monkeypatch):
    data = licodec.encode(photo)  # 96x80
    from licodec import api

    monkeypatch.setattr(api, "find_by_id", lambda *args: pytest.fail("weights looked up for a refused file"))
    with pytest.raises(licodec.LicodecError, match="over the limit of 7679 pixels"):
        licodec.decode(data, max_pixels=7679)


def test_oversized_images_are_refused_before_any_work(tiny_weights, monkeypatch):
    from licodec import api

    monkeypatch.setattr(api.container, "MAX_PIXELS", 100)
    with pytest.raises(licodec.LicodecError, match="image too large: 20x10"):
        licodec.encode(Image.new("RGB", (20, 10)))


def test_encode_takes_bytes_and_file_objects_and_decode_takes_paths(tiny_weights, photo, tmp_path):
    expected = licodec.encode(photo, quality=2)
    assert licodec.encode(photo.read_bytes(), quality=2) == expected
    with open(photo, "rb") as f:
        assert licodec.encode(f, quality=2) == expected
    assert licodec.encode(photo, quality="2") == expected
    lic = tmp_path / "a.lic"
    lic.write_bytes(expected)
    from_bytes = np.array(licodec.decode(expected))
    assert np.array_equal(np.array(licodec.decode(lic)), from_bytes)
    assert np.array_equal(np.array(licodec.decode(str(lic))), from_bytes)
    with open(lic, "rb") as f:
        assert np.array_equal(np.array(licodec.decode(f)), from_bytes)


@pytest.mark.parametrize("call, message", [
    (lambda photo: licodec.encode(photo, quality="high"), "quality 'high' is not a number"),
    (lambda photo: licodec.encode(b"\x00not an image"), "not a readable image"),
    (lambda photo: licodec.encode(np.zeros((4, 4, 3), np.float32)), "arrays must be uint8"),
    (lambda photo: licodec.encode(12), "cannot read an image from a int"),
    (lambda photo: licodec.decode(photo), "not a .lic file"),
    (lambda photo: licodec.decode(photo.parent / "missing.lic"), "no such file"),
    (lambda photo: licodec.decode(3.5), "cannot read a .lic file from a float"),
])
def test_bad_api_input_raises_the_clis_errors(tiny_weights, photo, call, message):
    with pytest.raises(licodec.LicodecError, match=message):
        call(photo)


def test_the_api_is_listed_and_typed():
    from pathlib import Path

    assert {"encode", "decode", "LicodecError"} <= set(dir(licodec))
    assert (Path(licodec.__file__).parent / "py.typed").exists()


def test_pillow_plugin_opens_and_saves_lic_files(tiny_weights, photo, tmp_path):
    import licodec.pillow  # noqa: F401  (registers the format)

    out = tmp_path / "a.lic"
    Image.open(photo).save(out, quality=3)
    assert out.read_bytes() == licodec.encode(photo, quality=3)
    with Image.open(out) as opened:
        assert opened.format == "LIC" and opened.size == Image.open(photo).size and opened.mode == "RGB"
        assert opened.info["quality"] == 3
        pixels = np.array(opened.convert("RGB"))
    assert np.array_equal(pixels, np.array(licodec.decode(out)))


def test_opening_a_lic_header_does_not_import_torch(tiny_weights, photo, tmp_path):
    import subprocess
    import sys

    lic = tmp_path / "a.lic"
    lic.write_bytes(licodec.encode(photo))
    code = ("import sys, licodec, licodec.pillow; from PIL import Image; im = Image.open(sys.argv[1]); "
            "print(im.size, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(lic)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"{Image.open(photo).size} False"
