"""Distillation strategies: which loss terms apply at each step, on top of the RD loss.

A strategy is a small module: `terms(step, student_out, teacher_out, scale)` returns the extra
loss terms for that step, and its own parameters (FEDS's 1×1 feature adapters) train with the
student but are never exported. The training loop (`train.py`) is the same for all.

L_output is an image MSE like the distortion, so it is weighted per sample by `scale` = λ·255²,
the distortion's weight in the RD loss (λ·255²·MSE + bpp): α = 1 means "as important as
matching the original". L_feature and L_latent are MSEs of unnormalised features and latents
(values of order 1–10); they enter unscaled, with weights β and γ.

    plain: D + λR                                                     (the control)
    feds:  D + λR + α·L_output + β·L_feature + γ·L_latent, in three phases (Fu et al. 2025):
           align (output + feature terms) → distill (all terms) → fine-tune (RD alone)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from licodec.config import CodecConfig


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


def latent_loss(student_y_hat: Tensor, teacher_y_hat: Tensor, teacher_y_likelihoods: Tensor) -> Tensor:
    """L_latent = MSE(ŷ_S, the teacher's top-C_S entropy channels of ŷ_T) (eq. 8), per sample.

    Student channel j learns the teacher's j-th highest-entropy channel, so the student's first
    ChARM slices (coded first, conditioning the rest) get the most informative channels.
    """
    selected = top_entropy_channels(teacher_y_likelihoods, student_y_hat.shape[1])
    return per_sample_mse(student_y_hat, teacher_y_hat[:, selected])


class FeatureAdapters(nn.Module):
    """1×1 convs that map each student feature to the teacher's channel count (FEDS §3.3).

    Pairs are the outputs of g_a's and g_s's stages except the latent ones (y itself, which
    L_latent covers, and x̂, which L_output covers): the stages where both nets have N channels.
    """

    def __init__(self, student: CodecConfig, teacher: CodecConfig, stages: int = 3) -> None:
        super().__init__()
        self.stages = stages
        convs = [nn.Conv2d(student.N, teacher.N, 1) for _ in range(2 * stages)]
        for conv in convs:  # start as the identity where channel counts allow
            nn.init.zeros_(conv.bias)
            nn.init.eye_(conv.weight.view(teacher.N, student.N))
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

    def uses_teacher(self, step: int) -> bool:
        return False

    def terms(self, step: int, student_out: dict, teacher_out: dict | None, scale: Tensor) -> dict[str, Tensor]:
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

    def __init__(self, student: CodecConfig, teacher: CodecConfig, steps: int,
                 weights: FedsWeights = FedsWeights()) -> None:
        super().__init__()
        self.weights = weights
        self.align_end = math.floor(weights.align * steps)
        self.distill_end = math.floor((weights.align + weights.distill) * steps)
        self.adapters = FeatureAdapters(student, teacher)

    def phase(self, step: int) -> str:
        if step < self.align_end:
            return "align"
        return "distill" if step < self.distill_end else "finetune"

    def uses_teacher(self, step: int) -> bool:
        return self.phase(step) != "finetune"

    def terms(self, step: int, student_out: dict, teacher_out: dict | None, scale: Tensor) -> dict[str, Tensor]:
        phase, w = self.phase(step), self.weights
        if phase == "finetune":
            return {}
        assert teacher_out is not None
        terms = {
            "output": w.alpha * output_loss(student_out["x_hat"], teacher_out["x_hat"]),
            "feature": w.beta * self.adapters(student_out, teacher_out),
        }
        if phase == "distill":
            terms["latent"] = w.gamma * latent_loss(student_out["y_hat"], teacher_out["y_hat"],
                                                    teacher_out["likelihoods"]["y"])
        terms["output"] = terms["output"] * scale
        return {name: value.mean() for name, value in terms.items()}
