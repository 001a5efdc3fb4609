"""A narrower student pruned from a trained model's weights (KDIC's teacher-guided initialisation).

Every channel dimension of every tensor belongs to a *space*: the residual stream of a g_a/g_s
stage, a block's hidden layer, a y slice, z, a slice transform's hidden layer, and so on. A
space is pruned once, to the same channels in every tensor that produces or reads it, so that
the pruned network computes a sub-network of the original. Which channels stay is decided by
one rule, named here **downstream energy**: a channel's importance is the energy it sends to
the layers that read it, Σ over reading convolutions of E[x_c²]·‖W[:, c]‖², with E[x_c²]
measured on training crops at every quality level. (Weight norms alone ignore the channel's
own scale, which GDN and the gains set; activations alone ignore whether anything listens.)

The two models must share the architecture's families and depth: the same blocks per group,
residual groups, slices and slice support, no attention; widths (N, M, z, slice transforms) may
shrink. A y slice keeps its most important channels of the same slice, so the student's slice i
conditions on what the teacher's slice i did.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from licodec.config import CodecConfig
from licodec.models import LicModel

SHARED_FIELDS = ("residual_groups", "blocks_per_group", "slices", "max_support_slices", "attention_layers", "levels")


@dataclass(frozen=True)
class Segment:
    """A run of `space`'s channels in a tensor dimension; `repeat` > 1 where a pixel shuffle
    follows (its channel c is the convolution's outputs c·r² … c·r² + r² − 1)."""
    space: str
    repeat: int = 1


Dims = tuple[tuple[Segment, ...] | None, ...]  # per tensor dimension: its segments, or None (kept whole)


def check_prunable(teacher: CodecConfig, student: CodecConfig) -> None:
    differing = [f for f in SHARED_FIELDS if getattr(teacher, f) != getattr(student, f)]
    if differing:
        raise ValueError(f"pruning keeps the architecture's depth: the student's {', '.join(differing)} differ")
    if len(student.slice_hidden) != len(teacher.slice_hidden):
        raise ValueError("pruning keeps the architecture's depth: the student's slice transforms have other depths")
    if teacher.attention_layers:
        raise ValueError("pruning covers models without attention")
    widths = ("N", "M", "hyper_channels", "slice_channels")
    if any(getattr(student, f) > getattr(teacher, f) for f in widths) or any(
            s > t for s, t in zip(student.slice_hidden, teacher.slice_hidden)):
        raise ValueError("pruning only narrows: every student width must be at most the teacher's")


def space_widths(config: CodecConfig) -> dict[str, int]:
    """The width of every space of a config's model, by the names `layout` gives them."""
    widths: dict[str, int] = {"rgb": 3}
    for outputs, _ in _conv_spaces(config).values():
        for segment in outputs:
            widths.setdefault(segment.space, _width(config, segment.space))
    return widths


def _width(config: CodecConfig, space: str) -> int:
    kind = space.split(":")[0]
    if kind == "y":
        return config.slice_channels
    if kind == "z":
        return config.hyper_channels
    if kind in ("side-mean", "side-scale"):
        return config.M
    if kind == "slice-hidden":
        return config.slice_hidden[int(space.split(":")[-1])]
    return config.N


def _slices(config: CodecConfig) -> tuple[Segment, ...]:
    return tuple(Segment(f"y:{i}") for i in range(config.slices))


def _residual_group(prefix: str, stream: str, blocks: int) -> dict[str, tuple]:
    convs = {}
    for j in range(blocks):
        hidden = f"hidden:{prefix}.body.{j}"
        convs[f"{prefix}.body.{j}.body.0"] = ((Segment(hidden),), (Segment(stream),))
        convs[f"{prefix}.body.{j}.body.2"] = ((Segment(stream),), (Segment(hidden),))
    convs[f"{prefix}.body.{blocks}"] = ((Segment(stream),), (Segment(stream),))
    return convs


def _conv_spaces(config: CodecConfig) -> dict[str, tuple[tuple[Segment, ...], tuple[Segment, ...]]]:
    """Every convolution's (output segments, input segments), by module name."""
    blocks, y = config.blocks_per_group, _slices(config)
    convs: dict[str, tuple] = {}
    # g_a: a 5×5 conv into stage 0's stream, then a down block into each next stream; y last.
    convs["g_a.stages.0.0"] = ((Segment("g_a:0"),), (Segment("rgb"),))
    for stage in (1, 2):
        into, down = f"g_a:{stage}", f"down:g_a.{stage}"
        convs[f"g_a.stages.{stage}.0.body.0"] = ((Segment(down),), (Segment(f"g_a:{stage - 1}"),))
        convs[f"g_a.stages.{stage}.0.body.2"] = ((Segment(into),), (Segment(down),))
        convs[f"g_a.stages.{stage}.0.skip"] = ((Segment(into),), (Segment(f"g_a:{stage - 1}"),))
    if config.residual_groups:
        convs |= _residual_group("g_a.stages.0.2", "g_a:0", blocks)
        for stage in (1, 2):
            convs |= _residual_group(f"g_a.stages.{stage}.1", f"g_a:{stage}", blocks)
    convs["g_a.stages.3"] = (y, (Segment("g_a:2"),))
    # g_s: an up block out of ŷ, then out of each stream; the pixels last.
    sources = (y, (Segment("g_s:0"),), (Segment("g_s:1"),))
    for stage, source in enumerate(sources):
        into, up = f"g_s:{stage}", f"up:g_s.{stage}"
        convs[f"g_s.stages.{stage}.0.body.0.0"] = ((Segment(up, 4),), source)
        convs[f"g_s.stages.{stage}.0.body.2"] = ((Segment(into),), (Segment(up),))
        convs[f"g_s.stages.{stage}.0.skip.0"] = ((Segment(into, 4),), source)
        if config.residual_groups:
            convs |= _residual_group(f"g_s.stages.{stage}.{1 if stage == 0 else 2}", into, blocks)
    convs["g_s.stages.3.0"] = ((Segment("rgb", 4),), (Segment("g_s:2"),))
    # The hyperprior: h_a from the gained y to z; h_mean_s / h_scale_s from ẑ to the side.
    convs["latent_codec.h_a.0"] = ((Segment("h_a:0"),), y)
    convs["latent_codec.h_a.2"] = ((Segment("h_a:1"),), (Segment("h_a:0"),))
    convs["latent_codec.h_a.4"] = ((Segment("z"),), (Segment("h_a:1"),))
    for side in ("mean", "scale"):
        prefix = f"latent_codec.h_{side}_s"
        convs[f"{prefix}.0"] = ((Segment(f"h_{side}_s:0"),), (Segment("z"),))
        convs[f"{prefix}.2.0"] = ((Segment(f"h_{side}_s:1", 4),), (Segment(f"h_{side}_s:0"),))
        convs[f"{prefix}.4.0"] = ((Segment(f"side-{side}", 4),), (Segment(f"h_{side}_s:1"),))
    # The slice transforms: the side and the slices before (and, for LRP, this one) into slice i.
    for i in range(config.slices):
        support = y[: i if config.max_support_slices < 0 else min(i, config.max_support_slices)]
        inputs = {"cc_mean": (Segment("side-mean"), *support), "cc_scale": (Segment("side-scale"), *support),
                  "lrp": (Segment("side-mean"), *support, y[i])}
        for transform, source in inputs.items():
            hidden = [(Segment(f"slice-hidden:{transform}.{i}:{k}"),) for k in range(len(config.slice_hidden))]
            chain = [source, *hidden, (y[i],)]
            for k in range(len(chain) - 1):
                convs[f"latent_codec.{transform}.{i}.{2 * k}"] = (chain[k + 1], chain[k])
    return convs


def layout(config: CodecConfig) -> dict[str, Dims]:
    """Every tensor of the model's state dict: the segments of each of its dimensions."""
    dims: dict[str, Dims] = {}
    for name, (out, source) in _conv_spaces(config).items():
        dims[f"{name}.weight"] = (out, source, None, None)
        dims[f"{name}.bias"] = (out,)
    gdns = {"g_a.stages.0.1": "g_a:0", "g_a.stages.1.0.body.3": "g_a:1", "g_a.stages.2.0.body.3": "g_a:2",
            **{f"g_s.stages.{stage}.0.body.3": f"g_s:{stage}" for stage in (0, 1, 2)}}
    for name, space in gdns.items():
        dims[f"{name}.beta"] = ((Segment(space),),)
        dims[f"{name}.gamma"] = ((Segment(space),), (Segment(space),))
    y, z = _slices(config), (Segment("z"),)
    for table in ("log_gain", "log_inverse"):
        dims[f"latent_codec.y_gain.{table}"] = (None, y)
        dims[f"latent_codec.z_gain.{table}"] = (None, z)
    for name in LicModel(config).state_dict():
        if name.startswith("latent_codec.prior.") and name != "latent_codec.prior.target":
            dims[name] = (z,)
    return dims


def _indices(segments: tuple[Segment, ...], keep: dict[str, Tensor], widths: dict[str, int]) -> Tensor:
    """The source channels a pruned dimension takes, in order."""
    parts, offset = [], 0
    for segment in segments:
        kept = keep[segment.space]
        if segment.repeat > 1:
            kept = (kept[:, None] * segment.repeat + torch.arange(segment.repeat)).flatten()
        parts.append(kept + offset)
        offset += widths[segment.space] * segment.repeat
    return torch.cat(parts)


def downstream_energy(model: LicModel, crops: Tensor) -> dict[str, Tensor]:
    """Each space's channel importance: Σ over its readers of E[x_c²]·‖W[:, c]‖² (module docstring)."""
    convs, widths = _conv_spaces(model.config), space_widths(model.config)
    energy = {space: torch.zeros(width) for space, width in widths.items()}

    def hook(name: str):
        def record(module: nn.Conv2d, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            x = inputs[0].detach().float()
            reading = module.weight.detach().float().pow(2).sum(dim=(0, 2, 3))
            channel_energy = ((x * x).mean(dim=(0, 2, 3)) * reading).cpu()
            offset = 0
            for segment in convs[name][1]:
                width = widths[segment.space]
                energy[segment.space] += channel_energy[offset: offset + width]
                offset += width
        return record

    handles = [model.get_submodule(name).register_forward_hook(hook(name)) for name in convs]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            levels = torch.arange(len(crops)) % model.config.levels + 1
            model(crops, levels)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return energy


@dataclass(frozen=True)
class Pruned:
    state: dict[str, Tensor]  # the student's state dict
    y_channels: Tensor  # the teacher's y channel each student y channel came from


def prune(teacher: LicModel, student_config: CodecConfig, crops: Tensor) -> dict[str, Tensor]:
    """The student's state dict: each space's most important channels of the teacher's, by
    downstream energy on `crops` (ascending channel order within a space)."""
    return prune_with_channels(teacher, student_config, crops).state


def prune_with_channels(teacher: LicModel, student_config: CodecConfig, crops: Tensor) -> Pruned:
    """`prune`, and which teacher y channels the student's are (for FEDS's latent term)."""
    check_prunable(teacher.config, student_config)
    energy = downstream_energy(teacher, crops)
    student_widths, teacher_widths = space_widths(student_config), space_widths(teacher.config)
    keep = {space: torch.topk(energy[space], width).indices.sort().values for space, width in student_widths.items()}
    dims_of, state = layout(teacher.config), {}
    for name, tensor in teacher.state_dict().items():
        for dim, segments in enumerate(dims_of.get(name, ())):
            if segments is not None:
                tensor = tensor.index_select(dim, _indices(segments, keep, teacher_widths))
        state[name] = tensor.clone()
    expected = LicModel(student_config).state_dict()
    wrong = [name for name, tensor in expected.items() if state[name].shape != tensor.shape]
    if wrong:  # a tensor the layout does not describe: a bug here, not a user error
        raise AssertionError(f"pruned shapes differ from the student's: {', '.join(wrong)}")
    return Pruned(state, _indices(_slices(teacher.config), keep, teacher_widths))
