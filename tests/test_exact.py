"""Exact entropy parameters: integer networks give the same μ, σ indexes, symbols and ŷ whatever
the kernels; weights files carry the tables that make this hold on every machine."""
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from licodec.checks import determinism
from licodec.errors import LicodecWarning
from licodec.models.exact import ACTIVATION_LIMIT, WEIGHT_BITS, integer_conv, integer_network, run
from licodec.weights import load_model, read_info, save_weights

from conftest import kodak_image, tiny_model


def _reference_integer_conv(layer, x: np.ndarray) -> np.ndarray:
    """The same layer in Python integers (numpy int64 and object arithmetic): exact by definition."""
    k = layer.kernel
    _, channels, height, width = x.shape
    taps = layer.weight.numpy().astype(np.int64).reshape(-1, channels, k * k).transpose(2, 0, 1)
    bias = layer.bias.numpy().astype(np.int64)[:, 0]
    padded = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
    acc = np.zeros((taps.shape[1], height * width), dtype=object) + bias[:, None].astype(object)
    for tap in range(k * k):
        dy, dx = divmod(tap, k)
        window = padded[0, :, dy : dy + height, dx : dx + width].reshape(channels, -1).astype(object)
        acc = acc + taps[tap].astype(object) @ window
    shift = -int(np.log2(layer.rescale))
    out = np.array([[(int(v) + (1 << (shift - 1))) >> shift for v in row] for row in acc], dtype=np.int64)
    return np.clip(out, -ACTIVATION_LIMIT, ACTIVATION_LIMIT).reshape(1, -1, height, width)


def test_an_integer_conv_is_exact_at_the_largest_activations():
    torch.manual_seed(0)
    conv = nn.Conv2d(40, 6, 3, padding=1)
    layer = integer_conv(conv)
    assert layer.weight.abs().max() < 2**WEIGHT_BITS
    x = torch.randint(-int(ACTIVATION_LIMIT), int(ACTIVATION_LIMIT) + 1, (1, 40, 5, 7)).double()
    assert np.array_equal(layer(x).numpy(), _reference_integer_conv(layer, x.numpy()))


def test_a_chained_network_equals_its_layers_one_by_one():
    """Layers that accumulate into the next one's padded input (same kernel) leave exactly what
    the layers give one at a time; kernels of 3, 3, 1 and 5 take both paths."""
    torch.manual_seed(4)
    float_net = nn.Sequential(nn.Conv2d(5, 7, 3, padding=1), nn.GELU(), nn.Conv2d(7, 6, 3, padding=1), nn.GELU(),
                              nn.Conv2d(6, 4, 1), nn.Conv2d(4, 3, 5, padding=2))
    network = integer_network(float_net)
    x = torch.round(torch.randn(1, 5, 9, 13).double() * 5000)
    one_by_one = x
    for layer in network:
        one_by_one = layer(one_by_one)
    assert torch.equal(run(network, x), one_by_one.float())


def test_an_integer_network_follows_its_float_network():
    torch.manual_seed(1)
    float_net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.GELU(), nn.Conv2d(16, 4, 3, padding=1))
    x = torch.randn(1, 8, 6, 6)
    exact = run(integer_network(float_net), torch.round(x.double() * 1024)) / 1024
    assert torch.allclose(exact.float(), float_net(torch.round(x * 1024) / 1024), atol=5e-3)


def test_integer_results_do_not_depend_on_threads_layout_or_onednn():
    torch.manual_seed(2)
    network = integer_network(nn.Sequential(nn.Conv2d(24, 32, 3, padding=1), nn.GELU(), nn.Conv2d(32, 8, 3, padding=1)))
    x = torch.round(torch.randn(1, 24, 20, 30).double() * 4096)
    reference = run(network, x)
    for threads, onednn in [(1, False), (2, True), (1, True)]:
        torch.set_num_threads(threads)
        with torch.backends.mkldnn.flags(enabled=onednn):
            assert torch.equal(run(network, x.contiguous(memory_format=torch.channels_last)), reference)


def test_a_file_decodes_alike_under_every_variation(tmp_path):
    """Encode under each variation of the kernels, decode under each: the same parameters."""
    path = tmp_path / "tiny.safetensors"
    save_weights(tiny_model(), path, "student", {"test": True})
    info = read_info(path)
    found = determinism.variations()
    models = {v: v.model(info) for v in found}
    image = np.asarray(kodak_image(23).crop((200, 100, 328, 196)).convert("RGB"))
    for encoder in found:
        for decoder in found:
            assert determinism.check(info, image, 3.5, encoder, decoder, models) [0], (encoder, decoder)


def test_the_check_sees_a_decoder_whose_parameters_drifted(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_weights(tiny_model(), path, "student", {"test": True})
    info = read_info(path)
    variation = determinism.Variation()
    drifted = variation.model(info)
    with torch.no_grad():
        drifted.latent_codec.cc_mean[1][0].bias.add_(0.5)  # another machine's μ, in effect
    models = {variation: variation.model(info), determinism.Variation(threads=1): drifted}
    image = np.asarray(kodak_image(23).crop((200, 100, 328, 196)).convert("RGB"))
    same, _, _ = determinism.check(info, image, 4, variation, determinism.Variation(threads=1), models)
    assert not same


def test_weights_files_carry_their_coder_tables(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_weights(tiny_model(), path, "student", {"test": True})
    from safetensors.numpy import load_file

    stored = load_file(str(path))
    assert {"coder.z_pmf", "coder.z_length", "coder.z_offset", "coder.z_inverse_gain"} <= stored.keys()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tables present: no warning
        load_model(read_info(path))


def test_weights_without_coder_tables_still_load_with_a_warning(tmp_path):
    from safetensors.torch import save_file

    from licodec.weights import content_hash

    model = tiny_model()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path / "old.safetensors"
    meta = {"format": "licodec-weights/1", "name": "student", "config": model.config.to_json(),
            "content_hash": content_hash(state)}
    save_file(state, str(path), metadata=meta)
    with pytest.warns(LicodecWarning, match="no coder tables"):
        load_model(read_info(path))


def test_the_float_reference_path_codes_about_as_many_bytes():
    model = tiny_model()
    x = torch.rand(1, 3, 64, 96)
    exact, reference = model.compress(x, 4), model.compress(x, 4, exact=False)
    assert abs(len(exact.data) - len(reference.data)) <= 0.03 * len(reference.data) + 8


def test_bands_give_the_whole_tensor_result(monkeypatch):
    from licodec.models import exact

    torch.manual_seed(3)
    float_net = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.GELU(),
                              nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.PixelShuffle(2)), nn.GELU(),
                              nn.Conv2d(4, 5, 3, padding=1))
    network = integer_network(float_net)
    x = torch.round(torch.randn(1, 6, 23, 9).double() * 3000)
    whole = run(network, x)
    monkeypatch.setattr(exact, "BAND_BYTES", 0)
    for rows in (1, 2, 5):
        monkeypatch.setattr(exact, "MIN_BAND_ROWS", rows)
        assert torch.equal(run(network, x), whole)
