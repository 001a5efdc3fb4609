"""licodec.precision: the choice of g_a / g_s precision, and what bfloat16 changes (pixels only)."""
import numpy as np
import pytest
import torch

from conftest import kodak_image
from licodec import precision
from licodec.errors import LicodecError
from licodec.models.codec import rgb_to_tensor
from licodec.weights import load_model, resolve


@pytest.mark.parametrize("value, expected", [("float32", False), ("bfloat16", True)])
def test_the_environment_overrides_the_choice(monkeypatch, value, expected):
    monkeypatch.setenv(precision.ENVIRONMENT, value)
    assert precision.transforms_in_bfloat16() is expected


def test_auto_follows_the_cpu(monkeypatch):
    monkeypatch.delenv(precision.ENVIRONMENT, raising=False)
    monkeypatch.setattr(precision, "_cpu_has_amx", lambda: False)
    assert precision.transforms_in_bfloat16() is False
    monkeypatch.setattr(precision, "_cpu_has_amx", lambda: True)
    assert precision.transforms_in_bfloat16() is True


def test_an_unknown_precision_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv(precision.ENVIRONMENT, "float16")
    with pytest.raises(LicodecError, match="LICODEC_PRECISION='float16'"):
        precision.transforms_in_bfloat16()


def test_bfloat16_changes_pixels_by_little_and_the_latents_not_at_all():
    """With the shipped student (a random model's activations are far outside a trained one's)."""
    model = load_model(resolve("student"))
    rgb = np.asarray(kodak_image(23).crop((200, 100, 328, 228)).convert("RGB"))
    compressed = model.compress(rgb_to_tensor(rgb), 4.0)
    decoded = {}
    for bfloat16 in (False, True):
        model.engine.bfloat16 = bfloat16
        pixels, y_hat, _ = model.decompress(compressed.data, 128, 128, 4.0)
        assert torch.equal(y_hat, compressed.y_hat)
        decoded[bfloat16] = pixels.astype(int)
    difference = np.abs(decoded[True] - decoded[False])
    assert 0 < difference.max() <= 2 and difference.mean() < 0.5
