"""Which widths suit the CPU for the fast student: g_a + g_s time at N = 24 … 56 (distillation issue).

    OMP_NUM_THREADS=2 python scripts/fast_widths.py > results/distillation/widths.md

The `fast` config with only N (and z, at 1.5 N rounded to 16) varied; random weights, since a
transform's time does not depend on its weights. Each width runs g_a on a Kodak-sized image and
g_s on its latent, through the inference engine as files are coded (channels-last, the
machine's precision, fused kernels), the median of 7 runs after a warm-up. kMAC/px counts the
whole model (torch.utils.flop_counter). One run on a shared machine: compare within the table.
"""
from __future__ import annotations

import platform
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from licodec.config import get_config
from licodec.evaluation.bench import median_time
from licodec.models import LicModel
from licodec.precision import transform_precision

HEIGHT, WIDTH = 512, 768
WIDTHS = (24, 32, 40, 48, 56)
REPEATS = 7


def kmacs_per_pixel(model: LicModel) -> float:
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, torch.tensor([4.0]))
    return counter.get_total_flops() / 2 / 256**2 / 1e3


def main() -> None:
    torch.manual_seed(0)
    x = torch.randint(0, 256, (1, 3, HEIGHT, WIDTH), dtype=torch.uint8)
    print(f"# g_a + g_s time by width ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, {transform_precision()})\n")
    print("| N | z | parameters (M) | kMAC/px | g_a (s) | g_s (s) | both (s) | s per GMAC |")
    print("|---|---|---|---|---|---|---|---|")
    for n in WIDTHS:
        config = replace(get_config("fast"), N=n, hyper_channels=max(16, round(1.5 * n / 16) * 16))
        model = LicModel(config)
        kmacs = kmacs_per_pixel(model.eval())
        model.for_inference()
        y = model.analysis(x)
        analysis = median_time(lambda: model.analysis(x), REPEATS)
        synthesis = median_time(lambda: model.synthesis(torch.round(y), HEIGHT, WIDTH), REPEATS)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        gmacs = kmacs * HEIGHT * WIDTH / 1e6
        print(f"| {n} | {config.hyper_channels} | {params:.2f} | {kmacs:.1f} | {analysis:.3f} | {synthesis:.3f} | "
              f"{analysis + synthesis:.3f} | {(analysis + synthesis) / gmacs:.4f} |")


if __name__ == "__main__":
    with torch.no_grad():
        main()
