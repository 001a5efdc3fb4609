"""`licodec encode`/`decode` on an idle machine and beside another busy 2-thread job, with the
default threads and wait against fixed settings, in one run (fresh processes, medians of --repeats).

    python scripts/threads_under_load.py > results/threads/under-load.md

Run it on an otherwise idle machine: the "loaded" rows start their own load, a 2-thread torch
matrix-multiply job at normal priority, for their duration. The waits compared (libgomp, torch's
OpenMP on Linux): licodec's default (passive: sleep at once); "brief spin" (GOMP_SPINCOUNT=10000
iterations, then sleep); "spinning" (libgomp's own default, 300 000 iterations, as licodec was at
first). results/threads/spin-probe.md is this script at 82b37d2, whose default was the brief spin. A second table times what a
server does, warm calls in one process (licodec.encode / decode of a 768×512 photo).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LOAD = ("import torch, time\ntorch.set_num_threads(2)\na = torch.randn(1024, 1024)\n"
        "while True:\n    a = (a @ a).clamp_(-1, 1)")
SETTINGS = {  # name: (extra arguments, environment changes)
    "default": ([], {}),
    "--threads 1": (["--threads", "1"], {}),
    "--threads 2": (["--threads", "2"], {}),
    "brief spin (2 threads, GOMP_SPINCOUNT=10000)": (["--threads", "2"], {"GOMP_SPINCOUNT": "10000"}),
    "spinning (2 threads, libgomp's default)": (["--threads", "2"],
                                                {"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": "300000"}),
}
WAITS = {name: env for name, (_, env) in SETTINGS.items() if name == "default" or "threads, " in name}
WARM = ("import statistics, sys, time\nimport licodec\nfrom PIL import Image\nimage = Image.open(sys.argv[1])\n"
        "data = licodec.encode(image)\nlicodec.decode(data)\n"
        "def median(run):\n    times = []\n    for _ in range(7):\n        began = time.perf_counter()\n"
        "        run()\n        times.append(time.perf_counter() - began)\n    return statistics.median(times)\n"
        "print(median(lambda: licodec.encode(image)), median(lambda: licodec.decode(data)))")


@contextmanager
def load(active: bool) -> Iterator[None]:
    """Another 2-thread job on the machine while the block runs."""
    if not active:
        yield
        return
    job = subprocess.Popen([sys.executable, "-c", LOAD])
    time.sleep(3)  # past torch's import: the job is multiplying
    try:
        yield
    finally:
        job.kill()
        job.wait()


def environment(changes: dict[str, str]) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return {**kept, **changes}


def warm_calls(photo: Path, changes: dict[str, str]) -> tuple[float, float]:
    """(encode, decode) seconds of warm API calls in one process, with licodec's thread setup."""
    script = "from licodec.threads import prepare_openmp\nprepare_openmp()\n" + WARM
    done = subprocess.run([sys.executable, "-c", script, str(photo)], check=True, env=environment(changes), cwd=ROOT,
                          capture_output=True, text=True)
    encode, decode = (float(v) for v in done.stdout.split())
    return encode, decode


def timed(args: list[str], env_changes: dict[str, str], repeats: int) -> float:
    env = environment(env_changes)
    seconds = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "licodec", *args, "--force", "--quiet"], check=True, env=env,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
        seconds.append(time.monotonic() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo.png"  # ~1 MP
        Image.open(ROOT / "data/kodim23.png").resize((1224, 816), Image.LANCZOS).save(photo)
        batch = [Path(folder) / f"b{i}.png" for i in range(4)]
        for i, path in enumerate(batch):
            Image.open(ROOT / "data/kodim23.png").rotate(90 * i, expand=True).save(path)
        tasks = {
            "encode 1 MP": ["encode", str(photo), "-o", f"{folder}/photo.lic"],
            "decode 1 MP": ["decode", f"{folder}/photo.lic", "-o", f"{folder}/out.png"],
            "encode 4 × 768×512, -j 1": ["encode", *map(str, batch), "-o", f"{folder}/"],
        }
        subprocess.run([sys.executable, "-m", "licodec", *tasks["encode 1 MP"], "--force"], check=True, cwd=ROOT)
        print(f"# Threads on an idle and a loaded machine\n\n`python scripts/threads_under_load.py` "
              f"({os.cpu_count()} CPUs; seconds, median of {args.repeats} fresh processes; "
              f"loaded: another 2-thread job running)\n")
        print("| task | machine | " + " | ".join(SETTINGS) + " | default ÷ best |")
        print("|---|---|" + "---|" * (len(SETTINGS) + 1))
        for task, task_args in tasks.items():
            for loaded in (False, True):
                with load(loaded):
                    times = {name: timed(task_args + extra, env, args.repeats)
                             for name, (extra, env) in SETTINGS.items()}
                cells = " | ".join(f"{t:.2f}" for t in times.values())
                print(f"| {task} | {'loaded' if loaded else 'idle'} | {cells} | "
                      f"{times['default'] / min(times.values()):.2f} |", flush=True)
        print("\nWarm API calls in one process (768×512, median of 7, 2 threads; encode / decode seconds):\n")
        print("| machine | " + " | ".join(WAITS) + " |")
        print("|---|" + "---|" * len(WAITS))
        for loaded in (False, True):
            with load(loaded):
                cells = " | ".join("{:.3f} / {:.3f}".format(*warm_calls(ROOT / "data/kodim23.png", env))
                                   for env in WAITS.values())
            print(f"| {'loaded' if loaded else 'idle'} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
