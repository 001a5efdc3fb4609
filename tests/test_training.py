"""The training loop: it learns, logs, exports loadable weights, and resumes exactly."""
import dataclasses
import json

import pytest
import torch
from PIL import Image

from licodec import config
from licodec.training.losses import bits_per_pixel, rate_distortion
from licodec.training.options import TrainOptions
from licodec.training.train import train
from licodec.weights import load_model, read_info

from conftest import TINY, train_until_killed


@pytest.fixture
def tiny_arch(monkeypatch):
    monkeypatch.setitem(config.CONFIGS, "tiny", TINY)
    return "tiny"


def _options(arch, data, out, steps, **kw):
    return TrainOptions(arch=arch, data=data, out=out, steps=steps, patch=64, batch=2, **{"lr": 1e-3, **kw})


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


def test_level_weights_make_every_level_weigh_alike():
    from licodec.training.losses import level_weights

    table = torch.tensor(config.MSE_LAMBDAS)
    weights = level_weights(table, table)
    assert torch.isclose(weights.mean(), torch.tensor(1.0))
    assert torch.isclose(weights[0] / weights[-1], (table[-1] / table[0]).sqrt())  # q1 ×10 over q8
    x = torch.zeros(2, 3, 4, 4)
    out = {"x_hat": x + 0.1, "likelihoods": {"y": torch.full((2, 1, 2, 2), 0.5)}}
    lambdas = torch.tensor([0.01, 0.04])
    plain = rate_distortion(out, x, lambdas)
    weighted = rate_distortion(out, x, lambdas, sample_weights=torch.tensor([2.0, 0.5]))
    per_sample = lambdas * 255**2 * 0.01 + 0.25
    assert torch.isclose(plain["loss"], per_sample.mean())
    assert torch.isclose(weighted["loss"], (per_sample * torch.tensor([2.0, 0.5])).mean())


def test_holdout_images_are_spread_over_the_folder_and_never_trained_on(tmp_path):
    from licodec.errors import LicodecError
    from licodec.training.data import split_holdout

    for i in range(10):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
    train_paths, held = split_holdout(tmp_path, 3)
    assert [p.stem for p in held] == ["0", "3", "6"]
    assert set(train_paths).isdisjoint(held) and len(train_paths) == 7
    assert split_holdout(tmp_path, 0)[1] == []
    with pytest.raises(LicodecError):
        split_holdout(tmp_path, 10)


def test_holdout_validation_covers_every_level(tiny_arch, train_folder, tmp_path):
    train(_options(tiny_arch, train_folder, tmp_path / "run", 2, holdout=1, val_every=2))
    record = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert set(record["val"]) == {f"q{q}" for q in range(1, 9)}


def test_init_starts_from_the_given_weights(tiny_arch, train_folder, tmp_path):
    first = train(_options(tiny_arch, train_folder, tmp_path / "first", 2))
    frozen = dict(lr=0.0, gain_lr=0.0, aux_lr=0.0)  # a step that changes nothing
    again = train(_options(tiny_arch, train_folder, tmp_path / "again", 1, init=first, **frozen))
    fresh = train(_options(tiny_arch, train_folder, tmp_path / "fresh", 1, **frozen))
    start = load_model(read_info(first)).state_dict()

    def same_as_start(weights):  # torch.equal: the zero step may turn −0.0 into 0.0
        state = load_model(read_info(weights)).state_dict()
        return all(torch.equal(state[k], start[k]) for k in start)

    assert same_as_start(again) and not same_as_start(fresh)


def test_init_refuses_weights_of_another_architecture(tiny_arch, train_folder, tmp_path, monkeypatch):
    from licodec.errors import LicodecError

    first = train(_options(tiny_arch, train_folder, tmp_path / "first", 1))
    monkeypatch.setitem(config.CONFIGS, "wider", dataclasses.replace(TINY, N=24))
    with pytest.raises(LicodecError, match="architecture differs"):
        train(_options("wider", train_folder, tmp_path / "other", 1, init=first))


def test_gain_units_learn_at_their_own_rate(tiny_arch, train_folder, tmp_path):
    first = train(_options(tiny_arch, train_folder, tmp_path / "first", 1, lr=0.0, aux_lr=0.0))
    before = load_model(read_info(first)).state_dict()
    after_run = train(_options(tiny_arch, train_folder, tmp_path / "second", 1, init=first, aux_lr=0.0,
                               lr=0.0, gain_lr=1e-2))
    after = load_model(read_info(after_run)).state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("_gain." in k for k in changed)
    step = (after["latent_codec.y_gain.log_gain"] - before["latent_codec.y_gain.log_gain"]).abs().max()
    assert 0.5e-2 < step <= 1.01e-2  # Adam's first step moves each entry by about its learning rate


def test_a_time_budget_stops_with_a_checkpoint_and_weights(tiny_arch, train_folder, tmp_path):
    weights = train(_options(tiny_arch, train_folder, tmp_path / "run", 1000, minutes=0.0))
    assert json.loads(read_info(weights).metadata["provenance"])["step"] == 1
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 1


def test_log_every_writes_the_mean_of_its_steps(tiny_arch, train_folder, tmp_path):
    train(_options(tiny_arch, train_folder, tmp_path / "each", 4))
    train(_options(tiny_arch, train_folder, tmp_path / "pairs", 4, log_every=2))
    each = [json.loads(line) for line in (tmp_path / "each" / "log.jsonl").read_text().splitlines()]
    pairs = [json.loads(line) for line in (tmp_path / "pairs" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in pairs] == [2, 4]
    assert pairs[1]["loss"] == pytest.approx((each[2]["loss"] + each[3]["loss"]) / 2, abs=1e-4)


def test_learning_curves_join_legs_into_campaign_steps_and_hours(tmp_path):
    from licodec.training.curves import table, validations

    val = {"q1": {"bpp": 0.2, "psnr": 25.0}, "q8": {"bpp": 1.0, "psnr": 30.0}}
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps({"step": 10, "seconds": 1800.0, "batch": 4}) + "\n"
                     + json.dumps({"step": 20, "seconds": 3600.0, "batch": 4, "val": val}) + "\n")
    # the second leg trains on batches of 16 and logs step 5 twice (a resume)
    second.write_text(json.dumps({"step": 5, "seconds": 300.0, "batch": 16}) + "\n"
                      + json.dumps({"step": 5, "seconds": 360.0, "batch": 16, "val": val}) + "\n")
    rows = validations([first, second], start_step=100)
    assert [(r["total_step"], r["total_seconds"], r["total_samples"]) for r in rows] == [
        (120, 3600.0, 80), (125, 3960.0, 160)]
    assert "| b.jsonl | 5 | 125 | 0.2 | 1.10 | 0.200 / 25.00 | 1.000 / 30.00 |" in table(rows)


def test_learning_curves_show_the_moving_average_beside_the_raw_weights(tmp_path):
    from licodec.training.curves import table, validations

    raw = {"q1": {"bpp": 0.2, "psnr": 25.0}, "q8": {"bpp": 1.0, "psnr": 30.0}}
    average = {"q1": {"bpp": 0.2, "psnr": 25.5}, "q8": {"bpp": 1.0, "psnr": 30.5}}
    log = tmp_path / "leg.jsonl"
    log.write_text(json.dumps({"step": 10, "seconds": 60.0, "batch": 8, "val": raw, "val_ema": average}) + "\n")
    rows = validations([log])
    assert [(r["leg"], r.get("averaged", False), r["total_step"]) for r in rows] == [
        ("leg.jsonl", False, 10), ("leg.jsonl (average)", True, 10)]
    assert "| leg.jsonl (average) | 10 | 10 | 0.1 | 0.02 | 0.200 / 25.50 | 1.000 / 30.50 |" in table(rows)


def test_learning_curves_give_bd_rates_against_a_reference_validation(tmp_path):
    from licodec.training.curves import table, validations

    levels = [(0.2, 25.0), (0.4, 27.5), (0.8, 30.0), (1.6, 32.5)]
    shipped = {f"q{i}": {"bpp": b, "psnr": p} for i, (b, p) in enumerate(levels, 1)}
    cheaper = {f"q{i}": {"bpp": 0.9 * b, "psnr": p} for i, (b, p) in enumerate(levels, 1)}
    log = tmp_path / "leg.jsonl"
    log.write_text(json.dumps({"step": 10, "seconds": 60.0, "val": shipped}) + "\n"
                   + json.dumps({"step": 20, "seconds": 120.0, "val": cheaper}) + "\n")
    rows = validations([log])
    lines = table(rows, reference=rows[0]).splitlines()
    assert lines[0].endswith("BD-rate vs step 10 |")
    assert lines[2].endswith("| +0.00 % |") and lines[3].endswith("| -10.00 % |")


def test_learning_curves_compare_against_another_runs_validation(tmp_path):
    from licodec.training.curves import reference_validation, table, validations

    levels = [(0.2, 25.0), (0.4, 27.5), (0.8, 30.0), (1.6, 32.5)]
    student = {f"q{i}": {"bpp": b, "psnr": p} for i, (b, p) in enumerate(levels, 1)}
    teacher = {f"q{i}": {"bpp": 0.8 * b, "psnr": p} for i, (b, p) in enumerate(levels, 1)}
    student_log, teacher_log = tmp_path / "student.jsonl", tmp_path / "teacher.jsonl"
    student_log.write_text(json.dumps({"step": 7, "seconds": 60.0, "val": student}) + "\n")
    teacher_log.write_text(json.dumps({"step": 7, "seconds": 60.0, "val": teacher}) + "\n")
    rows = validations([teacher_log], start_step=100)
    reference = reference_validation(rows, 7, student_log)
    assert table(rows, reference).splitlines()[2].endswith("| -20.00 % |")
    with pytest.raises(SystemExit, match="no validation at step 8"):
        reference_validation(rows, 8, student_log)


def test_learning_curves_can_compare_against_the_moving_averages_validation(tmp_path):
    from licodec.training.curves import reference_validation, table, validations

    levels = [(0.2, 25.0), (0.4, 27.5), (0.8, 30.0), (1.6, 32.5)]
    raw = {f"q{i}": {"bpp": b, "psnr": p} for i, (b, p) in enumerate(levels, 1)}
    average = {f"q{i}": {"bpp": 0.9 * b, "psnr": p} for i, (b, p) in enumerate(levels, 1)}
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"step": 5, "seconds": 1.0, "val": raw, "val_ema": average}) + "\n")
    rows = validations([log])
    assert reference_validation(rows, 5)["val"] == raw
    reference = reference_validation(rows, 5, averaged=True)
    assert reference["val"] == average
    assert table(rows, reference).splitlines()[2].endswith("| +11.11 % |")  # the raw weights' row
    with pytest.raises(SystemExit, match="no moving-average validation at step 5"):
        reference_validation(rows[:1], 5, averaged=True)


def test_the_rd_panel_draws_a_spread_of_validations_with_the_first_and_last():
    from licodec.training.curves import rows_to_draw

    rows = [{"total_step": step} for step in range(30)]
    drawn = [r["total_step"] for r in rows_to_draw(rows, 4)]
    assert drawn == [0, 10, 19, 29]
    assert rows_to_draw(rows[:3], 4) == rows[:3]


def test_a_resumed_run_takes_the_learning_rates_given_now(tiny_arch, train_folder, tmp_path):
    options = _options(tiny_arch, train_folder, tmp_path / "run", 2)
    train(options)
    before = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    train(dataclasses.replace(options, steps=3, resume=True, lr=0.0, gain_lr=0.0, aux_lr=0.0))
    after = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_checkpoint_leaves_no_step_unlogged(tiny_arch, train_folder, tmp_path):
    killed = _options(tiny_arch, train_folder, tmp_path / "killed", 4, log_every=3)
    train_until_killed(killed, kill_at_step=2)  # a checkpoint after every step
    train(dataclasses.replace(killed, resume=True))
    logged = [json.loads(line)["step"] for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 4]  # steps 1 and 2 before their checkpoints; 3 and 4 averaged at the end


def test_bfloat16_training_runs_only_the_transforms_in_bfloat16(tiny_arch):
    from licodec.models import LicModel

    model = LicModel(TINY).train()
    model.training_bfloat16 = True
    seen = {}

    def record(name):
        def hook(module, inputs, output) -> None:
            seen.setdefault(name, output.dtype)
        return hook

    model.g_a.stages[1].register_forward_hook(record("g_a"))
    model.latent_codec.h_a.register_forward_hook(record("h_a"))
    out = model(torch.rand(2, 3, 64, 64), torch.tensor([1, 8]))
    assert seen == {"g_a": torch.bfloat16, "h_a": torch.float32}  # the entropy model stays float32
    assert all(t.dtype == torch.float32 for t in (out["y"], out["x_hat"], *out["likelihoods"].values()))
    seen.clear()
    model.eval()(torch.rand(1, 3, 64, 64), torch.tensor([4]))  # validation measures in float32
    assert seen["g_a"] == torch.float32
    seen.clear()
    model.frozen_bfloat16 = True  # a distillation teacher's no-grad forward, in the student's precision
    model(torch.rand(1, 3, 64, 64), torch.tensor([4]))
    assert seen == {"g_a": torch.bfloat16, "h_a": torch.float32}


def test_a_training_precision_is_chosen_or_refused():
    from licodec.errors import LicodecError
    from licodec.precision import training_precision

    assert training_precision("float32", "cpu") == "float32"
    assert training_precision("bfloat16", "cuda") == "bfloat16"
    assert training_precision("auto", "cpu") in ("float32", "bfloat16")
    with pytest.raises(LicodecError, match="unknown precision"):
        training_precision("float16", "cpu")


def test_bfloat16_training_learns_and_logs_its_precision(tiny_arch, train_folder, tmp_path):
    weights = train(_options(tiny_arch, train_folder, tmp_path / "run", 20, precision="bfloat16"))
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert sum(losses[-5:]) < sum(losses[:5])
    assert json.loads(read_info(weights).metadata["provenance"])["precision"] == "bfloat16"
    auto = train(_options(tiny_arch, train_folder, tmp_path / "auto", 1))
    assert json.loads(read_info(auto).metadata["provenance"])["precision"] in ("float32", "bfloat16")


def test_a_moving_average_is_validated_exported_and_resumed_exactly(tiny_arch, train_folder, tmp_path):
    full = _options(tiny_arch, train_folder, tmp_path / "full", 4, ema=0.5, holdout=1, val_every=2)
    train(full)
    record = json.loads((tmp_path / "full" / "log.jsonl").read_text().splitlines()[-1])
    assert set(record["val_ema"]) == set(record["val"]) and record["val_ema"] != record["val"]
    raw = load_model(read_info(tmp_path / "full" / "weights.safetensors")).state_dict()
    average = load_model(read_info(tmp_path / "full" / "weights-ema.safetensors")).state_dict()
    assert any(not torch.equal(raw[k], average[k]) for k in raw)
    killed = dataclasses.replace(full, out=tmp_path / "killed")
    train_until_killed(killed, kill_at_step=2)
    train(dataclasses.replace(killed, resume=True))
    resumed = load_model(read_info(tmp_path / "killed" / "weights-ema.safetensors")).state_dict()
    assert all(torch.equal(average[k], resumed[k]) for k in average)


def test_init_ema_carries_a_previous_legs_average_on(tiny_arch, train_folder, tmp_path):
    """A leg begun with --init and --init-ema: after one step the average is decay × the given
    average + (1 − decay) × the new weights, not a copy of the weights."""
    first = _options(tiny_arch, train_folder, tmp_path / "first", 2, ema=0.5)
    train(first)
    previous = load_model(read_info(tmp_path / "first" / "weights-ema.safetensors")).state_dict()
    train(_options(tiny_arch, train_folder, tmp_path / "next", 1, ema=0.25, seed=1,
                   init=tmp_path / "first" / "weights.safetensors",
                   init_ema=tmp_path / "first" / "weights-ema.safetensors"))
    raw = load_model(read_info(tmp_path / "next" / "weights.safetensors")).state_dict()
    average = load_model(read_info(tmp_path / "next" / "weights-ema.safetensors")).state_dict()
    moved = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], previous[k])]
    assert moved
    for k in moved:
        assert torch.allclose(average[k], 0.25 * previous[k] + 0.75 * raw[k], atol=1e-6)


def test_init_ema_needs_a_decay_and_a_new_run(tiny_arch, train_folder, tmp_path):
    from licodec.errors import LicodecError

    weights = tmp_path / "w.safetensors"
    with pytest.raises(LicodecError, match="--init-ema starts the moving average"):
        train(_options(tiny_arch, train_folder, tmp_path / "a", 1, init_ema=weights))
    with pytest.raises(LicodecError, match="--resume takes the checkpoint's"):
        train(_options(tiny_arch, train_folder, tmp_path / "b", 1, ema=0.5, init_ema=weights, resume=True))


def test_a_moving_average_needs_a_decay_below_one(tiny_arch, train_folder, tmp_path):
    from licodec.errors import LicodecError

    with pytest.raises(LicodecError, match="--ema 1.0"):
        train(_options(tiny_arch, train_folder, tmp_path / "run", 1, ema=1.0))


def test_extra_folders_train_and_the_holdout_comes_from_the_first(tmp_path):
    from licodec.training.train import training_images

    first, extra = tmp_path / "first", tmp_path / "extra"
    for folder, count in ((first, 4), (extra, 3)):
        folder.mkdir()
        for i in range(count):
            Image.new("RGB", (8, 8)).save(folder / f"{i}.png")
    options = _options("student", first, tmp_path / "run", 1, holdout=2, extra_data=(extra,))
    images = training_images(options)
    assert [p.parent.name for p in images] == ["first"] * 2 + ["extra"] * 3
    assert [p.stem for p in images if p.parent == first] == ["1", "3"]


def test_batch_noise_comes_from_one_device_generator_and_resumes_exactly(tiny_arch, train_folder, tmp_path):
    from licodec.models.charm import batch_noise, uniform_noise_like

    with batch_noise(torch.Generator().manual_seed(5)):
        first = uniform_noise_like(torch.zeros(3, 2, 4, 4))
    again = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(5)) - 0.5
    assert torch.equal(first, again) and first.abs().max() <= 0.5
    full = _options(tiny_arch, train_folder, tmp_path / "full", 4, noise="batch")
    train(full)
    killed = dataclasses.replace(full, out=tmp_path / "killed")
    train_until_killed(killed, kill_at_step=2)
    train(dataclasses.replace(killed, resume=True))
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_options_that_cannot_work_are_refused(tiny_arch, train_folder, tmp_path):
    from licodec.errors import LicodecError
    from licodec.training.options import check_options

    with pytest.raises(LicodecError, match="--noise batch is for one process"):
        check_options(_options(tiny_arch, train_folder, tmp_path, 1, noise="batch"), world_size=2)
    with pytest.raises(LicodecError, match="unknown compile mode"):
        check_options(_options(tiny_arch, train_folder, tmp_path, 1, compile_mode="fast"), world_size=1)


def test_a_non_finite_loss_stops_the_run_when_it_is_logged(tiny_arch, train_folder, tmp_path, monkeypatch):
    from licodec.training import train as loop

    real = loop.rate_distortion

    def broken(*args, **kwargs):
        terms = real(*args, **kwargs)
        return {**terms, "loss": terms["loss"] * float("nan")}

    monkeypatch.setattr(loop, "rate_distortion", broken)
    with pytest.raises(RuntimeError, match="loss is nan at step 1"):
        train(_options(tiny_arch, train_folder, tmp_path / "run", 4, log_every=2))
    assert not (tmp_path / "run" / "log.jsonl").read_text()  # read back at the first log, not per step


def test_a_compacted_checkpoint_resumes_the_leg(tiny_arch, train_folder, tmp_path):
    """scripts/compact_checkpoint.py: half the bytes, and `--resume` continues from its step."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compact", config.__file__.replace(
        "licodec/config.py", "scripts/compact_checkpoint.py"))
    compact = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compact)
    first = _options(tiny_arch, train_folder, tmp_path / "leg", 2, ema=0.9)
    train(first)
    checkpoint = tmp_path / "leg" / "checkpoint.pt"
    state = compact.compact(torch.load(checkpoint, weights_only=True))
    assert "ema" not in state
    assert all(m["exp_avg_sq"].dtype == torch.bfloat16 for m in state["optimizer"]["state"].values())
    size = checkpoint.stat().st_size
    torch.save(state, checkpoint)
    assert checkpoint.stat().st_size < 0.7 * size
    train(dataclasses.replace(first, steps=4, resume=True))
    steps = [json.loads(line)["step"] for line in (tmp_path / "leg" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    resumed = torch.load(checkpoint, weights_only=True)
    assert resumed["step"] == 4 and all(m["exp_avg_sq"].dtype == torch.float32
                                        for m in resumed["optimizer"]["state"].values())


def test_the_anneal_is_bound_to_a_step_or_to_the_legs_clock(tiny_arch, train_folder, tmp_path):
    """A leg that stops at --minutes, long before 85 % of --steps, still anneals: at --anneal-at,
    or in the last --anneal-minutes of its budget."""
    from licodec.errors import LicodecError
    from licodec.training.options import check_options
    from licodec.training.train import _learning_rate_factor

    at = _options(tiny_arch, train_folder, tmp_path, 120000, anneal_at=3000)
    assert [_learning_rate_factor(at, s) for s in (0, 2999, 3000, 100000)] == [1.0, 1.0, 0.1, 0.1]
    default = _options(tiny_arch, train_folder, tmp_path, 1000)
    assert [_learning_rate_factor(default, s) for s in (849, 850)] == [1.0, 0.1]
    assert _learning_rate_factor(default, 0, clock_annealing=True) == 0.1
    # A budget of 10 minutes whose last 9.9999 anneal: only the first step runs before the anneal.
    clocked = _options(tiny_arch, train_folder, tmp_path / "run", 3, minutes=10, anneal_minutes=9.9999)
    train(clocked)
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4)
    for bad in (dict(anneal_minutes=5), dict(minutes=5, anneal_minutes=5), dict(anneal_at=-1)):
        with pytest.raises(LicodecError, match="anneal"):
            check_options(_options(tiny_arch, train_folder, tmp_path, 10, **bad), 1)
