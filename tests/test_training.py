"""The training loop: it learns, logs, exports loadable weights, and resumes exactly."""
import dataclasses
import json

import pytest
import torch

from licodec import config
from licodec.training.losses import bits_per_pixel, rate_distortion
from licodec.training.train import TrainOptions, train
from licodec.weights import load_model, read_info

from conftest import TINY, train_until_killed


@pytest.fixture
def tiny_arch(monkeypatch):
    monkeypatch.setitem(config.CONFIGS, "tiny", TINY)
    return "tiny"


def _options(arch, data, out, steps, **kw):
    return TrainOptions(arch=arch, data=data, out=out, steps=steps, patch=64, batch=2, lr=1e-3, **kw)


def test_rate_distortion_terms_on_constructed_inputs():
    x = torch.zeros(2, 3, 4, 4)
    out = {"x_hat": x + 0.1, "likelihoods": {"y": torch.full((2, 1, 2, 2), 0.5), "z": torch.ones(2, 1, 1, 1)}}
    assert torch.allclose(bits_per_pixel(out["likelihoods"], 16), torch.full((2,), 4 / 16))
    terms = rate_distortion(out, x, torch.tensor([0.01, 0.02]))
    assert torch.isclose(terms["loss"], torch.tensor(0.015 * 255**2 * 0.01 + 0.25))
    assert torch.isclose(terms["psnr"], torch.tensor(20.0))


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tiny_arch, train_folder, tmp_path):
    train(_options(tiny_arch, train_folder, tmp_path / "full", 4))
    killed = _options(tiny_arch, train_folder, tmp_path / "killed", 4)
    train_until_killed(killed, kill_at_step=2)
    train(dataclasses.replace(killed, resume=True))
    full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_training_lowers_the_loss_and_exports_usable_weights(tiny_arch, train_folder, tmp_path):
    weights = train(_options(tiny_arch, train_folder, tmp_path / "run", 20))
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(losses[-5:]) < sum(losses[:5])
    info = read_info(weights)
    assert info.name == "tiny" and json.loads(info.metadata["provenance"])["step"] == 20
    model = load_model(info)
    x = torch.rand(1, 3, 40, 40)
    compressed = model.compress(x, 2)
    assert torch.equal(model.decompress(compressed.data, 40, 40, 2)[1], compressed.y_hat)


def test_ms_ssim_distortion_is_zero_for_a_perfect_reconstruction():
    x = torch.rand(2, 3, 192, 192)
    likelihoods = {"y": torch.full((2, 1, 2, 2), 0.5)}
    perfect = rate_distortion({"x_hat": x, "likelihoods": likelihoods}, x, torch.tensor([10.0, 10.0]), "ms-ssim")
    assert torch.isclose(perfect["loss"], perfect["bpp"], atol=1e-4)
    noisy = rate_distortion({"x_hat": (x + 0.2).clamp(0, 1), "likelihoods": likelihoods}, x,
                            torch.tensor([10.0, 10.0]), "ms-ssim")
    assert torch.isclose(noisy["loss"], noisy["bpp"] + 10 * (1 - noisy["ms_ssim"]), atol=1e-5)
    assert noisy["ms_ssim"] < 0.99


def test_validation_records_bpp_and_psnr_at_three_levels(tiny_arch, train_folder, tmp_path):
    train(_options(tiny_arch, train_folder, tmp_path / "run", 4, val=train_folder, val_every=2, val_images=2))
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [("val" in r) for r in records] == [False, True, False, True]
    val = records[-1]["val"]
    assert set(val) == {"q1", "q4", "q8"} and all(v["bpp"] > 0 and 0 < v["psnr"] < 100 for v in val.values())
    assert val["q1"]["bpp"] <= val["q8"]["bpp"] * 1.5  # gain units order the rates from the start


def test_a_process_share_is_that_slice_of_the_global_batch(train_folder):
    from licodec.training.data import CropSampler

    whole = CropSampler(train_folder, 64, seed=3).batch(4)
    share = CropSampler(train_folder, 64, seed=3).batch(4, slice(2, 4))
    assert torch.equal(share, whole[2:4])


def test_training_noise_of_a_sample_does_not_depend_on_its_batch():
    from licodec.models.charm import per_sample_noise, uniform_noise_like

    with per_sample_noise([11, 12, 13]):
        whole = uniform_noise_like(torch.zeros(3, 2, 4, 4))
    with per_sample_noise([13]):
        alone = uniform_noise_like(torch.zeros(1, 2, 4, 4))
    assert torch.equal(alone[0], whole[2]) and whole.abs().max() <= 0.5
    assert not torch.equal(whole[0], whole[1])
