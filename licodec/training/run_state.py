"""What a training run keeps on disk to go on after a stop: its checkpoint (weights, optimisers,
random states, the moving average) and its log of records, one JSON line per logged step.

A checkpoint is replaced atomically, so a kill leaves the previous one; a resumed run drops the
log records written after the checkpoint it resumes from, and redoes those steps.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

from licodec.files import replace_atomically
from licodec.training.data import CropSampler

# A record's fields that are not loss terms. "seconds" is the loop's wall clock across resumes;
# "cpu_seconds" the CPU time of the process (all its threads), which a paused (SIGSTOP) or
# starved run does not inflate: the cost axis for comparing runs on a shared machine.
COUNTERS = ("step", "lr", "batch", "processes", "seconds", "cpu_seconds")


def finished(record: dict) -> dict:
    """A step's record with its values read back (the host waits for the device here)."""
    values = {k: float(v) if isinstance(v, Tensor) else v for k, v in record.items()}
    if not math.isfinite(values["loss"]):
        raise RuntimeError(f"loss is {values['loss']} at step {values['step']}")
    return {k: v if k in COUNTERS else round(v, 3 if k == "aux" else 5) for k, v in values.items()}


def save_checkpoint(path: Path, trainee: nn.Module, optimizer: Optimizer, aux_optimizer: Optimizer,
                    sampler: CropSampler, ema: AveragedModel | None, step: int, seconds: float,
                    cpu_seconds: float = 0.0) -> None:
    """Everything a resumed run needs to go on as if it had not stopped, in one file."""
    state = {
        "model": trainee.model.state_dict(), "strategy": trainee.strategy.state_dict(),
        "optimizer": optimizer.state_dict(), "aux_optimizer": aux_optimizer.state_dict(),
        "step": step, "seconds": seconds, "cpu_seconds": cpu_seconds, "torch_rng": torch.get_rng_state(),
        "sampler_rng": sampler.generator.get_state(),
    }
    if ema is not None:
        state["ema"] = ema.state_dict()
    replace_atomically(path, lambda tmp: torch.save(state, tmp))  # a kill leaves the previous checkpoint


def load_checkpoint(path: Path, trainee: nn.Module, optimizer: Optimizer, aux_optimizer: Optimizer,
                    sampler: CropSampler, ema: AveragedModel | None) -> tuple[int, float, float]:
    """Restore a run from save_checkpoint's file; the step, seconds and CPU seconds it had reached. The
    learning rates stay this run's (its --lr / --gain-lr), not the checkpoint's."""
    state = torch.load(path, weights_only=True, map_location="cpu")
    if ema is not None and "ema" in state:  # else the average starts at the resumed weights (first update)
        ema.load_state_dict(state["ema"])
    trainee.model.load_state_dict(state["model"])
    trainee.strategy.load_state_dict(state.get("strategy", {}))  # checkpoints of plain runs may lack it
    base_lrs = [group["base_lr"] for group in optimizer.param_groups]
    optimizer.load_state_dict(state["optimizer"])
    for group, base_lr in zip(optimizer.param_groups, base_lrs):  # this run's --lr / --gain-lr rule
        group["base_lr"] = base_lr
    aux_lr = aux_optimizer.param_groups[0]["lr"]
    aux_optimizer.load_state_dict(state["aux_optimizer"])
    aux_optimizer.param_groups[0]["lr"] = aux_lr
    torch.set_rng_state(state["torch_rng"])
    sampler.generator.set_state(state["sampler_rng"])
    return state["step"], state.get("seconds", 0.0), state.get("cpu_seconds", 0.0)


def mean_record(records: list[dict]) -> dict:
    """One log record for several steps: the last step's counters, the mean of each loss term over
    the steps that have it (a strategy's phase can begin inside the window: FEDS's latent term)."""
    last = records[-1]
    if len(records) == 1:
        return last
    terms = dict.fromkeys(k for r in records for k in r if k not in COUNTERS)
    means = {}
    for k in terms:
        values = [r[k] for r in records if k in r]
        means[k] = round(sum(values) / len(values), 5)
    return {**last, **means, "steps_averaged": len(records)}


def truncate_log(path: Path, step: int) -> None:
    """Drop records a killed run wrote after its last checkpoint: the resumed run redoes them."""
    if path.exists():
        kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in kept))
