"""Threads that suit the machine: the usable CPUs, shared among workers; the user's choice
first; OpenMP told to wait passively before torch loads."""
import os
import subprocess
import sys

import pytest

from licodec import threads


@pytest.mark.parametrize("usable, workers, expected", [(2, 1, 2), (2, 2, 1), (8, 3, 2), (8, 16, 1), (1, 1, 1)])
def test_default_threads_share_the_usable_cpus_among_workers(monkeypatch, usable, workers, expected):
    monkeypatch.setattr(threads, "usable_cpus", lambda: usable)
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


def test_the_cli_waits_passively_and_takes_threads_before_torch(tiny_weights, photo, tmp_path):
    """Passive waiting and the thread count, chosen before torch loads, unless the user chose their own."""
    code = ("import os, sys\nfrom licodec.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "import torch\nprint(os.environ['OMP_WAIT_POLICY'], os.environ.get('GOMP_SPINCOUNT', '-'), "
            "torch.get_num_threads())")
    env = {key: value for key, value in os.environ.items()
           if key not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    args = ["encode", str(photo), "-o", str(tmp_path / "a.lic"), "--threads", "1"]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PASSIVE", "-", "1"]
    env.update(OMP_WAIT_POLICY="ACTIVE", GOMP_SPINCOUNT="5")  # a user's own settings stay
    args[3] = str(tmp_path / "b.lic")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.split()[:2] == ["ACTIVE", "5"], result.stderr