"""Threads that suit the machine: the CPUs other work leaves free, shared among workers; the
user's choice first; OpenMP told to wait passively before torch loads."""
import os
import subprocess
import sys

import pytest

from licodec import threads


@pytest.mark.parametrize("usable, busy, workers, expected", [
    (2, 0, 1, 2), (2, 2, 1, 1), (2, 1, 1, 1), (8, 2, 1, 6), (8, 2, 3, 2), (8, 0, 16, 1), (2, 5, 1, 1),
])
def test_default_threads_leave_busy_cpus_to_their_work(monkeypatch, usable, busy, workers, expected):
    monkeypatch.setattr(threads, "usable_cpus", lambda: usable)
    monkeypatch.setattr(threads, "busy_cpus", lambda: busy)
    assert threads.default_threads(workers) == expected


def test_the_users_choice_comes_first(monkeypatch):
    monkeypatch.setattr(threads, "default_threads", lambda workers=1: 7)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.chosen_threads(None) == 7
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.chosen_threads(None) == 3
    assert threads.chosen_threads(5) == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")
    assert threads.chosen_threads(None) == 7


def test_busy_cpus_counts_a_busy_process():
    """Two spinning processes are seen as (at least one) busy CPU."""
    spin = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        import time

        time.sleep(0.3)
        assert threads.busy_cpus() >= 1
    finally:
        for process in busy:
            process.kill()


def test_the_cli_waits_passively_and_takes_threads_before_torch(tiny_weights, photo, tmp_path):
    code = ("import os, sys\nfrom licodec.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "import torch\nprint(os.environ['OMP_WAIT_POLICY'], torch.get_num_threads())")
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    args = ["encode", str(photo), "-o", str(tmp_path / "a.lic"), "--threads", "1"]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PASSIVE", "1"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # a user's own setting stays
    args[3] = str(tmp_path / "b.lic")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.split()[0] == "ACTIVE", result.stderr
