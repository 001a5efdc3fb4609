"""Encoder effort: per image, refine the latents against the model's own rate-distortion loss.

    x ─► g_a ─► y ─► (y·gain, z = h_a(y·gain)·gain_z) ─► Adam on both latents against
         bpp(SGA(y), SGA(z)) + λ·255²·MSE(g_s(ŷ), x), the rounding's temperature annealed
         ─► the latents with the lower hard-rounded loss (the start or the end) ─► the exact coder

g_a is an amortised guess of each image's best latent; searching for a better one per image
saves bits with the decoder and the format unchanged (Yang, Bamler & Mandt 2020, "Improving
inference for neural image compression"). The rounding is relaxed by their stochastic Gumbel
annealing (SGA): each latent value rounds down or up at random, with softened weights whose
temperature falls towards hard rounding, so the loss being minimised ends as the real one.
Written here because no maintained library provides SGA (CompressAI and tensorflow-compression
do not); the loop is the paper's, the schedule is tuned on the held-out training images
(scripts/effort_tune.py).

Large images are refined window by window (TILE latents a side with MARGIN of context, cut as
licodec.models.engine cuts g_a's and g_s's tiles): memory stays bounded and the result is the
same optimisation where the windows do not meet.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import Tensor

from licodec.effort import iterations
from licodec.latent_stream import canvas_offset
from licodec.models.charm import Quantize, hard_quantize
from licodec.models.codec import CompressedImage, LicModel
from licodec.models.engine import Tile, pixels, tiles
from licodec.precision import training_precision

# Refinement windows, in latent positions: 48 + 2·8 latents = 1024 pixels a side, so that one
# window's backward pass stays within the encoder's memory budget (scripts/effort_memory.py,
# results/effort/memory.md).
TILE = 48
MARGIN = 8
ProgressCallback = Callable[[int, int], None]  # (iterations done, iterations in all)


@dataclass(frozen=True)
class Schedule:
    """How one refinement runs: Adam's step and the SGA temperature's exponential descent."""

    iterations: int
    learning_rate: float = 0.01
    start_temperature: float = 0.5
    end_temperature: float = 0.05
    seed: int = 0
    # What Adam's step is counted in: "bins" of the quantiser (y·gain), the same at every
    # quality (the effort levels'), or "latent" units of y, so that at high qualities, where the
    # gains are larger and the bins finer (q8's gain is ~9× q1's), a step covers more bins.
    # Tried on the held-out images (results/effort/tune.md): no BD-rate gain (−9.21 % against
    # −9.36 % at 50 iterations); more dB at the top level, for more bits.
    step_unit: str = "bins"
    # Adam's lr falls exponentially to this by the last iteration, as the temperature does
    # (None: constant, the levels'). On the held-out images 0.02 → 0.005 gave −9.67 % against
    # −9.36 % at 50 iterations (results/effort/tune.md): within what 4 images can tell apart,
    # so the levels, and their Kodak files, stay as they are.
    end_learning_rate: float | None = None

    def describe(self) -> str:
        unit = "" if self.step_unit == "bins" else f" (in {self.step_unit} units)"
        decay = "" if self.end_learning_rate is None else f" to {self.end_learning_rate:g}"
        return (f"{self.iterations} iterations, Adam lr {self.learning_rate:g}{decay}{unit}, SGA temperature "
                f"{self.start_temperature:g} to {self.end_temperature:g}, seed {self.seed}")

    def temperature(self, iteration: int) -> float:
        return _exponential(self.start_temperature, self.end_temperature, self._fraction(iteration))

    def learning_rate_at(self, iteration: int) -> float:
        end = self.learning_rate if self.end_learning_rate is None else self.end_learning_rate
        return _exponential(self.learning_rate, end, self._fraction(iteration))

    def _fraction(self, iteration: int) -> float:
        return iteration / max(self.iterations - 1, 1)


def _exponential(start: float, end: float, fraction: float) -> float:
    return start * (end / start) ** fraction


def schedule_for(effort: int) -> Schedule:
    """The schedule of an effort level (licodec.effort)."""
    return Schedule(iterations(effort))


def compress_refined(model: LicModel, x: Tensor, quality: float, effort: int,
                     progress: ProgressCallback | None = None, trace: list[Tensor] | None = None) -> CompressedImage:
    """LicModel.compress at an effort level: effort 0 is it, unchanged; higher refines first.
    `trace`: as LicModel.compress."""
    if iterations(effort) == 0:
        return model.compress(x, quality, trace=trace)
    y_gained, z = refine(model, x, quality, schedule_for(effort), progress)
    streams = model.latent_codec.compress_gained(y_gained, z, quality, trace=trace)
    return CompressedImage(streams.data, streams.y_hat, streams.digests)


def sga_round(value: Tensor, temperature: float, generator: torch.Generator) -> Tensor:
    """A sample of SGA's relaxed rounding (Yang et al. 2020, eq. 7): down or up, with logits
    −atanh(distance)/τ, drawn by the Gumbel-softmax trick at temperature τ (for two outcomes,
    a logistic sample). At small τ it is rounding to the nearest integer."""
    floor = torch.floor(value.detach())
    fraction = value - floor
    limit = 1 - 1e-5
    logit_down = -torch.atanh(fraction.clamp(-limit, limit)) / temperature
    logit_up = -torch.atanh((1 - fraction).clamp(-limit, limit)) / temperature
    uniform = torch.rand(value.shape, generator=generator, dtype=value.dtype, device=value.device)
    uniform = uniform.clamp(1e-7, 1 - 1e-7)
    logistic = torch.log(uniform) - torch.log1p(-uniform)
    return floor + torch.sigmoid((logit_up - logit_down + logistic) / temperature)


def sga_quantize(temperature: float, generator: torch.Generator) -> Quantize:
    """SGA as a ChARM quantiser: the rate and the decoder side both see the relaxed value."""
    def quantize(value: Tensor, centre: Tensor) -> tuple[Tensor, Tensor]:
        relaxed = sga_round(value - centre, temperature, generator) + centre
        return relaxed, relaxed
    return quantize


def rd_lambda(lambdas: tuple[float, ...], quality: float) -> float:
    """λ of a quality level; a fractional quality interpolates in the log domain, as its gains do."""
    position = min(max(quality - 1, 0.0), len(lambdas) - 1)
    low = min(int(position), len(lambdas) - 2)
    weight = position - low
    return math.exp(math.log(lambdas[low]) * (1 - weight) + math.log(lambdas[low + 1]) * weight)


def rd_loss(model: LicModel, y_gained: Tensor, z: Tensor, target: Tensor, quality: Tensor, lam: float,
            quantize: Quantize, offset: tuple[int, int] = (0, 0)) -> Tensor:
    """bpp + λ·255²·MSE of these latents, the training loss (licodec.training.losses) of one
    image. The target may be smaller than g_s's output (the image without its canvas's padding,
    `offset` pixels from its top left): the padding costs bits but is never seen, so only the
    target's pixels count."""
    out = model.latent_codec.forward_gained(y_gained, z, quality, quantize)
    (height, width), (top, left) = target.shape[-2:], offset
    with torch.autocast(target.device.type, dtype=torch.bfloat16, enabled=_bfloat16(target.device.type)):
        x_hat = model.g_s(out["y_hat"])[..., top : top + height, left : left + width].float()
    bits = sum(-torch.log2(likelihood).sum() for likelihood in out["likelihoods"].values())
    return bits / (height * width) + lam * 255**2 * torch.mean((x_hat - target) ** 2)


def refinement_precision(device: str = "cpu") -> str:
    """What g_s runs in while refining: bfloat16 where training would run it so
    (licodec.precision.training_precision, the same forward and backward; its pixel-touching last
    convolution stays float32), 1.9× faster per iteration on an AVX-512 BF16 CPU. The coder's
    inputs stay exact either way; only which latents the search finds depends on it."""
    return training_precision("auto", device)


def _bfloat16(device: str) -> bool:
    return refinement_precision(device) == "bfloat16"


@contextmanager
def _frozen(model: LicModel) -> Iterator[None]:
    """Eval mode and no weight gradients: only the latents are optimised."""
    was_training = model.training
    wanted = {name: p.requires_grad for name, p in model.named_parameters()}
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(wanted[name])
        model.train(was_training)


def refine(model: LicModel, x: Tensor, quality: float, schedule: Schedule,
           progress: ProgressCallback | None = None) -> tuple[Tensor, Tensor]:
    """The refined gained latents (y·gain, z) of image x ([1, 3, H, W], uint8 or floats in
    [0, 1]), for `ChARMLatentCodec.compress_gained`. The same inputs on the same machine give
    the same latents (the noise comes from a generator seeded by `schedule.seed`)."""
    q = torch.tensor([quality], device=x.device)
    with _frozen(model), torch.no_grad():
        y = model.analysis(x)
        y_gained, z = model.latent_codec.gained_latents(y, q)
    if schedule.iterations == 0:
        return y_gained, z
    image = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    top, left = canvas_offset(*image.shape[-2:])
    lam = rd_lambda(model.config.lambdas, quality)
    windows = tiles(*y_gained.shape[-2:], TILE, MARGIN)
    done, total = 0, schedule.iterations * len(windows)
    with _frozen(model):
        for window in windows:
            window_progress = None if progress is None else _offset(progress, done, total)
            y_window, z_window = _refine_window(
                model, y_gained[..., window.context_rows, window.context_cols],
                z[..., _z(window.context_rows), _z(window.context_cols)],
                *_target(image, window, (top, left)), q, lam, schedule, window_progress)
            inner_rows, inner_cols = window.inner()
            y_gained[..., window.rows, window.cols] = y_window[..., inner_rows, inner_cols]
            z[..., _z(window.rows), _z(window.cols)] = z_window[..., _z(inner_rows), _z(inner_cols)]
            done += schedule.iterations
    return y_gained, z


def _offset(progress: ProgressCallback, done: int, total: int) -> ProgressCallback:
    """One window's progress (iterations of this window) as the whole image's."""
    return lambda iteration, _window_total: progress(done + iteration, total)


def _z(latent: slice) -> slice:
    """The z positions over these y positions (z is y's size ÷ 4; windows start on multiples of 4)."""
    return slice(latent.start // 4, -(-latent.stop // 4))


def _target(image: Tensor, window: Tile, offset: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
    """The image's pixels under a window's context (the image sits `offset` into its canvas),
    and where they start in the context's pixels."""
    rows, row_offset = _image_part(pixels(window.context_rows), offset[0], image.shape[-2])
    cols, col_offset = _image_part(pixels(window.context_cols), offset[1], image.shape[-1])
    return image[..., rows, cols], (row_offset, col_offset)


def _image_part(canvas: slice, offset: int, length: int) -> tuple[slice, int]:
    """The image's pixels within these canvas pixels (the image starts `offset` into the
    canvas), and how far into them it starts."""
    start, stop = max(canvas.start - offset, 0), min(canvas.stop - offset, length)
    return slice(start, stop), start + offset - canvas.start


def _refine_window(model: LicModel, y_gained: Tensor, z: Tensor, target: Tensor, offset: tuple[int, int],
                   quality: Tensor, lam: float, schedule: Schedule,
                   progress: ProgressCallback | None) -> tuple[Tensor, Tensor]:
    """Adam on one window's latents under SGA; returns whichever of the start and the end has
    the lower hard-rounded loss, so refinement never makes the model's loss worse."""
    generator = torch.Generator(device=y_gained.device).manual_seed(schedule.seed)
    start = (y_gained.clone(), z.clone())
    # Adam moves y·gain (bins) or y itself (latent units); the loss always sees y·gain.
    gain = model.latent_codec.y_gain.gain(quality).detach() if schedule.step_unit == "latent" else None
    latents = [(y_gained if gain is None else y_gained / gain).clone().requires_grad_(True),
               z.clone().requires_grad_(True)]
    optimizer = torch.optim.Adam(latents, lr=schedule.learning_rate)
    for iteration in range(schedule.iterations):
        for group in optimizer.param_groups:
            group["lr"] = schedule.learning_rate_at(iteration)
        quantize = sga_quantize(schedule.temperature(iteration), generator)
        y_now = latents[0] if gain is None else latents[0] * gain
        loss = rd_loss(model, y_now, latents[1], target, quality, lam, quantize, offset)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(iteration + 1, schedule.iterations)
    end = (latents[0].detach() if gain is None else latents[0].detach() * gain, latents[1].detach())
    with torch.no_grad():
        losses = [rd_loss(model, *pair, target, quality, lam, hard_quantize, offset) for pair in (start, end)]
    return end if losses[1] < losses[0] else start
