"""Pruning a trained model into a narrower student (licodec.training.prune): every space is cut
to the same channels in every tensor, and the channels kept are those that carry the signal."""
import dataclasses
import json

import pytest
import torch

from licodec import config
from licodec.config import CodecConfig, get_config
from licodec.models import LicModel
from licodec.training.prune import (Segment, _conv_spaces, _indices, check_prunable, downstream_energy, layout, prune,
                                   prune_with_channels, space_widths)
from licodec.weights import save_weights

WIDE = CodecConfig(N=16, M=24, hyper_channels=16, slices=3, max_support_slices=-1, slice_hidden=(16, 12))
NARROW = CodecConfig(N=8, M=12, hyper_channels=8, slices=3, max_support_slices=-1, slice_hidden=(8, 12))


def _crops(seed: int = 0) -> torch.Tensor:
    return torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _embedded(student: LicModel, teacher_config: CodecConfig, seed: int = 1) -> tuple[LicModel, dict]:
    """A wide teacher that computes the student's function: the student's weights at random
    channels of each space, every other channel's weights zero (so those channels stay zero)."""
    g = torch.Generator().manual_seed(seed)
    narrow, wide = space_widths(student.config), space_widths(teacher_config)
    keep = {space: torch.randperm(wide[space], generator=g)[: narrow[space]].sort().values for space in wide}
    teacher = LicModel(teacher_config)
    dims_of, state = layout(teacher_config), teacher.state_dict()
    for name, small in student.state_dict().items():
        dims = dims_of.get(name)
        if dims is None:
            state[name] = small.clone()
            continue
        big = torch.zeros_like(state[name]) if not name.endswith(".beta") else torch.ones_like(state[name])
        index = [torch.arange(n) if d is None else _indices(d, keep, wide) for n, d in
                 zip(big.shape, dims + (None,) * (big.dim() - len(dims)))]
        grid = torch.meshgrid(*index, indexing="ij")
        big[grid] = small
        state[name] = big
    teacher.load_state_dict(state)
    return teacher.eval(), keep


def test_pruning_to_the_same_config_keeps_every_tensor():
    torch.manual_seed(0)
    teacher = LicModel(WIDE).eval()
    pruned = prune(teacher, WIDE, _crops())
    assert all(torch.equal(pruned[name], tensor) for name, tensor in teacher.state_dict().items())


def test_a_student_embedded_in_a_wider_teacher_is_recovered():
    """The layout's index arithmetic (pixel-shuffle groups, the slice transforms' concatenated
    inputs, per-slice y channels) is right only if the embedded teacher computes the student's
    function; downstream energy is right only if pruning finds the channels that carry it."""
    torch.manual_seed(0)
    student = LicModel(NARROW).eval()
    with torch.no_grad():
        student.g_a.stages[-1].weight.mul_(30)  # real multi-bin latents, not y ≈ 0
    teacher, keep = _embedded(student, WIDE)
    x, quality = _crops(), torch.tensor([1.0, 3.0, 5.0, 8.0])
    with torch.no_grad():
        expected = student(x, quality)["x_hat"]
        assert torch.allclose(teacher(x, quality)["x_hat"], expected, atol=1e-5)
        pruned = LicModel(NARROW).eval()
        pruned.load_state_dict(prune(teacher, NARROW, x))
        assert torch.allclose(pruned(x, quality)["x_hat"], expected, atol=1e-5)
    # The transforms' channels all carry signal, so they are the student's own, in order. (A z
    # channel that rounds to 0 on every crop carries none: any zero channel serves it alike.)
    for name, tensor in student.state_dict().items():
        if name.startswith(("g_a.", "g_s.")):
            assert torch.equal(pruned.state_dict()[name], tensor), name
    # FEDS's latent term pairs each student y channel with the teacher channel it came from.
    embedded_y = _indices(tuple(Segment(f"y:{i}") for i in range(WIDE.slices)), keep, space_widths(WIDE))
    assert torch.equal(prune_with_channels(teacher, NARROW, x).y_channels, embedded_y)


def test_downstream_energy_ranks_a_silenced_channel_last():
    torch.manual_seed(0)
    model = LicModel(WIDE).eval()
    with torch.no_grad():
        for name, (_, source) in _conv_spaces(WIDE).items():  # every reader of g_a stage 0's stream
            if source == (Segment("g_a:0"),):
                model.get_submodule(name).weight[:, 5] = 0
    energy = downstream_energy(model, _crops())["g_a:0"]
    assert energy[5] == 0 and (energy[torch.arange(16) != 5] > 0).all()


def test_fast_is_prunable_from_the_student_and_narrower():
    student, fast = get_config("student"), get_config("fast")
    check_prunable(student, fast)
    assert fast.N % 16 == 0 and fast.M % 16 == 0 and fast.slices == student.slices


@pytest.mark.parametrize("change", [dict(blocks_per_group=2), dict(slices=4), dict(N=32)])
def test_pruning_refuses_a_deeper_or_wider_student(change):
    with pytest.raises(ValueError):
        check_prunable(NARROW, dataclasses.replace(NARROW, **change))


def test_distill_derive_student_with_an_arch_starts_from_the_pruned_teacher(monkeypatch, train_folder, tmp_path):
    from click.testing import CliRunner

    from licodec.cli import main

    monkeypatch.setitem(config.CONFIGS, "narrow", NARROW)
    monkeypatch.setitem(config.CONFIGS, "wider", dataclasses.replace(WIDE, N=32))
    torch.manual_seed(0)
    teacher_file = tmp_path / "teacher.safetensors"
    save_weights(LicModel(WIDE), teacher_file, "wide", {"test": True})
    common = ["distill", "--teacher", str(teacher_file), "--derive-student", "--data", str(train_folder),
              "--patch", "64", "--batch", "2", "--lr", "0", "--gain-lr", "0", "--steps", "1"]
    result = CliRunner().invoke(main, [*common, "--arch", "narrow", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    from licodec.weights import load_model, read_info

    trained = load_model(read_info(tmp_path / "run" / "weights.safetensors")).state_dict()
    random_start = LicModel(NARROW).state_dict()
    conv = "g_a.stages.0.0.weight"  # lr 0: the step leaves the start as it was
    assert trained[conv].shape == random_start[conv].shape
    wide = load_model(read_info(teacher_file)).state_dict()[conv]
    assert any(torch.equal(trained[conv][0], wide[c]) for c in range(wide.shape[0]))
    wider = CliRunner().invoke(main, [*common, "--arch", "wider", "--out", str(tmp_path / "bad")])
    assert wider.exit_code == 1 and "only narrows" in wider.output and "Traceback" not in wider.output


def test_the_log_keeps_cpu_seconds_across_a_resume(monkeypatch, train_folder, tmp_path):
    from licodec.training.options import TrainOptions
    from licodec.training.train import train

    monkeypatch.setitem(config.CONFIGS, "narrow", NARROW)
    options = TrainOptions(arch="narrow", data=train_folder, out=tmp_path / "run", steps=2, patch=64, batch=1,
                           threads=1)
    train(options)
    train(dataclasses.replace(options, steps=4, resume=True))
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    cpu = [r["cpu_seconds"] for r in records]
    assert [r["step"] for r in records] == [1, 2, 3, 4] and cpu == sorted(cpu) and cpu[-1] > 0


def test_feds_pairs_a_pruned_students_y_channels_with_their_own(monkeypatch, train_folder, tmp_path):
    from licodec.training import distributed
    from licodec.training.options import TrainOptions
    from licodec.training.train import prepare

    monkeypatch.setitem(config.CONFIGS, "narrow", NARROW)
    torch.manual_seed(0)
    teacher_file = tmp_path / "teacher.safetensors"
    save_weights(LicModel(WIDE), teacher_file, "wide", {"test": True})
    options = TrainOptions(arch="narrow", data=train_folder, out=tmp_path / "run", steps=1, patch=64, batch=2,
                           strategy="feds", teacher=teacher_file, derive_student=True, threads=1)
    processes = distributed.start("cpu")
    try:
        channels = prepare(processes, options).trainee.strategy.latent_channels
    finally:
        distributed.stop(processes)
    assert channels is not None and len(channels) == NARROW.M and channels.unique().numel() == NARROW.M
    per_slice = WIDE.slice_channels  # student slice i's channels all come from the teacher's slice i
    assert [int(c) // per_slice for c in channels] == [i for i in range(3) for _ in range(NARROW.slice_channels)]
