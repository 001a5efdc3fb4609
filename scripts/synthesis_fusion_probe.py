"""What fusing g_s's convolutions with their element-wise neighbours would buy: the shipped
student's g_s as licodec runs it (eager, bfloat16 autocast) against the same weights in
bfloat16, traced and passed through torch.jit.optimize_for_inference (oneDNN post-op fusion,
weight pre-packing), with the preparation time a process would pay once.

    python scripts/synthesis_fusion_probe.py --latent 32x48

Not used by licodec: a measurement for the speed issue (a 768×512 image is a 32×48 latent).
"""
from __future__ import annotations

import argparse
import copy
import time
import warnings

import torch

from licodec.evaluation.bench import median_time
from licodec.weights import load_model, resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent", default="32x48", help="HxW of ŷ")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # tracing warns about the python-side lower bound
    net = load_model(resolve("student"))
    channels = net.latent_codec.slices * net.latent_codec.slice_channels
    height, width = (int(v) for v in args.latent.split("x"))
    y = torch.randn(1, channels, height, width).contiguous(memory_format=torch.channels_last)
    eager = net.g_s.eval()
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            reference = eager(y).float()
            eager_time = median_time(lambda: eager(y), 7)
        began = time.perf_counter()
        fused = torch.jit.optimize_for_inference(torch.jit.trace(copy.deepcopy(eager).to(torch.bfloat16), y.bfloat16()))
        fused(y.bfloat16())
        preparation = time.perf_counter() - began
        fused_time = median_time(lambda: fused(y.bfloat16()), 7)
        difference = (fused(y.bfloat16()).float() - reference).abs().max().item()
    print(f"g_s on a {height}x{width} latent, {args.threads} threads: eager bfloat16 autocast "
          f"{1000 * eager_time:.1f} ms; traced + optimize_for_inference in bfloat16 {1000 * fused_time:.1f} ms "
          f"(preparation {preparation:.2f} s once per process); largest difference {difference:.4f}")


if __name__ == "__main__":
    main()
