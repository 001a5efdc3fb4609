"""Distillation: each FEDS term computed right on constructed tensors, the phase schedule,
and real short runs of each strategy (loss goes down, resume is exact)."""
import dataclasses
import json

import pytest
import torch

from licodec import config
from licodec.config import CodecConfig
from licodec.models import LicModel
from licodec.training.distill import (SMODI_PARTS, Feds, FedsWeights, FeatureAdapters, SMoDi, channel_entropy,
                                      derive_student, latent_loss, output_loss, top_entropy_channels)
from licodec.training.options import TrainOptions
from licodec.training.train import DERIVED_ARCH, train
from licodec.weights import save_weights

from conftest import TINY, tiny_model, train_until_killed

TINY_STUDENT = CodecConfig(N=8, M=12, hyper_channels=8, slices=3, max_support_slices=-1, slice_hidden=(8,))


def _likelihoods_with_entropies(bits: list[float]) -> torch.Tensor:
    """y likelihoods [2, C, 3, 3] whose channel c costs exactly bits[c] bits per element."""
    return torch.tensor([2.0 ** -b for b in bits]).view(1, -1, 1, 1).expand(2, -1, 3, 3)


def test_channel_entropy_and_top_k_pick_the_highest_entropy_channels():
    likelihoods = _likelihoods_with_entropies([0.5, 3.0, 0.1, 2.0, 5.0])
    assert torch.allclose(channel_entropy(likelihoods), torch.tensor([0.5, 3.0, 0.1, 2.0, 5.0]))
    assert top_entropy_channels(likelihoods, 3).tolist() == [4, 1, 3]


def test_latent_loss_compares_the_student_with_the_selected_teacher_channels():
    likelihoods = _likelihoods_with_entropies([0.5, 3.0, 0.1, 2.0, 5.0])
    teacher = torch.arange(5.0).view(1, 5, 1, 1).expand(2, 5, 3, 3)
    student = torch.tensor([4.0, 1.0]).view(1, 2, 1, 1).expand(2, 2, 3, 3)
    assert torch.equal(latent_loss(student, teacher, likelihoods), torch.zeros(2))
    assert torch.allclose(latent_loss(student + 2, teacher, likelihoods), torch.full((2,), 4.0))
    own = torch.tensor([0, 2, 3])  # a pruned student's own channels, whatever their entropies
    assert torch.equal(latent_loss(teacher[:, own], teacher, likelihoods, own), torch.zeros(2))
    assert (latent_loss(teacher[:, own], teacher, likelihoods) > 0).all()


def test_output_and_feature_losses_vanish_for_identical_inputs():
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(output_loss(x, x), torch.zeros(2))
    assert torch.allclose(output_loss(x, x + 0.5), torch.full((2,), 0.25))
    adapters = FeatureAdapters(6, 6)
    features = {"features_a": [torch.rand(2, 6, 4, 4) for _ in range(4)],
                "features_s": [torch.rand(2, 6, 4, 4) for _ in range(4)]}
    assert torch.allclose(adapters(features, features), torch.zeros(2))


def test_phase_schedule_switches_terms_at_the_right_steps():
    feds = Feds(TINY_STUDENT.N, TINY.N, steps=10, weights=FedsWeights(align=0.2, distill=0.5))
    assert [feds.phase(s) for s in range(10)] == ["align"] * 2 + ["distill"] * 5 + ["finetune"] * 3
    student, teacher = tiny_model(0, TINY_STUDENT), tiny_model(1)
    x, q = torch.rand(2, 3, 64, 64), torch.tensor([1.0, 8.0])
    s_out, t_out = student(x, q, features=True), teacher(x, q, features=True)
    scale = torch.tensor([1.0, 2.0])
    assert set(feds.terms(1, s_out, t_out, scale)) == {"output", "feature"}
    assert set(feds.terms(2, s_out, t_out, scale)) == {"output", "feature", "latent"}
    assert feds.terms(7, s_out, t_out, scale) == {}
    assert feds(7, student, teacher, x, q)[1] is None and feds(6, student, teacher, x, q)[1] is not None
    terms = feds.terms(2, s_out, t_out, scale)
    assert torch.allclose(terms["output"], (scale * output_loss(s_out["x_hat"], t_out["x_hat"])).mean())
    assert torch.allclose(terms["feature"], 0.5 * feds.adapters(s_out, t_out).mean())
    latent = latent_loss(s_out["y_hat"], t_out["y_hat"], t_out["likelihoods"]["y"])
    assert torch.allclose(terms["latent"], 0.5 * latent.mean())


def test_derived_student_keeps_the_interfaces_and_is_smaller():
    student = derive_student(TINY)
    for field in ("N", "M", "hyper_channels", "slices", "max_support_slices", "lambdas"):
        assert getattr(student, field) == getattr(TINY, field)
    assert student.blocks_per_group <= TINY.blocks_per_group and student.slice_hidden == (8,)
    size = lambda config: sum(p.numel() for p in LicModel(config).parameters())  # noqa: E731
    assert size(student) < size(TINY)


def test_smodi_schedule_and_interface_check():
    smodi = SMoDi(derive_student(TINY), TINY, steps=100, modular=0.2)
    assert smodi.part_steps == 2
    assert [smodi.part(s) for s in (0, 1, 2)] == [SMODI_PARTS[0], SMODI_PARTS[0], SMODI_PARTS[1]]
    assert smodi.part(19) == SMODI_PARTS[-1] and smodi.part(20) is None
    with pytest.raises(ValueError, match="N, M"):
        SMoDi(TINY_STUDENT, TINY, steps=100)


def test_smodi_trains_only_the_swapped_in_part_inside_the_frozen_teacher():
    teacher = tiny_model(1, widen=False).requires_grad_(False)
    student = tiny_model(2, derive_student(TINY), widen=False).train()
    smodi = SMoDi(student.config, TINY, steps=100, modular=0.2)
    original = teacher.g_a.stages[1]
    out, _ = smodi(2, student, teacher, torch.rand(2, 3, 64, 64), torch.tensor([2.0, 6.0]))  # part 1: g_a.stages.1
    out["x_hat"].mean().backward()
    trained = {name for name, p in student.named_parameters() if p.grad is not None}
    assert trained and all(name.startswith("g_a.stages.1.") for name in trained)
    assert teacher.g_a.stages[1] is original and not teacher.training


@pytest.fixture
def tiny_setup(monkeypatch, tmp_path):
    monkeypatch.setitem(config.CONFIGS, "tiny-student", TINY_STUDENT)
    teacher = tmp_path / "teacher.safetensors"
    save_weights(tiny_model(1, widen=False), teacher, "tiny", {"test": True})
    return teacher


def _options(teacher, train_folder, out, strategy, steps, arch="tiny-student", **kw):
    return TrainOptions(arch=arch, data=train_folder, out=out, steps=steps, patch=64, batch=2, lr=1e-3,
                        strategy=strategy, teacher=teacher, **kw)


@pytest.mark.parametrize("strategy", ["feds", "smodi", "plain"])
def test_twenty_steps_lower_the_loss(tiny_setup, train_folder, tmp_path, strategy):
    derived = dict(arch=DERIVED_ARCH, derive_student=True) if strategy == "smodi" else {}
    train(_options(tiny_setup, train_folder, tmp_path / strategy, strategy, 20, **derived))
    records = [json.loads(line) for line in (tmp_path / strategy / "log.jsonl").read_text().splitlines()]
    rd = [r["loss"] - r.get("output", 0) - r.get("feature", 0) - r.get("latent", 0) for r in records]
    assert sum(rd[-5:]) < sum(rd[:5])
    if strategy == "feds":
        assert "latent" in records[5] and "latent" not in records[-1]


def test_a_log_window_across_a_phase_change_averages_each_term_where_it_ran(tiny_setup, train_folder, tmp_path):
    """FEDS's latent term begins at 20 % of the steps, inside a --log-every window: the record
    averages it over the steps that had it (a 1 600-step arm died there on a KeyError)."""
    train(_options(tiny_setup, train_folder, tmp_path / "run", "feds", 10, log_every=4))
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [4, 8, 10]
    assert "latent" in records[0] and "latent" in records[1] and "latent" not in records[2]  # fine-tuning: RD alone


def test_feds_resume_after_a_kill_reproduces_the_uninterrupted_run(tiny_setup, train_folder, tmp_path):
    train(_options(tiny_setup, train_folder, tmp_path / "full", "feds", 6))
    killed = _options(tiny_setup, train_folder, tmp_path / "killed", "feds", 6)
    train_until_killed(killed, kill_at_step=3)
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["step"] == 3
    train(dataclasses.replace(killed, resume=True))
    full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    for part in ("model", "strategy"):
        assert all(torch.equal(full[part][k], resumed[part][k]) for k in full[part])


@pytest.mark.parametrize("student", [["--arch", "tiny-student"], ["--derive-student", "--strategy", "smodi"]])
def test_distill_command_then_encode_with_the_new_student(tiny_setup, train_folder, tmp_path, tiny_weights, photo,
                                                          student):
    from click.testing import CliRunner

    from licodec.cli import main

    out = tmp_path / "run"
    args = ["distill", "--teacher", str(tiny_setup), *student, "--data", str(train_folder),
            "--out", str(out), "--steps", "3", "--patch", "64", "--batch", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    weights = out / "weights.safetensors"
    encoded = CliRunner().invoke(main, ["encode", str(photo), "-o", str(tmp_path / "a.lic"), "--model", str(weights)])
    assert encoded.exit_code == 0, encoded.output
    decoded = CliRunner().invoke(main, ["decode", str(tmp_path / "a.lic"), "-o", str(tmp_path / "a.png"),
                                        "--model", str(weights)])
    assert decoded.exit_code == 0, decoded.output


def test_a_feds_term_weighted_zero_is_left_out(tiny_setup, train_folder, tmp_path):
    """The ablations: --feds-weights 1,0.5,0 trains without the latent term, 0,0.5,0.5 without the output's."""
    from click.testing import CliRunner

    from licodec.cli import main

    common = ["distill", "--teacher", str(tiny_setup), "--arch", "tiny-student", "--data", str(train_folder),
              "--steps", "4", "--patch", "64", "--batch", "2"]
    for weights, absent in (("1,0.5,0", "latent"), ("0,0.5,0.5", "output")):
        out = tmp_path / weights
        result = CliRunner().invoke(main, [*common, "--out", str(out), "--feds-weights", weights])
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        assert all(absent not in r for r in records) and any("feature" in r for r in records)
    bad = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "bad"), "--feds-weights", "1,2"])
    assert bad.exit_code == 2 and "three weights" in bad.output


def test_training_errors_are_one_line(train_folder, tmp_path):
    from click.testing import CliRunner

    from licodec.cli import main

    common = ["--data", str(train_folder), "--out", str(tmp_path / "r"), "--steps", "1"]
    result = CliRunner().invoke(main, ["train", "--arch", "nope", *common])
    assert result.exit_code == 1 and "unknown architecture 'nope'" in result.output
    result = CliRunner().invoke(main, ["train", "--arch", "student", "--patch", "100", *common])
    assert result.exit_code == 1 and "multiple of 64" in result.output
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    result = CliRunner().invoke(main, ["train", "--arch", "student", "--init-ema", str(weights), *common])
    assert result.exit_code == 1 and "give its decay with --ema" in result.output


def test_a_derived_student_inherits_the_teachers_leading_weights():
    from licodec.training.distill import inherit_weights

    teacher = tiny_model(1)
    student = LicModel(dataclasses.replace(derive_student(TINY), slice_hidden=(5,)))
    inherited = inherit_weights(student, teacher)
    assert inherited == len(student.state_dict())  # every student tensor has a teacher counterpart
    kept = next(name for name in student.state_dict() if ".body.0." in name and name.endswith("weight"))
    assert torch.equal(student.state_dict()[kept], teacher.state_dict()[kept])
    pruned_out = student.latent_codec.cc_mean[0][0].weight
    assert torch.equal(pruned_out, teacher.latent_codec.cc_mean[0][0].weight[:5])
    pruned_in = student.latent_codec.cc_mean[0][2].weight
    assert torch.equal(pruned_in, teacher.latent_codec.cc_mean[0][2].weight[:, :5])
