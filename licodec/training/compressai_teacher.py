"""A CompressAI model as the frozen teacher: `--teacher compressai:ARCH:PATH` (as PRIM did).

Only the GDN-based CompressAI architectures are accepted: their g_a and g_s have a GDN (or
inverse GDN) after each of the first three resolution changes, exactly where licodec's stages
hand over, so FEDS can pair their features with the student's. CompressAI models are
single-rate: the teacher answers every quality level with its one rate point, so distill from
the checkpoint whose λ sits inside the student's range. compressai is imported only here.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from licodec.compressai_compat import allow_without_torchvision
from licodec.errors import LicodecError

PREFIX = "compressai:"
ARCHITECTURES = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018")


def is_compressai_spec(spec: str | Path) -> bool:
    return str(spec).startswith(PREFIX)


class CompressAITeacher(nn.Module):
    """Gives a CompressAI model the teacher interface FEDS reads: x̂, likelihoods, ŷ and the
    g_a / g_s features (outputs of their GDN layers, collected with forward hooks)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.feature_width = int(net.g_a[0].weight.shape[0])
        self._captured: dict[str, list[Tensor]] = {"features_a": [], "features_s": [], "y_hat": []}
        for key, transform in (("features_a", net.g_a), ("features_s", net.g_s)):
            for layer in transform:
                if type(layer).__name__ == "GDN":
                    layer.register_forward_hook(self._collector(key))
        net.g_s.register_forward_pre_hook(lambda _module, args: self._captured["y_hat"].append(args[0]))

    def _collector(self, key: str):
        return lambda _module, _args, output: self._captured[key].append(output)

    def forward(self, x: Tensor, quality: Tensor, features: bool = False) -> dict:
        for captured in self._captured.values():
            captured.clear()
        out = self.net(x)
        out["y_hat"] = self._captured["y_hat"][0]
        if features:
            out["features_a"] = list(self._captured["features_a"])
            out["features_s"] = list(self._captured["features_s"])
        return out


def load_compressai_teacher(spec: str, device: str = "cpu") -> CompressAITeacher:
    """`compressai:ARCH:PATH`: a CompressAI checkpoint (its state dict, or a training checkpoint
    holding one under "state_dict"), read with torch.load(weights_only=True): no pickled code runs."""
    allow_without_torchvision()
    try:
        from compressai.zoo.image import model_architectures
        from compressai.zoo.pretrained import load_pretrained
    except ImportError:
        raise LicodecError("a CompressAI teacher needs compressai: pip install 'licodec[compressai]'") from None
    arch, _, path = spec[len(PREFIX):].partition(":")
    if arch not in ARCHITECTURES:
        raise LicodecError(f"CompressAI teacher {arch!r} is not supported (use one of: {', '.join(ARCHITECTURES)})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise LicodecError(f"{path}: no such file") from None
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        raise LicodecError(f"{path}: not a readable CompressAI checkpoint ({e.__class__.__name__})") from None
    state = state.get("state_dict", state)
    try:
        net = model_architectures[arch].from_state_dict(load_pretrained(state))
    except (KeyError, RuntimeError) as e:
        raise LicodecError(f"{path} does not hold {arch} weights ({e.__class__.__name__})") from None
    return CompressAITeacher(net).to(device)
