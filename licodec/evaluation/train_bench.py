"""Training speed (`make bench-train`): crops/s and achieved TFLOP/s of the real training step.

Each configuration (architecture × precision × eager/compiled × processes × threads) runs in a
fresh process (under torchrun when it has several), so that compile caches, thread pools and
allocators never carry over: `prepare` and `Session.step` are the training loop's own, on real
crops of --data. The time of a step is the median after the warm-up steps (which include
torch.compile's tracing, reported apart). FLOPs per crop are counted once per architecture by
torch.utils.flop_counter over the forward and backward of the RD loss; "TFLOP/s" divides them
by the median step time. This machine is shared and noisy: compare the ratios of one run.

    python -m licodec.evaluation.train_bench --data ../shared/data/train -o results/training-speed
    python -m licodec.evaluation.train_bench --data ../shared/data/train --arch teacher --mode eager \
        -o results/training-speed --append   # make bench-train: both
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode

from licodec.config import get_config
from licodec.models import LicModel
from licodec.precision import cpu_kind, cpu_name, training_precision
from licodec.training import distributed
from licodec.training.losses import rate_distortion


@dataclass(frozen=True)
class Case:
    arch: str
    precision: str  # float32 | bfloat16
    compile: bool
    processes: int
    threads: int  # per process
    batch: int  # global

    @property
    def name(self) -> str:
        mode = "compiled" if self.compile else "eager"
        return f"{self.arch} {self.precision} {mode} {self.processes}×{self.threads}"


def training_flops_per_crop(arch: str, patch: int) -> float:
    """FLOPs of one crop's training forward + backward (the RD loss at a middle level)."""
    model = LicModel(get_config(arch)).train()
    x = torch.rand(1, 3, patch, patch)
    quality = torch.tensor([model.config.levels // 2])
    lambdas = torch.tensor(model.config.lambdas)[quality - 1]
    with FlopCounterMode(display=False) as counter:
        rate_distortion(model(x, quality), x, lambdas)["loss"].backward()
    return float(counter.get_total_flops())


def peak_rates(threads: int, device: str = "cpu") -> dict[str, float]:
    """TFLOP/s of a 2048² matmul and of a 3×3 64-channel convolution (batch 8 of 128²) in float32
    and bfloat16: what this machine's matrix units give either precision, the ceiling of the ratio
    a training step can reach."""
    torch.set_num_threads(threads)
    rates = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = (torch.randn(2048, 2048, device=device, dtype=dtype) for _ in range(2))
        x = torch.randn(8, 64, 128, 128, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
        conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device, dtype).to(memory_format=torch.channels_last)
        name = "float32" if dtype == torch.float32 else "bfloat16"
        with torch.no_grad():
            rates[f"matmul {name}"] = 2 * 2048**3 / _median_seconds(lambda: a @ b, device) / 1e12
            rates[f"conv {name}"] = 2 * x.numel() * 64 * 9 / _median_seconds(lambda: conv(x), device) / 1e12
    return rates


def _median_seconds(work, device: str, repeats: int = 5) -> float:
    work()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        _synchronize(device)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def run_worker(spec: dict) -> dict | None:
    """Time `spec`'s steps in this process (one rank of it under torchrun); rank 0 answers."""
    from licodec.training.options import TrainOptions
    from licodec.training.train import prepare

    processes = distributed.start(spec["device"])
    try:
        with tempfile.TemporaryDirectory() as out:
            opts = TrainOptions(arch=spec["arch"], data=Path(spec["data"]), out=Path(out), steps=10**6,
                                patch=spec["patch"], batch=spec["batch"], threads=spec["threads"],
                                compile=spec["compile"], precision=spec["precision"], device=processes.device)
            session = prepare(processes, opts)
            times = []
            for step in range(spec["warmup"] + spec["steps"]):
                with _profiled(spec.get("profile") and step == spec["warmup"]) as profile:
                    began = time.perf_counter()
                    session.step(opts, processes, step)
                    _synchronize(processes.device)
                    times.append(time.perf_counter() - began)
                if profile is not None:
                    table = profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
    finally:
        distributed.stop(processes)
    if not processes.is_main:
        return None
    answer = {"step_seconds": statistics.median(times[spec["warmup"]:]), "warmup_seconds": sum(times[: spec["warmup"]])}
    return answer | ({"profile": table} if spec.get("profile") else {})


@contextmanager
def _profiled(enabled: bool) -> Iterator[torch.profiler.profile | None]:
    if not enabled:
        yield None
        return
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        yield profile


def _synchronize(device: str) -> None:
    """A step's time includes its device work (the loop itself waits only when it logs)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(case: Case, data: Path, patch: int, steps: int, warmup: int, device: str, profile: bool = False) -> dict:
    """One case in a fresh process; an error is reported in the row, not raised. `profile`: also
    the operators of the first timed step (torch.profiler), as a table."""
    spec = {**asdict(case), "data": str(data), "patch": patch, "steps": steps, "warmup": warmup, "device": device,
            "profile": profile}
    command = [sys.executable, "-m", "licodec.evaluation.train_bench", "--worker", json.dumps(spec)]
    if case.processes > 1:
        command[1:3] = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={case.processes}",
                        "-m", "licodec.evaluation.train_bench"]
    env = {**os.environ, "OMP_NUM_THREADS": str(case.threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def cases(archs: list[str], precisions: list[str], compiles: list[bool], layouts: list[tuple[int, int]],
          batch: int) -> list[Case]:
    return [Case(a, p, c, n, t, batch) for a, p, c, (n, t) in itertools.product(archs, precisions, compiles, layouts)]


def run(all_cases: list[Case], data: Path, patch: int, steps: int, warmup: int, device: str, report,
        profile: bool = False) -> dict:
    """Every case in turn; with `profile`, the fastest bfloat16 eager case is also profiled."""
    flops = {arch: training_flops_per_crop(arch, patch) for arch in sorted({c.arch for c in all_cases})}
    rows = []
    for case in all_cases:
        result = measure(case, data, patch, steps, warmup, device, profile and case.precision == "bfloat16"
                         and not case.compile and case.processes == 1)
        row = {**asdict(case), **result}
        if "step_seconds" in result:
            row["crops_per_second"] = case.batch / result["step_seconds"]
            row["tflops"] = flops[case.arch] * row["crops_per_second"] / 1e12
        rows.append(row)
        report(line(row))
    return {"patch": patch, "steps": steps, "warmup": warmup, "device": device, "threads_available": os.cpu_count(),
            "cpu": cpu_name(), "cpu_kind": cpu_kind(), "torch": torch.__version__, "flops_per_crop": flops,
            "rows": rows, "peak": peak_rates(os.cpu_count() or 1, device)}



def line(row: dict) -> str:
    name = Case(**{k: row[k] for k in Case.__dataclass_fields__}).name
    if "error" in row:
        return f"{name}: failed ({row['error']})"
    return (f"{name}: {row['step_seconds']:.3f} s/step, {row['crops_per_second']:.1f} crops/s, "
            f"{row['tflops']:.3f} TFLOP/s (warm-up {row['warmup_seconds']:.0f} s)")


def markdown(results: dict) -> str:
    """The table, and each case's speed against float32 eager of the same arch and layout."""
    rows = results["rows"]
    base = {(r["arch"], r["processes"], r["threads"]): r for r in rows
            if r["precision"] == "float32" and not r["compile"] and "step_seconds" in r}
    kind = f", {results['cpu_kind']}" if "cpu_kind" in results else ""
    out = [f"Training speed, {results['device']} ({results['cpu']}{kind}, {results['threads_available']} threads), "
           f"torch "
           f"{results['torch']}: batch of {rows[0]['batch'] if rows else '?'} crops of {results['patch']}², median of "
           f"{results['steps']} steps after {results['warmup']} warm-up steps (`python -m licodec.evaluation.train_bench`).",
           "", "| arch | precision | mode | processes × threads | s/step | crops/s | TFLOP/s | × float32 eager | warm-up s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mode = "compiled" if r["compile"] else "eager"
        head = f"| {r['arch']} | {r['precision']} | {mode} | {r['processes']} × {r['threads']} |"
        if "error" in r:
            out.append(f"{head} failed: {r['error'][:80]} | | | | |")
            continue
        reference = base.get((r["arch"], r["processes"], r["threads"]))
        ratio = f"{reference['step_seconds'] / r['step_seconds']:.2f}" if reference else "—"
        out.append(f"{head} {r['step_seconds']:.3f} | {r['crops_per_second']:.1f} | {r['tflops']:.3f} | {ratio} | "
                   f"{r['warmup_seconds']:.0f} |")
    flops = ", ".join(f"{a} {f / 1e9:.1f}" for a, f in results["flops_per_crop"].items())
    out += ["", f"GFLOP per crop (forward + backward, torch.utils.flop_counter): {flops}.", ""]
    if "peak" in results:
        peak = results["peak"]
        rates = ", ".join(f"{k} {v:.3f}" for k, v in peak.items())
        out += [f"This machine's matrix rates in TFLOP/s (`peak_rates`, all threads): {rates}; bfloat16 / float32 = "
                f"{peak['matmul bfloat16'] / peak['matmul float32']:.2f} (matmul), "
                f"{peak['conv bfloat16'] / peak['conv float32']:.2f} (convolution).", ""]
    for r in rows:
        if "profile" in r:
            out += [f"Where one step of {r['arch']} bfloat16 eager {r['processes']} × {r['threads']} goes "
                    "(torch.profiler, self CPU time):", "", "```", r["profile"].strip(), "```", ""]
    return "\n".join(out)


def _layouts(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in item.split("x")) for item in text.split(",")]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--arch", default="student,teacher")
    parser.add_argument("--precision", default="float32,bfloat16")
    parser.add_argument("--mode", default="eager,compiled", help="eager, compiled or both")
    parser.add_argument("--layouts", default="1x2,2x1", help="processes x threads per process, comma-separated")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--append", action="store_true", help="add these rows to OUTPUT's earlier ones")
    parser.add_argument("--profile", action="store_true", help="profile the bfloat16 eager 1-process cases")
    args = parser.parse_args()
    if args.worker:
        answer = run_worker(json.loads(args.worker))
        if answer is not None:
            print(json.dumps(answer), flush=True)
        return
    if args.data is None:
        parser.error("--data is required")
    precisions = [training_precision(p, args.device) for p in args.precision.split(",")]
    compiles = [mode == "compiled" for mode in args.mode.split(",")]
    all_cases = cases(args.arch.split(","), precisions, compiles, _layouts(args.layouts), args.batch)
    results = run(all_cases, args.data, args.patch, args.steps, args.warmup, args.device,
                  lambda text: print(text, file=sys.stderr, flush=True), args.profile)
    earlier = args.output / "train-bench.json" if args.output else None
    if args.append and earlier and earlier.exists():
        previous = json.loads(earlier.read_text())
        results["rows"] = previous["rows"] + results["rows"]
        results["flops_per_crop"] = previous["flops_per_crop"] | results["flops_per_crop"]
        results["peak"] = previous.get("peak", results["peak"])
    report = markdown(results)
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "train-bench.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.output / "train-bench.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
