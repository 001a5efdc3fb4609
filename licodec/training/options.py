"""What a training run is asked to do (`licodec train` / `distill`'s options as data), checked
before any work starts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from licodec.errors import LicodecError
from licodec.latent_stream import PAD_MULTIPLE

STRATEGIES = ("plain", "feds", "smodi")
NOISES = ("auto", "per-sample", "batch")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")
METRICS = ("mse", "ms-ssim")
MSSSIM_MIN_PATCH = 192  # MS-SSIM's 5 scales with an 11-pixel window need more than 160 pixels


@dataclass
class TrainOptions:
    arch: str
    data: Path
    out: Path
    steps: int
    patch: int = 256
    batch: int = 8  # the global batch, split over the processes (see batch_per_rank)
    batch_per_rank: bool = False  # hold the per-process batch fixed instead: global = batch × processes
    lr: float = 2e-4  # 2e-4 was +0.4 dB-equivalent ahead of 1e-4 at step 500 (training issue)
    gain_lr: float = 2e-3  # the gain units' own rate: at lr 1e-4 they stayed at their √λ start
    aux_lr: float = 1e-3
    lr_drop: float = 0.85  # fraction of the steps after which the learning rate is divided by 10
    anneal_at: int | None = None  # the step from which lr ÷ 10 (instead of lr_drop × steps): legs that stop early
    anneal_minutes: float | None = None  # the last M minutes of --minutes at lr ÷ 10: a wall-clock leg ends annealed
    clip: float = 1.0
    seed: int = 0
    threads: int = 2
    checkpoint_minutes: float = 5.0
    channels_last: bool = True
    compile: bool = False  # torch.compile g_a and g_s (up to 1.9× faster CPU training, measured here)
    metric: str = "mse"  # distortion: mse | ms-ssim
    device: str = "cpu"
    resume: bool = False
    val: Path | None = None  # folder of held-out images, validated at 3 λ
    val_every: int = 0  # steps between validations; 0: at the end only
    val_images: int | None = None  # use only the first n validation images
    strategy: str = "plain"  # plain | feds | smodi (see distill.py)
    teacher: Path | str | None = None  # the frozen teacher: weights file or compressai:ARCH:PATH
    derive_student: bool = False  # student pruned from the teacher's config and weights (KDIC), not `arch`
    feds_weights: tuple[float, float, float] | None = None  # FEDS's α, β, γ (output, feature, latent)
    level_weighting: str = "sqrt"  # sqrt: each sample's loss ÷ √λ (losses.level_weights) | none
    holdout: int = 0  # images of `data` kept out of training and validated on at every level
    init: Path | None = None  # start from these weights (a fresh optimiser), e.g. the shipped ones
    minutes: float | None = None  # wall-clock budget of this invocation: stop, checkpoint, export
    log_every: int = 1  # write the mean of every N steps' records (validation records always)
    precision: str = "auto"  # g_a/g_s's autocast: auto | float32 | bfloat16 (licodec.precision.training_precision)
    extra_data: tuple[Path, ...] = ()  # more folders whose images all train (--holdout draws from `data` only)
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none); exported beside them
    init_ema: Path | None = None  # the moving average's start (a previous leg's export), else the first weights
    noise: str = "auto"  # per-sample | batch (one device generator per step) | auto: batch on one GPU process
    compile_mode: str = "default"  # torch.compile's mode with --compile (reduce-overhead: CUDA graphs)


def check_options(opts: TrainOptions, world_size: int) -> int:
    """Refuse bad options before any work; returns the global batch size."""
    if opts.strategy not in STRATEGIES:
        raise LicodecError(f"unknown strategy {opts.strategy!r} ({', '.join(STRATEGIES)})")
    if opts.metric not in METRICS:
        raise LicodecError(f"unknown metric {opts.metric!r} ({', '.join(METRICS)})")
    if opts.patch % PAD_MULTIPLE:
        raise LicodecError(f"--patch must be a multiple of {PAD_MULTIPLE} (the model's total stride)")
    if opts.level_weighting not in ("sqrt", "none"):
        raise LicodecError(f"unknown level weighting {opts.level_weighting!r} (sqrt, none)")
    if opts.noise not in NOISES:
        raise LicodecError(f"unknown noise {opts.noise!r} ({', '.join(NOISES)})")
    if opts.noise == "batch" and world_size > 1:
        raise LicodecError("--noise batch is for one process: under torchrun the noise is drawn per sample")
    if opts.compile_mode not in COMPILE_MODES:
        raise LicodecError(f"unknown compile mode {opts.compile_mode!r} ({', '.join(COMPILE_MODES)})")
    if opts.init is not None and opts.resume:
        raise LicodecError("--init starts a new run; --resume continues one: give one of them")
    if opts.anneal_minutes is not None and (opts.minutes is None or not 0 < opts.anneal_minutes < opts.minutes):
        raise LicodecError("--anneal-minutes M needs --minutes, and M between 0 and its budget")
    if opts.feds_weights is not None and (len(opts.feds_weights) != 3 or min(opts.feds_weights) < 0):
        raise LicodecError("--feds-weights takes three weights of 0 or more: output, feature, latent")
    if opts.anneal_at is not None and opts.anneal_at < 0:
        raise LicodecError("--anneal-at takes a step, 0 or more")
    if opts.init_ema is not None and not opts.ema:
        raise LicodecError("--init-ema starts the moving average: give its decay with --ema")
    if opts.init_ema is not None and opts.resume:
        raise LicodecError("--init-ema starts a new run's moving average; --resume takes the checkpoint's")
    if opts.metric == "ms-ssim" and opts.patch < MSSSIM_MIN_PATCH:
        raise LicodecError(f"--metric ms-ssim needs --patch {MSSSIM_MIN_PATCH} or more")
    global_batch = opts.batch * world_size if opts.batch_per_rank else opts.batch
    if global_batch % world_size:
        raise LicodecError(f"a global batch of {global_batch} does not split over {world_size} processes")
    return global_batch
