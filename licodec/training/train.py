"""The training loop: variable-rate RD training, plain or distilled from a frozen teacher,
with resumable checkpoints and a JSONL log.

Checkpoints hold the model, both optimisers, the step and every RNG state, so a run killed at
any moment continues with `--resume` exactly as if it had not stopped.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from licodec.config import CodecConfig, get_config
from licodec.errors import LicodecError
from licodec.models import LicModel
from licodec.models.codec import PAD_MULTIPLE
from licodec.training.data import CropSampler
from licodec.training.distill import SMoDi, Feds, Plain, derive_student
from licodec.training.losses import rate_distortion
from licodec.weights import load_model, read_info, save_weights

STRATEGIES = ("plain", "feds", "smodi")


@dataclass
class TrainOptions:
    arch: str
    data: Path
    out: Path
    steps: int
    patch: int = 256
    batch: int = 8
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_drop: float = 0.85  # fraction of the steps after which the learning rate is divided by 10
    clip: float = 1.0
    seed: int = 0
    threads: int = 2
    checkpoint_minutes: float = 5.0
    channels_last: bool = True
    resume: bool = False
    strategy: str = "plain"  # plain | feds | smodi (see distill.py)
    teacher: Path | None = None  # weights of the frozen teacher, for distillation
    derive_student: bool = False  # student config pruned from the teacher's (KDIC), not `arch`


def _split_parameters(model: LicModel) -> tuple[list, list]:
    """The prior's quantiles learn only from the aux loss, with their own optimiser."""
    main, aux = [], []
    for name, param in model.named_parameters():
        (aux if name.endswith("quantiles") else main).append(param)
    return main, aux


def _learning_rate(opts: TrainOptions, step: int) -> float:
    return opts.lr * (0.1 if step >= opts.lr_drop * opts.steps else 1.0)


def student_config(opts: TrainOptions) -> CodecConfig:
    """The named architecture, or (--derive-student) one pruned from the teacher's config."""
    if not opts.derive_student:
        try:
            return get_config(opts.arch)
        except KeyError as e:
            raise LicodecError(str(e.args[0])) from None
    if opts.teacher is None:
        raise LicodecError("--derive-student needs --teacher")
    return derive_student(read_info(opts.teacher).config)


def _build_strategy(opts: TrainOptions, config: CodecConfig) -> tuple[nn.Module, LicModel | None]:
    """The strategy module and the frozen teacher it distills from (None for plain)."""
    if opts.strategy not in STRATEGIES:
        raise LicodecError(f"unknown strategy {opts.strategy!r} ({', '.join(STRATEGIES)})")
    if opts.strategy == "plain":
        return Plain(), None
    if opts.teacher is None:
        raise LicodecError(f"--strategy {opts.strategy} needs --teacher")
    teacher = load_model(read_info(opts.teacher)).requires_grad_(False)
    if opts.strategy == "feds":
        return Feds(config, teacher.config, opts.steps), teacher
    try:
        return SMoDi(config, teacher.config, opts.steps), teacher
    except ValueError as e:
        raise LicodecError(str(e)) from None


def _train_step(model: LicModel, strategy: nn.Module, teacher: LicModel | None, optimizer, aux_optimizer,
                sampler: CropSampler, opts: TrainOptions, step: int) -> dict:
    """One step on a batch with a random quality level per sample: RD (+ distillation), then aux."""
    config = model.config
    lr = _learning_rate(opts, step)
    for group in optimizer.param_groups:
        group["lr"] = lr
    x = sampler.batch(opts.batch)
    quality = torch.randint(1, config.levels + 1, (opts.batch,), generator=sampler.generator)
    if opts.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    lambdas = torch.tensor(config.lambdas)[quality - 1]
    out, teacher_out = strategy(step, model, teacher, x, quality.float())
    terms = rate_distortion(out, x, lambdas)
    extra = strategy.terms(step, out, teacher_out, lambdas * 255**2)
    terms["loss"] = terms["loss"] + sum(extra.values())
    terms.update(extra)
    optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], opts.clip)
    optimizer.step()
    aux_loss = model.latent_codec.prior.aux_loss()
    aux_optimizer.zero_grad(set_to_none=True)
    aux_loss.backward()
    aux_optimizer.step()
    record = {k: round(float(v.detach()), 5) for k, v in terms.items()}
    if not math.isfinite(record["loss"]):
        raise RuntimeError(f"loss is {record['loss']} at step {step + 1}")
    return {**record, "step": step + 1, "aux": round(float(aux_loss.detach()), 3), "lr": lr}


def _save_checkpoint(path: Path, model, strategy, optimizer, aux_optimizer, sampler: CropSampler, step: int,
                     seconds: float) -> None:
    state = {
        "model": model.state_dict(), "strategy": strategy.state_dict(), "optimizer": optimizer.state_dict(),
        "aux_optimizer": aux_optimizer.state_dict(), "step": step, "seconds": seconds,
        "torch_rng": torch.get_rng_state(), "sampler_rng": sampler.generator.get_state(),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill during the save leaves the previous checkpoint intact


def train(opts: TrainOptions) -> Path:
    """Train; returns the exported weights file (out/weights.safetensors)."""
    if opts.patch % PAD_MULTIPLE:
        raise LicodecError(f"--patch must be a multiple of {PAD_MULTIPLE} (the model's total stride)")
    torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    opts.out.mkdir(parents=True, exist_ok=True)
    config = student_config(opts)
    model = LicModel(config).train()
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    strategy, teacher = _build_strategy(opts, config)
    main_params, aux_params = _split_parameters(model)
    optimizer = torch.optim.Adam(main_params + list(strategy.parameters()), lr=opts.lr)
    aux_optimizer = torch.optim.Adam(aux_params, lr=opts.aux_lr)
    sampler = CropSampler(opts.data, opts.patch, seed=opts.seed)
    checkpoint, start, seconds_before = opts.out / "checkpoint.pt", 0, 0.0
    if opts.resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        strategy.load_state_dict(state.get("strategy", {}))  # checkpoints of plain runs may lack it
        optimizer.load_state_dict(state["optimizer"])
        aux_optimizer.load_state_dict(state["aux_optimizer"])
        torch.set_rng_state(state["torch_rng"])
        sampler.generator.set_state(state["sampler_rng"])
        start, seconds_before = state["step"], state.get("seconds", 0.0)
        _truncate_log(opts.out / "log.jsonl", start)
    weights = opts.out / "weights.safetensors"
    provenance = {k: str(v) for k, v in asdict(opts).items() if k not in ("resume", "out")}
    last_save = time.monotonic()
    began = last_save - seconds_before  # "seconds" in the log counts training time across resumes
    with open(opts.out / "log.jsonl", "a") as log:
        bar = tqdm(range(start, opts.steps), initial=start, total=opts.steps, disable=not sys.stderr.isatty())
        for step in bar:
            record = _train_step(model, strategy, teacher, optimizer, aux_optimizer, sampler, opts, step)
            record["seconds"] = round(time.monotonic() - began, 1)
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.set_postfix(loss=record["loss"], bpp=record["bpp"], psnr=record["psnr"])
            if step + 1 == opts.steps or time.monotonic() - last_save > 60 * opts.checkpoint_minutes:
                _save_checkpoint(checkpoint, model, strategy, optimizer, aux_optimizer, sampler, step + 1,
                                 time.monotonic() - began)
                save_weights(model, weights, opts.arch, {**provenance, "step": step + 1})
                last_save = time.monotonic()
    return weights


def _truncate_log(path: Path, step: int) -> None:
    """Drop records a killed run wrote after its last checkpoint: the resumed run redoes them."""
    if path.exists():
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in kept))
