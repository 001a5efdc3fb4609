"""`python -m licodec.models`: parameter counts of every named architecture, per part (PARTS)."""
from __future__ import annotations

from licodec.config import CONFIGS
from licodec.models import LicModel
from licodec.models.codec import PARTS, part_sizes


def main() -> None:
    print("| architecture | total (M) | " + " | ".join(PARTS) + " |")
    print("|---|---|" + "---|" * len(PARTS))
    for name, config in CONFIGS.items():
        model = LicModel(config)
        sizes = part_sizes(model)
        total = sum(p.numel() for p in model.parameters())
        print(f"| {name} | {total / 1e6:.2f} | " + " | ".join(f"{sizes[part] / 1e6:.2f}" for part in PARTS) + " |")


if __name__ == "__main__":
    main()
