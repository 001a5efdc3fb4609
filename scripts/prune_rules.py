"""Which channels to keep when the fast student is pruned from the shipped student (distillation issue).

    OMP_NUM_THREADS=2 python scripts/prune_rules.py ../shared/data/train > results/distillation/prune-rules.md

Three rules rank each space's channels (licodec.training.prune): downstream energy (the one
`licodec distill --derive-student --arch fast` uses), the leading channels, and a random
draw. Each pruned model, before any training, is validated on the 24 held-out images of DATA
(estimated rates, as training validates) at q 1, 4 and 8; the ranking sees 16 crops of the
training images. The better the start, the less of a short distillation run is spent undoing it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

import licodec.training.prune as prune_module
from licodec.config import get_config
from licodec.models import LicModel
from licodec.training.data import CropSampler, split_holdout
from licodec.training.validate import load_images, validate
from licodec.weights import load_model, read_info

TEACHER = Path("weights/student.safetensors")
QUALITIES = (1, 4, 8)


def leading(model: LicModel, crops: torch.Tensor) -> dict[str, torch.Tensor]:
    widths = prune_module.space_widths(model.config)
    return {space: torch.arange(width, 0, -1).float() for space, width in widths.items()}


def random(model: LicModel, crops: torch.Tensor) -> dict[str, torch.Tensor]:
    widths, g = prune_module.space_widths(model.config), torch.Generator().manual_seed(0)
    return {space: torch.rand(width, generator=g) for space, width in widths.items()}


def main() -> None:
    data = Path(sys.argv[1])
    torch.manual_seed(0)
    teacher = load_model(read_info(TEACHER))
    train, held_out = split_holdout(data, 24)
    crops = CropSampler(train, 256, seed=0).batch(16)
    images = load_images(held_out)
    rules = {"downstream energy": prune_module.downstream_energy, "leading channels": leading, "random": random}
    print(f"# Pruning rules: `fast` from {TEACHER} (model {read_info(TEACHER).model_id.hex()}), before training\n")
    print("Held-out images (24), estimated bpp / PSNR:\n")
    print("| start | " + " | ".join(f"q{q}" for q in QUALITIES) + " |")
    print("|---|" + "---|" * len(QUALITIES))
    results = {"the teacher itself": validate(teacher, images, QUALITIES)}
    for name, rule in rules.items():
        prune_module.downstream_energy = rule  # prune() ranks by whatever this names
        student = LicModel(get_config("fast"))
        student.load_state_dict(prune_module.prune(teacher, get_config("fast"), crops))
        results[name] = validate(student, images, QUALITIES)
    results["random initialisation"] = validate(LicModel(get_config("fast")), images, QUALITIES)
    for name, val in results.items():
        print(f"| {name} | " + " | ".join(f"{val[f'q{q}']['bpp']:.3f} / {val[f'q{q}']['psnr']:.2f}" for q in QUALITIES)
              + " |")


if __name__ == "__main__":
    main()
