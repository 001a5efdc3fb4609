"""What a bfloat16 convolution costs against float32 under each instruction set oneDNN may use.

    python scripts/bf16_isa_probe.py > results/precision/isa-probe.md

One 3×3 convolution, 64 → 64 channels on a 256² channels-last input (a g_s layer's shape),
1 thread, median of 7 after a warm-up, in a fresh process per case: float32, and bfloat16
autocast, each with oneDNN capped by ONEDNN_MAX_CPU_ISA (unset: the best this CPU has; AMX on a
Sapphire Rapids Xeon). Capping an AMX Xeon at AVX512_CORE_BF16 runs the instructions an AMD
EPYC Zen 4 has (the same numerics), not its speed: a speed for that kind needs that machine.
"""
from __future__ import annotations

import os
import subprocess
import sys

from licodec.precision import cpu_kind, cpu_name

CASE = """
import statistics, time, torch
torch.set_num_threads(1)
x = torch.randn(1, 64, 256, 256).to(memory_format=torch.channels_last)
conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
def run():
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled={bfloat16}):
        conv(x)
run()
times = []
for _ in range(7):
    began = time.perf_counter()
    run()
    times.append(time.perf_counter() - began)
print(statistics.median(times))
"""
CAPS = ("", "AVX512_CORE_BF16", "AVX512_CORE")


def milliseconds(cap: str, bfloat16: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    done = subprocess.run([sys.executable, "-c", CASE.format(bfloat16=bfloat16)], capture_output=True, text=True,
                          env=env, check=True)
    return 1000 * float(done.stdout)


def main() -> None:
    print(f"# bfloat16 against float32 convolutions by instruction set ({cpu_name()}, {cpu_kind()})\n")
    print("`python scripts/bf16_isa_probe.py`: one 3×3 conv, 64 → 64, 256², 1 thread, ms (median of 7).\n")
    print("| ONEDNN_MAX_CPU_ISA | float32 | bfloat16 | bfloat16 ÷ float32 |")
    print("|---|---|---|---|")
    for cap in CAPS:
        f32, bf16 = milliseconds(cap, False), milliseconds(cap, True)
        print(f"| {cap or '(unset: the best here)'} | {f32:.1f} | {bf16:.1f} | {bf16 / f32:.2f} |", flush=True)


if __name__ == "__main__":
    main()
