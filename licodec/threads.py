"""How many threads the networks get, and how they wait (torch-free).

The CLI decides before torch loads: OpenMP's threads spin only briefly when they run out of
work, then sleep (libgomp's own default spins 300 000 iterations, which burns the cores another
job needs: on a busy machine a 4-file batch took 2× longer; never spinning, OMP_WAIT_POLICY=PASSIVE
alone, cost warm API calls 1.4× on an idle machine, between the entropy model's many small
kernels). GOMP_SPINCOUNT sets libgomp's spin (torch's OpenMP on Linux; it takes precedence over
the wait policy there); PASSIVE stays for the other OpenMP runtimes. Each process takes the CPUs
it may run on, shared among its workers. Measured idle and beside another busy 2-thread job:
results/threads/under-load.md (scripts/threads_under_load.py).
"""
from __future__ import annotations

import os
import sys

WAIT_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}  # the user's own settings win


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: a container's or taskset's share)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads(workers: int = 1) -> int:
    """Threads per worker: the usable CPUs shared among the workers. Busy CPUs are not left out:
    beside another 2-thread job, 2 passive threads still beat 1 (results/threads/under-load.md)."""
    return max(1, usable_cpus() // max(1, workers))


def chosen_threads(threads: int | None, workers: int = 1) -> int:
    """--threads if given, else the user's OMP_NUM_THREADS, else default_threads(workers)."""
    if threads is not None:
        return threads
    setting = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(setting) if setting.isdigit() and int(setting) > 0 else default_threads(workers)


def prepare_openmp() -> None:
    """A brief spin, then sleep, unless the user chose otherwise; must run before torch is imported."""
    for name, value in WAIT_SETTINGS.items():
        os.environ.setdefault(name, value)


def use_threads(threads: int) -> None:
    """Run torch's CPU work on `threads` threads: through OMP_NUM_THREADS when torch is not
    loaded yet (so that a refusal before any work still never imports it), else directly."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
