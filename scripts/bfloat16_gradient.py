"""How far one batch's training gradient moves when g_a/g_s run in bfloat16, against how far
another batch's float32 gradient lies (the minibatch noise it must stay under).

    python scripts/bfloat16_gradient.py ../shared/data/train > results/training-speed/bfloat16-gradient.md

On the shipped student, batch 8 of 256² (one level each), g_a/g_s parameters: |g − g_float32| / |g_float32|
for bfloat16 everywhere, and with the two pixel-touching convolutions back in float32 (as training runs).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from licodec.models.charm import per_sample_noise
from licodec.models.layers import FullPrecisionConv2d
from licodec.training import distributed
from licodec.training.options import TrainOptions
from licodec.training.train import noise_seed, prepare


def gradient(session, x: torch.Tensor, quality: torch.Tensor, bfloat16: bool) -> torch.Tensor:
    model = session.trainee.model
    model.training_bfloat16 = bfloat16
    model.zero_grad()
    with per_sample_noise([noise_seed(0, 0, i) for i in range(len(x))]):
        session.trainee(0, None, x, quality)["loss"].backward()
    return torch.cat([p.grad.flatten() for n, p in model.named_parameters()
                      if p.grad is not None and n.startswith(("g_a.", "g_s."))])


def main() -> None:
    torch.set_num_threads(2)
    opts = TrainOptions(arch="student", data=Path(sys.argv[1]), out=Path("/tmp/bfloat16-gradient"), steps=1,
                        batch=8, holdout=24, init=Path("weights/student.safetensors"), precision="float32")
    session = prepare(distributed.Processes(), opts)
    first, second = (session.sampler.batch(8).contiguous(memory_format=torch.channels_last) for _ in range(2))
    quality = torch.arange(1, 9)
    reference = gradient(session, first, quality, False)
    rows = {"float32, another batch": gradient(session, second, quality, False),
            "bfloat16, first g_a and last g_s conv in float32 (training)": gradient(session, first, quality, True)}
    pixel_convs = [m for m in session.trainee.model.modules() if isinstance(m, FullPrecisionConv2d)]
    for m in pixel_convs:  # every convolution in bfloat16
        m.__class__ = torch.nn.Conv2d
    rows["bfloat16, every convolution"] = gradient(session, first, quality, True)
    named = [n for n, p in session.trainee.model.named_parameters() if p.grad is not None and n.startswith(("g_a.", "g_s."))]
    sizes = [p.numel() for n, p in session.trainee.model.named_parameters() if n in named]
    for name in ("g_a.stages.0.0.weight", "g_s.stages.3.0.weight"):  # the pixel-touching convolutions
        start = sum(sizes[: named.index(name)])
        part = slice(start, start + sizes[named.index(name)])
        ratio = rows["bfloat16, every convolution"][part].norm() / reference[part].norm()
        print(f"{name}: gradient norm with every convolution in bfloat16 = {float(ratio):.1f}× float32's\n")
    print("| gradient of g_a/g_s (one batch of 8) | cosine with float32 | |difference| / |float32| |\n|---|---|---|")
    for name, g in rows.items():
        cosine = float(torch.nn.functional.cosine_similarity(reference, g, dim=0))
        print(f"| {name} | {cosine:.3f} | {float((g - reference).norm() / reference.norm()):.2f} |")


if __name__ == "__main__":
    main()
