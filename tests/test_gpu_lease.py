"""The GPU lease script on the CPU path: the probe keeps the fastest configuration that runs, a
broken one never costs the lease, and collect brings back the log and the weights; the
cross-machine check finds a stream that decodes differently."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LEASE = ROOT / "scripts" / "gpu_lease.py"
CROSS = ROOT / "scripts" / "cross_machine.py"
SMALL = {"precision": "bfloat16", "compile": False, "batch": 2}
BROKEN = {"precision": "float8", "compile": False, "batch": 2}  # refused by licodec train


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """26 photos: --holdout 24 keeps 2 for training."""
    from conftest import kodak_image

    folder = tmp_path / "photos"
    folder.mkdir()
    image = kodak_image(23).resize((96, 64))
    for i in range(26):
        image.rotate(180 * (i % 2)).save(folder / f"{i:02d}.png")
    return folder


def _lease(tmp_path: Path, photos: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(LEASE), *args, "--device", "cpu", "--patch", "64", "--threads", "1",
               "--data", str(photos), "--state", str(tmp_path / "state"), "--fallback-steps", "2",
               "--watch-seconds", "1", "--wait", "120"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "OUT": str(tmp_path / "out")})
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_the_lease_trains_the_fastest_configuration_that_runs_and_collects_it(tmp_path, photos):
    # 6 s: a probe needs 3 logged steps, which took more than 2 s on a busy 2-core machine.
    start = _lease(tmp_path, photos, "start", "--minutes", "0.6", "--probe-seconds", "6",
                   "--candidate", json.dumps(BROKEN), "--candidate", json.dumps(SMALL))
    assert "probe 0" in start.stdout and "failed" in start.stdout.splitlines()[0]
    chosen = json.loads((tmp_path / "state" / "chosen.json").read_text())
    assert chosen["config"] == SMALL and chosen["crops_per_second"] > 0
    _lease(tmp_path, photos, "collect")
    out = tmp_path / "out" / "run"
    assert {"log.jsonl", "weights.safetensors", "chosen.json", "daemon.out"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "log.jsonl").read_text().splitlines()[-1])["batch"] == 2


def test_when_no_configuration_runs_the_known_good_one_trains(tmp_path, photos):
    _lease(tmp_path, photos, "start", "--minutes", "0.5", "--probe-seconds", "1", "--candidate", json.dumps(BROKEN))
    chosen = json.loads((tmp_path / "state" / "chosen.json").read_text())
    assert chosen["config"]["precision"] == "float32" and chosen["crops_per_second"] is None
    assert chosen["steps"] == 2


def test_large_files_come_back_in_parts_that_join(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from gpu_lease import PART_BYTES, copy_in_parts

    big = tmp_path / "weights.safetensors"
    big.write_bytes(bytes(range(256)) * (PART_BYTES // 128))  # two parts' worth
    (tmp_path / "out").mkdir()
    copy_in_parts(big, tmp_path / "out")
    parts = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in parts] == ["weights.safetensors.part-0", "weights.safetensors.part-1"]
    assert b"".join(p.read_bytes() for p in parts) == big.read_bytes()


def test_streams_decode_alike_elsewhere_and_a_changed_one_is_a_mismatch(tmp_path):
    from conftest import kodak_image

    image = tmp_path / "image.png"
    kodak_image(23).crop((0, 0, 128, 96)).save(image)
    folder = tmp_path / "streams"
    run = lambda *a: subprocess.run([sys.executable, str(CROSS), *a], capture_output=True, text=True, cwd=ROOT)
    assert run("write", str(image), "-o", str(folder), "--quality", "1", "--quality", "8").returncode == 0
    good = run("check", str(folder))
    assert good.returncode == 0 and "2 streams" in good.stdout and "0 mismatches" in good.stdout
    stream = folder / "image-q8.bin"
    data = bytearray(stream.read_bytes())
    data[len(data) // 2] ^= 0x10
    stream.write_bytes(bytes(data))
    bad = run("check", str(folder))
    assert bad.returncode == 1 and "1 mismatches" in bad.stdout
