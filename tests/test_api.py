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
    header, stream, digest = container.unpack(licodec.encode(photo))
    tampered = container.pack(header, stream, digest ^ 1)
    with pytest.raises(licodec.LicodecError, match="decoding mismatch"):
        licodec.decode(tampered)


def test_oversized_images_are_refused_before_any_work(tiny_weights, monkeypatch):
    from licodec import api

    monkeypatch.setattr(api, "MAX_PIXELS", 100)
    with pytest.raises(licodec.LicodecError, match="image too large: 20x10"):
        licodec.encode(Image.new("RGB", (20, 10)))
