"""How many threads the networks get, and how they wait (torch-free).

The CLI decides before torch loads: OpenMP's threads wait passively (they sleep instead of
spinning when they run out of work; spinning burns the cores another job needs, and on a busy
machine made a 4-file batch 2× slower), and each process takes the CPUs it may run on, shared
among its workers. Measured against one thread and against the spinning default, idle and
beside another busy 2-thread job: results/threads/under-load.md (scripts/threads_under_load.py).
A brief spin instead (GOMP_SPINCOUNT=10000, libgomp's; it overrides the wait policy there) made
warm API calls 1.7× faster on an idle machine but 1.2–2.2× slower beside a busy job
(results/threads/spin-probe.md), so passive stays the default; GOMP_SPINCOUNT is the user's switch.
"""
from __future__ import annotations

import os
import sys

WAIT_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE"}  # the user's own settings win


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
    """Passive waiting, unless the user chose otherwise; must run before torch is imported."""
    for name, value in WAIT_SETTINGS.items():
        os.environ.setdefault(name, value)


def use_threads(threads: int) -> None:
    """Run torch's CPU work on `threads` threads: through OMP_NUM_THREADS when torch is not
    loaded yet (so that a refusal before any work still never imports it), else directly."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
