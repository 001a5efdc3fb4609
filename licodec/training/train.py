"""The training loop: variable-rate RD training, plain or distilled from a frozen teacher, on
one process or several under `torchrun` (DistributedDataParallel), with resumable checkpoints,
validation and a JSONL log.

Checkpoints hold the model, both optimisers, the step and every RNG state, so a run killed at
any moment continues with `--resume` exactly as if it had not stopped, with any number of
processes: the data stream and the training noise depend only on the seed, the step and a
sample's place in the global batch, never on which process draws it.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from licodec.config import MSE_LAMBDAS, MSSSIM_LAMBDAS, CodecConfig, get_config
from licodec.errors import LicodecError
from licodec.models import LicModel
from licodec.models.charm import batch_noise, per_sample_noise
from licodec.precision import training_precision
from licodec.training import distributed
from licodec.training.compressai_teacher import CompressAITeacher, is_compressai_spec, load_compressai_teacher
from licodec.images import list_images
from licodec.training.data import CropSampler, split_holdout
from licodec.training.distill import SMoDi, Feds, FedsWeights, Plain, derive_student, inherit_weights
from licodec.training.losses import level_weights, rate_distortion
from licodec.training.options import TrainOptions, check_options
from licodec.training.prune import Pruned, prune_with_channels
from licodec.training.run_state import finished, load_checkpoint, mean_record, save_checkpoint, truncate_log
from licodec.training.validate import ALL_LEVELS, VAL_QUALITIES, load_images, validate
from licodec.weights import load_model, read_info, save_weights

EMA_WEIGHTS = "weights-ema.safetensors"  # --ema's export, beside weights.safetensors


class Trainee(nn.Module):
    """What trains: the student and the strategy's own parameters (FEDS's adapters), as one
    module so that DistributedDataParallel averages the gradients of both. The frozen teacher
    is passed in, not held: every process has its own copy, outside DDP, never synchronised."""

    def __init__(self, model: LicModel, strategy: nn.Module, metric: str, level_weighting: str = "none") -> None:
        super().__init__()
        self.model, self.strategy, self.metric = model, strategy, metric
        self.level_weighting = level_weighting

    def forward(self, step: int, teacher: LicModel | None, x: Tensor, quality: Tensor) -> dict[str, Tensor]:
        table, mse_table = self._tables(x.device)
        lambdas = table[quality - 1]
        weights = level_weights(lambdas, table) if self.level_weighting == "sqrt" else None
        out, teacher_out = self.strategy(step, self.model, teacher, x, quality.float())
        terms = rate_distortion(out, x, lambdas, self.metric, weights)
        # L_output is an image MSE: weighted like the MSE distortion at the sample's level.
        mse_weight = mse_table[quality - 1] * 255**2
        extra = self.strategy.terms(step, out, teacher_out, mse_weight)
        terms["loss"] = terms["loss"] + sum(extra.values())
        return {**terms, **extra}

    def _tables(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """The λ tables on `device`, made once: a tensor from a list per step is a copy that waits."""
        if getattr(self, "_table_cache", (None,))[0] != device:
            self._table_cache = (device, torch.tensor(self.model.config.lambdas, device=device),
                                 torch.tensor(MSE_LAMBDAS, device=device))
        return self._table_cache[1], self._table_cache[2]


def _split_parameters(model: LicModel) -> tuple[list, list, list]:
    """Main weights, gain units (their own learning rate) and the prior's quantiles (which
    learn only from the aux loss, with their own optimiser)."""
    main, gains, aux = [], [], []
    for name, param in model.named_parameters():
        if name.endswith("quantiles"):
            aux.append(param)
        elif "_gain." in name:
            gains.append(param)
        else:
            main.append(param)
    return main, gains, aux


def _learning_rate_factor(opts: TrainOptions, step: int, clock_annealing: bool = False) -> float:
    """lr ÷ 10 from --anneal-at (else after lr_drop of --steps), or in --anneal-minutes' last minutes."""
    drop_at = opts.anneal_at if opts.anneal_at is not None else opts.lr_drop * opts.steps
    return 0.1 if step >= drop_at or clock_annealing else 1.0


def _make_optimizer(opts: TrainOptions, model: LicModel, strategy: nn.Module) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """The main optimiser (weights and adapters at lr, gain units at gain_lr) and the aux one.
    Each group keeps its own "base_lr"; the lr drop scales them all."""
    main, gains, aux = _split_parameters(model)
    groups = [{"params": main + list(strategy.parameters()), "base_lr": opts.lr},
              {"params": gains, "base_lr": opts.gain_lr}]
    fused = opts.device.startswith("cuda")  # one kernel for all parameters; the same update as the loop
    return torch.optim.Adam(groups, lr=opts.lr, fused=fused), torch.optim.Adam(aux, lr=opts.aux_lr, fused=fused)


def noise_seed(seed: int, step: int, sample: int) -> int:
    """The seed of the training noise of one sample of the global batch at one step."""
    return int.from_bytes(hashlib.blake2b(f"{seed}/{step}/{sample}".encode(), digest_size=8).digest(), "little")


DERIVED_ARCH = "derived-student"  # --derive-student without --arch: the config pruned from the teacher's


def student_config(opts: TrainOptions) -> CodecConfig:
    """The named architecture, or (--derive-student without --arch) one pruned from the teacher's config."""
    if opts.derive_student and opts.teacher is None:
        raise LicodecError("--derive-student needs --teacher")
    if opts.derive_student and is_compressai_spec(opts.teacher):
        raise LicodecError("--derive-student needs a licodec teacher, not a CompressAI one")
    if opts.derive_student and opts.arch == DERIVED_ARCH:
        config = derive_student(read_info(opts.teacher).config)
    else:
        try:
            config = get_config(opts.arch)
        except KeyError as e:
            raise LicodecError(str(e.args[0])) from None
    return replace(config, lambdas=MSSSIM_LAMBDAS) if opts.metric == "ms-ssim" else config


def load_teacher(spec: str | Path, device: str) -> nn.Module:
    """A licodec weights file, or `compressai:ARCH:PATH`; frozen, in eval mode."""
    if is_compressai_spec(spec):
        return load_compressai_teacher(str(spec), device)
    if not Path(spec).is_file():
        raise LicodecError(f"teacher {spec}: no such file")
    return load_model(read_info(spec)).requires_grad_(False).to(device)


def _build_strategy(opts: TrainOptions, config: CodecConfig) -> tuple[nn.Module, nn.Module | None]:
    """The strategy module and the frozen teacher it distills from (None for plain)."""
    if opts.strategy == "plain":
        return Plain(), None
    if opts.teacher is None:
        raise LicodecError(f"--strategy {opts.strategy} needs --teacher")
    teacher = load_teacher(opts.teacher, opts.device)
    if opts.strategy == "feds":
        teacher_width = teacher.feature_width if isinstance(teacher, CompressAITeacher) else teacher.config.N
        weights = FedsWeights() if opts.feds_weights is None else replace(FedsWeights(), **dict(
            zip(("alpha", "beta", "gamma"), opts.feds_weights)))
        return Feds(config.N, teacher_width, opts.steps, weights), teacher
    if isinstance(teacher, CompressAITeacher):
        raise LicodecError("SMoDi swaps student parts into the teacher: it needs a licodec teacher")
    try:
        return SMoDi(config, teacher.config, opts.steps), teacher
    except ValueError as e:
        raise LicodecError(str(e)) from None


def _train_step(trainee: nn.Module, teacher: LicModel | None, optimizer, aux_optimizer, sampler: CropSampler,
                opts: TrainOptions, processes: distributed.Processes, global_batch: int, step: int,
                clock_annealing: bool = False) -> dict:
    """One step on a batch with a random quality level per sample: RD (+ distillation), then aux."""
    model: LicModel = trainee.module.model if isinstance(trainee, DistributedDataParallel) else trainee.model
    factor = _learning_rate_factor(opts, step, clock_annealing)
    lr = opts.lr * factor
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    share = processes.share(global_batch)
    x = sampler.batch(global_batch, share).to(opts.device)
    quality = torch.randint(1, model.config.levels + 1, (global_batch,), generator=sampler.generator)[share]
    if opts.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with _training_noise(opts, processes, global_batch, share, step):
        terms = trainee(step, teacher, x, _to_device(quality, opts.device))
    optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], opts.clip)
    optimizer.step()
    aux_loss = model.latent_codec.prior.aux_loss()  # data-independent: the same on every process
    aux_optimizer.zero_grad(set_to_none=True)
    aux_loss.backward()
    aux_optimizer.step()
    values: dict = {k: v.detach() for k, v in terms.items()} | {"aux": aux_loss.detach()}
    if processes.distributed:  # the log describes the global batch
        values = processes.mean({k: float(v) for k, v in values.items()})
    # Tensors stay on the device until the record is logged (run_state.finished): no host wait per step.
    return {**values, "step": step + 1, "lr": lr, "batch": global_batch, "processes": processes.world_size}


def _to_device(t: Tensor, device: str) -> Tensor:
    """A host tensor on `device`; to a GPU from pinned memory, so the host does not wait."""
    if device == "cpu":
        return t
    return t.pin_memory().to(device, non_blocking=True)


def _training_noise(opts: TrainOptions, processes: distributed.Processes, global_batch: int, share: slice,
                    step: int):
    """The step's rounding noise: per sample (equal for any split over processes) or, on one GPU
    process, the whole batch from one generator on the device (charm.batch_noise)."""
    kind = opts.noise
    if kind == "auto":
        kind = "batch" if opts.device.startswith("cuda") and not processes.distributed else "per-sample"
    if kind == "batch":
        return batch_noise(torch.Generator(device=opts.device).manual_seed(noise_seed(opts.seed, step, -1)))
    return per_sample_noise([noise_seed(opts.seed, step, i) for i in range(global_batch)][share])


def _moving_average(model: LicModel, decay: float, start: Path | None) -> AveragedModel:
    """An EMA of the weights and buffers (torch.optim.swa_utils), kept in float32 beside them;
    from START's weights (--init-ema: a leg continues its predecessor's average) or the model's."""
    if not 0 < decay < 1:
        raise LicodecError(f"--ema {decay}: the decay must lie between 0 and 1")
    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    if start is not None:
        _load_initial_weights(average.module, start, "--init-ema")
        average.n_averaged.fill_(1)  # else the first update copies the model over the loaded average
    return average


PRUNING_CROPS = 16  # the training crops on which a pruned student's channels are ranked


def _new_student(opts: TrainOptions, config: CodecConfig, teacher: nn.Module | None,
                 sampler: CropSampler, strategy: nn.Module) -> LicModel:
    """A new model: random, or from the teacher (--derive-student: its own weights for a
    config derived from its own, else a named --arch pruned from them, whose y channels FEDS's
    latent term then pairs with their own), or from --init."""
    model = LicModel(config).train()
    if opts.derive_student and isinstance(teacher, LicModel):
        if opts.arch == DERIVED_ARCH:
            inherit_weights(model, teacher)
        else:
            pruned = _pruned_weights(teacher, config, sampler, opts)
            model.load_state_dict(pruned.state)
            if isinstance(strategy, Feds):
                strategy.latent_channels = pruned.y_channels.to(opts.device)
    if opts.init is not None:
        _load_initial_weights(model, opts.init, "--init")
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.to(opts.device)


def _pruned_weights(teacher: LicModel, config: CodecConfig, sampler: CropSampler, opts: TrainOptions) -> Pruned:
    """The teacher pruned to `config` (licodec.training.prune), its channels ranked on the first
    training crops; the sampler's draws are put back, so the run sees the crops it would have."""
    state = sampler.generator.get_state()
    crops = sampler.batch(PRUNING_CROPS).to(opts.device)
    sampler.generator.set_state(state)
    try:
        return prune_with_channels(teacher, config, crops)
    except ValueError as e:
        raise LicodecError(f"--derive-student --arch {opts.arch}: {e}") from None


def _load_initial_weights(model: LicModel, path: Path, option: str) -> None:
    info = read_info(path)
    if info.config != model.config:
        raise LicodecError(f"{option} {path}: its architecture differs from this run's ({info.name})")
    model.load_state_dict(load_model(info).state_dict())


def training_images(opts: TrainOptions) -> list[Path]:
    """`data` less its held-out images, then every image of the extra folders."""
    return split_holdout(opts.data, opts.holdout)[0] + [p for folder in opts.extra_data for p in list_images(folder)]


def _validation_set(opts: TrainOptions, main: bool) -> tuple[list[Tensor], tuple[int, ...]]:
    """--val's images at q 1, 4, 8, or the --holdout images at every level (rank 0 only)."""
    if not main:
        return [], ()
    if opts.val is not None:
        return load_images(opts.val, opts.val_images), VAL_QUALITIES
    if opts.holdout:
        return load_images(split_holdout(opts.data, opts.holdout)[1][: opts.val_images]), ALL_LEVELS
    return [], ()


def train(opts: TrainOptions) -> Path:
    """Train; returns the exported weights file (out/weights.safetensors)."""
    processes = distributed.start(opts.device)
    try:
        return train_on(processes, replace(opts, device=processes.device))[0]
    finally:
        distributed.stop(processes)


@dataclass
class Session:
    """What one process trains with: built once by `prepare`, stepped by `_train_step`."""
    runner: nn.Module  # the trainee, wrapped in DistributedDataParallel under torchrun
    trainee: Trainee
    teacher: nn.Module | None
    optimizer: torch.optim.Adam
    aux_optimizer: torch.optim.Adam
    sampler: CropSampler
    global_batch: int
    start: int  # the first step to run (after --resume)
    seconds_before: float  # training time of the run before this invocation
    cpu_seconds_before: float  # and its CPU time
    ema: AveragedModel | None = None  # rank 0's moving average of the weights (--ema)

    def step(self, opts: TrainOptions, processes: distributed.Processes, step: int,
             clock_annealing: bool = False) -> dict:
        record = _train_step(self.runner, self.teacher, self.optimizer, self.aux_optimizer, self.sampler, opts,
                             processes, self.global_batch, step, clock_annealing=clock_annealing)
        if self.ema is not None:
            self.ema.update_parameters(self.trainee.model)
        return record


def prepare(processes: distributed.Processes, opts: TrainOptions) -> Session:
    """Options checked, model, strategy, optimisers and data built, a checkpoint resumed."""
    global_batch = check_options(opts, processes.world_size)
    precision = training_precision(opts.precision, opts.device)
    torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    if processes.is_main:
        opts.out.mkdir(parents=True, exist_ok=True)
    config = student_config(opts)
    strategy, teacher = _build_strategy(opts, config)
    sampler = CropSampler(training_images(opts), opts.patch, seed=opts.seed, device=opts.device)
    model = _new_student(opts, config, teacher, sampler, strategy)
    model.training_bfloat16 = precision == "bfloat16"
    if isinstance(teacher, LicModel):  # FEDS's no-grad forward and SMoDi's hybrids in the student's precision
        teacher.training_bfloat16 = teacher.frozen_bfloat16 = model.training_bfloat16
    trainee = Trainee(model, strategy.to(opts.device), opts.metric, opts.level_weighting)
    optimizer, aux_optimizer = _make_optimizer(opts, model, strategy)
    ema = _moving_average(model, opts.ema, opts.init_ema) if processes.is_main and opts.ema else None
    checkpoint, start, seconds_before, cpu_seconds_before = opts.out / "checkpoint.pt", 0, 0.0, 0.0
    if opts.resume and checkpoint.exists():
        start, seconds_before, cpu_seconds_before = load_checkpoint(checkpoint, trainee, optimizer, aux_optimizer,
                                                                    sampler, ema)
        if processes.is_main:
            truncate_log(opts.out / "log.jsonl", start)
    if opts.compile:
        model.g_a.compile(mode=opts.compile_mode)
        model.g_s.compile(mode=opts.compile_mode)
    runner: nn.Module = trainee
    if processes.distributed:  # SMoDi and FEDS's phases leave parts unused at some steps
        runner = DistributedDataParallel(trainee, find_unused_parameters=True)
    return Session(runner, trainee, teacher, optimizer, aux_optimizer, sampler, global_batch, start, seconds_before,
                   cpu_seconds_before, ema)


def train_on(processes: distributed.Processes, opts: TrainOptions) -> tuple[Path, LicModel]:
    """The loop, as this process of `processes` runs it: the weights file and the trained model."""
    opts = replace(opts, precision=training_precision(opts.precision, opts.device))  # the log says which ran
    session = prepare(processes, opts)
    model, start, checkpoint = session.trainee.model, session.start, opts.out / "checkpoint.pt"
    val_images, val_levels = _validation_set(opts, processes.is_main)
    val_images = [x.to(opts.device) for x in val_images]
    weights = opts.out / "weights.safetensors"
    provenance = {k: str(v) for k, v in asdict(opts).items() if k not in ("resume", "out")}
    last_save = invoked = time.monotonic()
    began = last_save - session.seconds_before  # "seconds" in the log counts training time across resumes
    cpu_began = time.process_time() - session.cpu_seconds_before
    log = open(opts.out / "log.jsonl", "a") if processes.is_main else None
    pending: list[dict] = []
    bar = tqdm(range(start, opts.steps), initial=start, total=opts.steps,
               disable=not (processes.is_main and sys.stderr.isatty()))
    for step in bar:
        # Every process takes the same decisions: any rank past a time limit moves them all.
        clock_annealing = opts.anneal_minutes is not None and processes.any(
            time.monotonic() - invoked > 60 * (opts.minutes - opts.anneal_minutes))
        record = session.step(opts, processes, step, clock_annealing)
        out_of_time = opts.minutes is not None and processes.any(time.monotonic() - invoked > 60 * opts.minutes)
        done = step + 1 == opts.steps or out_of_time
        if log is None:
            if done:
                break
            continue
        record["seconds"] = round(time.monotonic() - began, 1)
        record["cpu_seconds"] = round(time.process_time() - cpu_began, 1)
        pending.append(record)
        validating = val_images and (done or (opts.val_every and (step + 1) % opts.val_every == 0))
        saving = done or time.monotonic() - last_save > 60 * opts.checkpoint_minutes
        if validating or saving or len(pending) >= opts.log_every:  # a checkpoint leaves nothing unlogged
            record = mean_record([finished(r) for r in pending])
            pending = []
            if validating:
                record["val"] = validate(model, val_images, val_levels)
                if session.ema is not None:
                    record["val_ema"] = validate(session.ema.module, val_images, val_levels)
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.set_postfix(loss=record["loss"], bpp=record["bpp"], psnr=record["psnr"])
        if saving:
            save_checkpoint(checkpoint, session.trainee, session.optimizer, session.aux_optimizer, session.sampler,
                            session.ema, step + 1, time.monotonic() - began, time.process_time() - cpu_began)
            save_weights(model, weights, opts.arch, {**provenance, "step": step + 1})
            if session.ema is not None:
                save_weights(session.ema.module, opts.out / EMA_WEIGHTS, opts.arch,
                             {**provenance, "step": step + 1, "weights": f"moving average, decay {opts.ema}"})
            last_save = time.monotonic()
        if done:
            break
    if log is not None:
        log.close()
    return weights, model
