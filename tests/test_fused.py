"""licodec.models.fused: g_a and g_s through fused kernels compute what the modules compute."""
import copy

import numpy as np
import pytest
import torch

from conftest import TINY, kodak_image, tiny_model
from licodec.config import CodecConfig
from licodec.models import fused
from licodec.models.codec import rgb_to_tensor
from licodec.weights import load_model, resolve

NO_ATTENTION = CodecConfig(**{**TINY.__dict__, "attention_layers": 0})
needs_kernels = pytest.mark.skipif(fused._pointwise() is None, reason="this torch has no oneDNN fused convolutions")


@needs_kernels
@pytest.mark.parametrize("config", [NO_ATTENTION, TINY], ids=["plain", "with-attention"])
@pytest.mark.parametrize("name, channels, size", [("g_a", 3, 64), ("g_s", 24, 4)])
def test_a_fused_transform_equals_the_module_in_float32(config, name, channels, size):
    transform = getattr(tiny_model(config=config, widen=False), name)
    x = torch.randn(1, channels, size, size).contiguous(memory_format=torch.channels_last)
    run = fused.fused_transform(transform, torch.float32)
    assert run is not None
    with torch.no_grad():
        torch.testing.assert_close(run(x), transform(x), rtol=1e-4, atol=1e-5)


@needs_kernels
def test_the_fused_student_decodes_the_pixels_of_the_eager_one_in_bfloat16():
    model = load_model(resolve("student"))
    model.engine.bfloat16 = True
    rgb = np.asarray(kodak_image(23).crop((200, 100, 328, 228)).convert("RGB"))
    compressed = model.compress(rgb_to_tensor(rgb), 4.0)
    decoded = {}
    for fuse in (False, True):
        model.engine.fused = fuse
        decoded[fuse] = model.decompress(compressed.data, 128, 128, 4.0)[0].astype(int)
    # bfloat16 rounding: a level here and there. Above half scale bfloat16's step is 1/256, a level,
    # so which pixels tip over depends on the weights (leg 4's file: under 0.25; leg 8's, on AMX: 0.255).
    difference = np.abs(decoded[True] - decoded[False])
    assert difference.max() <= 2 and difference.mean() < 0.3


def test_without_fused_kernels_the_modules_run(monkeypatch):
    monkeypatch.setattr(fused, "_pointwise", lambda: None)
    model = tiny_model().for_inference()
    x = torch.rand(1, 3, 64, 64)
    assert fused.fused_transform(model.g_s, torch.float32) is None
    assert model.decompress(model.compress(x, 4).data, 64, 64, 4)[0].shape == (64, 64, 3)


def test_a_fused_transform_that_disagrees_on_the_probe_is_refused():
    transform = tiny_model(config=NO_ATTENTION, widen=False).g_s
    assert fused._agrees_with_eager(lambda x: transform(x), transform, torch.float32)
    assert not fused._agrees_with_eager(lambda x: 1.1 * transform(x), transform, torch.float32)


def test_a_model_copies_after_its_fused_transforms_are_built():
    model = tiny_model().for_inference()
    x = torch.rand(1, 3, 64, 64)
    original = model.compress(x, 4)
    clone = copy.deepcopy(model)
    assert clone.compress(x, 4).data == original.data
