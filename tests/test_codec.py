"""The model's coding path: decode(encode(x)) gives the encoder's ŷ, for any size, quality, thread count."""
import numpy as np
import pytest
import torch

from licodec.config import CONFIGS
from licodec.models import LicModel
from licodec.models.charm import GainUnits
from licodec.models.swin import SwinV2Attention

from conftest import kodak_image, tiny_model, to_tensor


def _round_trip(model: LicModel, x: torch.Tensor, quality: float):
    compressed = model.compress(x, quality)
    x_hat, y_hat, digests = model.decompress(compressed.data, x.shape[2], x.shape[3], quality)
    return compressed, x_hat, y_hat, digests


@pytest.mark.parametrize("size", [(64, 64), (45, 70), (1, 1), (130, 67)])
@pytest.mark.parametrize("quality", [1, 3.5, 8])
def test_decoder_reproduces_encoder_latents(size, quality):
    model = tiny_model()
    x = torch.rand(1, 3, *size)
    compressed, x_hat, y_hat, digests = _round_trip(model, x, quality)
    assert torch.equal(y_hat, compressed.y_hat)
    assert digests == compressed.digests
    assert x_hat.shape == (*x.shape[2:], 3) and x_hat.dtype == np.uint8


def test_decoding_with_one_thread_matches_encoding_with_two():
    model = tiny_model()
    x = to_tensor(kodak_image(23).crop((0, 0, 256, 192)))
    torch.set_num_threads(2)
    compressed = model.compress(x, 5)
    torch.set_num_threads(1)
    _, y_hat, digests = model.decompress(compressed.data, 192, 256, 5)
    assert torch.equal(y_hat, compressed.y_hat) and digests == compressed.digests


def test_compress_matches_the_evaluation_forward_pass():
    """The coded ŷ is the model's own quantised latent (up to the 1/256 grid snapping)."""
    model = tiny_model()
    x = torch.rand(1, 3, 64, 64)
    compressed = model.compress(x, 4)
    forward = model(x, torch.tensor([4.0]))
    assert torch.allclose(compressed.y_hat, forward["y_hat"], atol=0.02)


def test_fractional_quality_interpolates_gains_geometrically():
    gains = GainUnits(8, 3, torch.linspace(-1, 1, 8))
    with torch.no_grad():
        gains.log_gain.normal_()
    between = gains.gain(torch.tensor([3.5]))
    assert torch.allclose(between, torch.sqrt(gains.gain(torch.tensor([3.0])) * gains.gain(torch.tensor([4.0]))))
    assert torch.allclose(gains.gain(torch.tensor([8.0])), torch.exp(gains.log_gain[7]).view(1, 3, 1, 1))


def test_swin_attention_keeps_shape_for_any_size():
    attention = SwinV2Attention(dim=8, layers=2, window=4, heads=2, mlp_ratio=2.0)
    for h, w in [(8, 8), (5, 11), (2, 2)]:
        assert attention(torch.rand(2, 8, h, w)).shape == (2, 8, h, w)


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_shipped_architectures_fit_their_budgets():
    teacher, student = (_parameters(LicModel(CONFIGS[n])) for n in ("teacher", "student"))
    assert teacher <= 12e6
    assert student <= 0.37 * teacher
    assert CONFIGS["teacher"].attention_layers and not CONFIGS["student"].attention_layers
    assert (CONFIGS["teacher"].slices, CONFIGS["student"].slices) == (8, 5)


# The attention models code the centre quarter of a Kodak image: their windows, shifts and
# masks see the same divisibility as at 768x512 (Swin at 1/2 and 1/4 scale, windows of 8), for a
# quarter of the work (the FEDS teacher took 34 s at full size).
KODAK_CROPS = {"feds-teacher": (192, 128, 576, 384), "teacher": (192, 128, 576, 384)}


@pytest.mark.parametrize("name", ["feds-teacher", "feds-student", "teacher", "student"])
def test_every_named_architecture_codes_a_kodak_image(name):
    torch.manual_seed(0)
    model = LicModel(CONFIGS[name]).eval()
    image = kodak_image(23)
    image = image.crop(KODAK_CROPS.get(name, (0, 0, *image.size)))
    compressed, x_hat, y_hat, digests = _round_trip(model, to_tensor(image), 4)
    assert torch.equal(y_hat, compressed.y_hat) and digests == compressed.digests
    assert x_hat.shape == (image.height, image.width, 3)


def test_a_model_with_built_tables_copies_and_codes_the_same():
    import copy

    model = tiny_model()
    x = torch.rand(1, 3, 64, 64)
    original = model.compress(x, 4)  # builds the constriction tables, which do not pickle
    clone = copy.deepcopy(model)
    assert clone.compress(x, 4).data == original.data


def test_a_sweep_of_one_model_keeps_the_other_models_rows(tiny_weights, photo, tmp_path):
    import json

    from click.testing import CliRunner

    from licodec.checks.roundtrip import main as sweep

    images = tmp_path / "images"
    images.mkdir()
    photo.rename(images / photo.name)
    out = tmp_path / "sweep"
    for model in ("student", "teacher", "student"):
        result = CliRunner().invoke(sweep, [str(images), "-o", str(out), "--model", model, "--quality", "2"])
        assert result.exit_code == 0, result.output
    rows = json.loads((out / "sweep.json").read_text())
    assert sorted(r["model"] for r in rows) == ["student", "teacher"]
    assert "| teacher | 2 | 1 |" in (out / "sweep.md").read_text()


def test_large_images_are_coded_tile_by_tile_without_seams(monkeypatch):
    """Tiles with a margin wider than the receptive fields give the untiled result."""
    from licodec.metrics import psnr
    from licodec.models import codec, engine

    model = tiny_model()
    rgb = np.array(kodak_image(23).crop((100, 50, 420, 250)))  # 320×200: 3×2 tiles of 128
    x = codec.rgb_to_tensor(rgb, scaled=False)
    whole = model.compress(x, 4)
    whole_pixels = model.decompress(whole.data, 200, 320, 4)[0]
    monkeypatch.setattr(engine, "TILE", 128)
    tiled = model.compress(x, 4)
    tiled_pixels = model.decompress(tiled.data, 200, 320, 4)[0]
    assert abs(len(tiled.data) - len(whole.data)) <= 0.01 * len(whole.data)
    assert abs(psnr(rgb, tiled_pixels) - psnr(rgb, whole_pixels)) < 0.05
    assert np.abs(tiled_pixels.astype(int) - whole_pixels.astype(int)).max() <= 2


def test_tiles_cover_the_image_once():
    from licodec.models.engine import spans

    assert spans(500, 1024, 128) == [(0, 500, 0, 500)]  # small: one tile, no margin
    cut = spans(2100, 1024, 128)
    assert [(s, e) for s, e, _, _ in cut] == [(0, 1024), (1024, 2048), (2048, 2100)]
    assert all(a == max(s - 128, 0) and b == min(e + 128, 2100) for s, e, a, b in cut)
