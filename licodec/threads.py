"""How many threads the networks get: what suits the machine as it is now (torch-free).

The CLI decides before torch loads: OpenMP's threads then wait passively (they sleep instead of
spinning when they run out of work, which on a busy machine burns the cores another job needs),
and each process takes the CPUs it may run on that other work is not using this moment, shared
among its workers. On an idle 2-core machine that is 2; beside another busy 2-thread job, 1.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")
_SAMPLES = 5  # of the kernel's count of runnable threads, 2 ms apart: one sample can be a blip


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: a container's or taskset's share)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def busy_cpus() -> int:
    """Threads of other work running or ready to run now: /proc/loadavg's runnable count (this
    thread not included), the median of a few samples; the 1-minute load average elsewhere."""
    path = Path("/proc/loadavg")
    if not path.exists():
        return int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    samples = []
    for _ in range(_SAMPLES):
        runnable = int(path.read_text().split()[3].split("/")[0])
        samples.append(max(0, runnable - 1))
        time.sleep(0.002)
    return sorted(samples)[len(samples) // 2]


def default_threads(workers: int = 1) -> int:
    """Threads per worker: the usable CPUs that other work leaves free now, shared among workers."""
    free = max(1, usable_cpus() - busy_cpus())
    return max(1, free // max(1, workers))


def chosen_threads(threads: int | None, workers: int = 1) -> int:
    """--threads if given, else the user's OMP_NUM_THREADS, else default_threads(workers)."""
    if threads is not None:
        return threads
    setting = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(setting) if setting.isdigit() and int(setting) > 0 else default_threads(workers)


def prepare_openmp() -> None:
    """Passive waiting, unless the user chose otherwise; must run before torch is imported."""
    os.environ.setdefault(*WAIT_POLICY)


def use_threads(threads: int) -> None:
    """Run torch's CPU work on `threads` threads: through OMP_NUM_THREADS when torch is not
    loaded yet (so that a refusal before any work still never imports it), else directly."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
