"""Distillation strategies: per step, what runs forward and which loss terms join the RD loss.

A strategy is a small module with two methods: `forward(step, student, teacher, x, quality)`
returns the output the RD loss is computed on and the teacher's output (or None), and
`terms(step, out, teacher_out, scale)` returns the extra loss terms. Its own parameters
(FEDS's 1×1 feature adapters) train with the student but are never exported. Parameters that
take no part in a step's forward get no gradient, so the forward alone decides which parts of
the student train. The training loop (`train.py`) is the same for all strategies.

L_output is an image MSE like the distortion, so it is weighted per sample by `scale` = λ·255²,
the distortion's weight in the RD loss (λ·255²·MSE + bpp): α = 1 means "as important as
matching the original". L_feature and L_latent are MSEs of unnormalised features and latents
(values of order 1–10); they enter unscaled, with weights β and γ.

    plain: D + λR                                                     (the control)
    feds:  D + λR + α·L_output + β·L_feature + γ·L_latent, in three phases (Fu et al. 2025):
           align (output + feature terms) → distill (all terms) → fine-tune (RD alone)
    smodi: D + λR of the frozen teacher with one student part swapped in, part by part
           (Chen et al. 2025): g_a stages, g_s stages, hyperprior, ChARM slice transforms;
           then the student alone, end to end. Needs a student whose part interfaces match
           the teacher's: `derive_student` prunes a teacher config into one.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from licodec.config import CodecConfig
from licodec.models.codec import PARTS


def channel_entropy(y_likelihoods: Tensor) -> Tensor:
    """H_c: mean over batch and positions of −log2 p(ŷ_c | ẑ) (FEDS eq. 6 / 12), shape [C]."""
    return (-torch.log2(y_likelihoods)).mean(dim=(0, 2, 3))


def top_entropy_channels(y_likelihoods: Tensor, count: int) -> Tensor:
    """Indices of the `count` highest-entropy channels, highest first (FEDS eq. 7)."""
    return torch.topk(channel_entropy(y_likelihoods), count).indices


def per_sample_mse(a: Tensor, b: Tensor) -> Tensor:
    return ((a - b) ** 2).flatten(1).mean(dim=1)


def output_loss(student_x_hat: Tensor, teacher_x_hat: Tensor) -> Tensor:
    """L_output = MSE(x̂_T, x̂_S) (eq. 4), per sample."""
    return per_sample_mse(student_x_hat, teacher_x_hat)


def latent_loss(student_y_hat: Tensor, teacher_y_hat: Tensor, teacher_y_likelihoods: Tensor,
                channels: Tensor | None = None) -> Tensor:
    """L_latent = MSE(ŷ_S, the teacher's top-C_S entropy channels of ŷ_T) (eq. 8), per sample.

    Student channel j learns the teacher's j-th highest-entropy channel, so the student's first
    ChARM slices (coded first, conditioning the rest) get the most informative channels. A
    student pruned from its teacher passes `channels`, the teacher channel each of its own came
    from: re-ranking them by entropy would pull every channel away from where it started.
    """
    selected = top_entropy_channels(teacher_y_likelihoods, student_y_hat.shape[1]) if channels is None else channels
    return per_sample_mse(student_y_hat, teacher_y_hat[:, selected])


class FeatureAdapters(nn.Module):
    """1×1 convs that map each student feature to the teacher's channel count (FEDS §3.3).

    Pairs are the outputs of g_a's and g_s's stages except the latent ones (y itself, which
    L_latent covers, and x̂, which L_output covers): the stages where both nets have N channels.
    """

    def __init__(self, student_width: int, teacher_width: int, stages: int = 3) -> None:
        super().__init__()
        self.stages = stages
        convs = [nn.Conv2d(student_width, teacher_width, 1) for _ in range(2 * stages)]
        for conv in convs:  # start as the identity where channel counts allow
            nn.init.zeros_(conv.bias)
            nn.init.eye_(conv.weight.view(teacher_width, student_width))
        self.convs = nn.ModuleList(convs)

    def _pairs(self, student_out: dict, teacher_out: dict):
        student = student_out["features_a"][: self.stages] + student_out["features_s"][: self.stages]
        teacher = teacher_out["features_a"][: self.stages] + teacher_out["features_s"][: self.stages]
        return zip(self.convs, student, teacher)

    def forward(self, student_out: dict, teacher_out: dict) -> Tensor:
        """L_feature = mean over the pairs of MSE(adapter(f_S), f_T) (eq. 5), per sample."""
        losses = [per_sample_mse(conv(f_s), f_t) for conv, f_s, f_t in self._pairs(student_out, teacher_out)]
        return torch.stack(losses).mean(dim=0)


class Plain(nn.Module):
    """No teacher: the baseline every distillation claim is measured against."""

    def forward(self, step: int, student: nn.Module, teacher: nn.Module | None, x: Tensor,
                quality: Tensor) -> tuple[dict, dict | None]:
        return student(x, quality), None

    def terms(self, step: int, out: dict, teacher_out: dict | None, scale: Tensor) -> dict[str, Tensor]:
        return {}


@dataclass(frozen=True)
class FedsWeights:
    alpha: float = 1.0  # L_output
    beta: float = 0.5  # L_feature
    gamma: float = 0.5  # L_latent
    align: float = 0.2  # fraction of the steps in phase (i), feature alignment
    distill: float = 0.5  # fraction in phase (ii), entropy-based channel distillation


class Feds(nn.Module):
    """FEDS's three phases; `terms` gives each phase's distillation terms (FEDS §3.3, §5.1)."""

    def __init__(self, student_width: int, teacher_width: int, steps: int,
                 weights: FedsWeights = FedsWeights()) -> None:
        """Widths: N, the channels of the g_a / g_s features that L_feature pairs."""
        super().__init__()
        self.weights = weights
        self.align_end = math.floor(weights.align * steps)
        self.distill_end = math.floor((weights.align + weights.distill) * steps)
        self.adapters = FeatureAdapters(student_width, teacher_width)
        self.latent_channels: Tensor | None = None  # a pruned student's own y channels (latent_loss)

    def phase(self, step: int) -> str:
        if step < self.align_end:
            return "align"
        return "distill" if step < self.distill_end else "finetune"

    def forward(self, step: int, student: nn.Module, teacher: nn.Module | None, x: Tensor,
                quality: Tensor) -> tuple[dict, dict | None]:
        if self.phase(step) == "finetune":
            return student(x, quality), None
        assert teacher is not None
        with torch.no_grad():
            teacher_out = teacher(x, quality, features=True)
        return student(x, quality, features=True), teacher_out

    def terms(self, step: int, student_out: dict, teacher_out: dict | None, scale: Tensor) -> dict[str, Tensor]:
        phase, w = self.phase(step), self.weights
        if phase == "finetune":
            return {}
        assert teacher_out is not None
        terms = {}  # a term weighted 0 is left out, not computed (the ablations switch terms off)
        if w.alpha:
            terms["output"] = w.alpha * output_loss(student_out["x_hat"], teacher_out["x_hat"]) * scale
        if w.beta:
            terms["feature"] = w.beta * self.adapters(student_out, teacher_out)
        if phase == "distill" and w.gamma:
            terms["latent"] = w.gamma * latent_loss(student_out["y_hat"], teacher_out["y_hat"],
                                                    teacher_out["likelihoods"]["y"], self.latent_channels)
        return {name: value.mean() for name, value in terms.items()}


# --- SMoDi (Chen et al. 2025) --------------------------------------------------------------------

# The student's parts, in training order: each g_a / g_s stage (one per resolution change),
# then the entropy model in two steps: the hyperprior, then the ChARM slice transforms.
SMODI_PARTS: tuple[tuple[str, ...], ...] = (
    *((f"g_a.stages.{i}",) for i in range(4)),
    *((f"g_s.stages.{i}",) for i in range(4)),
    PARTS["hyperprior"],
    PARTS["charm"],
)


def derive_student(teacher: CodecConfig, blocks_per_group: int = 1, mlp_ratio: float = 2.0,
                   attention_layers: int | None = None, slice_hidden: tuple[int, ...] | None = None) -> CodecConfig:
    """KDIC's teacher-guided construction: prune blocks, FFN ratio and slice-transform widths.

    N, M, z channels and slices stay, so every student part has its teacher counterpart's
    interface and can run inside the frozen teacher.
    """
    return replace(
        teacher,
        blocks_per_group=blocks_per_group,
        mlp_ratio=mlp_ratio,
        attention_layers=teacher.attention_layers if attention_layers is None else attention_layers,
        slice_hidden=slice_hidden or tuple(max(8, w // 2) for w in teacher.slice_hidden),
    )


def inherit_weights(student: nn.Module, teacher: nn.Module) -> int:
    """Start a derived student from its teacher's weights (KDIC's teacher-guided initialisation).

    Every student tensor whose name the teacher has takes the teacher's leading slice along each
    dimension: kept blocks keep their weights, and a pruned width keeps the teacher's first
    channels consistently in the layer that produces them and the one that reads them.
    Returns how many tensors were inherited.
    """
    teacher_state = teacher.state_dict()
    inherited = 0
    with torch.no_grad():
        for name, tensor in student.state_dict().items():
            source = teacher_state.get(name)
            if source is None or source.dim() != tensor.dim() or any(a < b for a, b in zip(source.shape, tensor.shape)):
                continue
            tensor.copy_(source[tuple(slice(0, n) for n in tensor.shape)])
            inherited += 1
    return inherited


def _get(module: nn.Module, path: str) -> nn.Module:
    return module.get_submodule(path)


def _set(module: nn.Module, path: str, value: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, name, value)


@contextmanager
def swapped_in(teacher: nn.Module, student: nn.Module, paths: tuple[str, ...]):
    """Run the teacher with the student's modules at `paths` (the same objects, so they train).

    The hybrid runs in the student's mode: in training, quantisation is noise / straight-through
    rounding, so gradients reach the swapped-in part wherever it sits. Teacher weights stay frozen.
    """
    originals = [_get(teacher, path) for path in paths]
    was_training = teacher.training
    for path in paths:
        _set(teacher, path, _get(student, path))
    teacher.train(student.training)
    try:
        yield teacher
    finally:
        for path, original in zip(paths, originals):
            _set(teacher, path, original)
        teacher.train(was_training)


def check_interfaces(student: CodecConfig, teacher: CodecConfig) -> None:
    fields = ("N", "M", "hyper_channels", "slices", "max_support_slices", "levels")
    differing = [f for f in fields if getattr(student, f) != getattr(teacher, f)]
    if differing:
        raise ValueError(f"SMoDi needs a student with the teacher's {', '.join(differing)} (use --derive-student)")


class SMoDi(nn.Module):
    """Stage-wise modular distillation: part k trains inside the frozen teacher, supervised only
    by the end-to-end RD loss ("implicit end-to-end supervision"); then end-to-end fine-tuning.
    """

    def __init__(self, student: CodecConfig, teacher: CodecConfig, steps: int, modular: float = 0.25) -> None:
        super().__init__()
        check_interfaces(student, teacher)
        self.part_steps = max(1, math.floor(modular * steps / len(SMODI_PARTS)))

    def part(self, step: int) -> tuple[str, ...] | None:
        """The student part trained at this step; None once fine-tuning has begun."""
        index = step // self.part_steps
        return SMODI_PARTS[index] if index < len(SMODI_PARTS) else None

    def forward(self, step: int, student: nn.Module, teacher: nn.Module | None, x: Tensor,
                quality: Tensor) -> tuple[dict, dict | None]:
        part = self.part(step)
        if part is None:
            return student(x, quality), None
        assert teacher is not None
        with swapped_in(teacher, student, part) as hybrid:
            return hybrid(x, quality), None

    def terms(self, step: int, out: dict, teacher_out: dict | None, scale: Tensor) -> dict[str, Tensor]:
        return {}
