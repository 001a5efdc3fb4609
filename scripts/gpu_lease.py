"""One lent GPU, unattended: probe the training configurations, train with the fastest that
runs, collect. `scripts/gpu_train.sh` wraps it with the install; the steps in a lease:

    scripts/gpu_train.sh start 9      # call 1: probe (~2 min) and start the daemon (9 min budget)
    scripts/gpu_train.sh collect 540  # call 2: wait for it, copy log and weights under $OUT

`start` probes each candidate of CANDIDATES for --probe-seconds on real crops (a short
`licodec train` run each, compile time included) and reads its crops/s from the run's log. The
fastest that ran trains; if none ran, or the daemon dies in its first minute, KNOWN_GOOD (leg 3's
configuration, float32 and eager) takes over, so the lease is never lost to a configuration.
`--device cpu` runs the same path on the CPU (tests/test_gpu_lease.py).

The learning rate stays at the campaign's 2e-4 for every batch size: the legs at batch 16 were
tuned there, and a larger batch at the same rate takes fewer, less noisy steps per crop, which
Adam tolerates; a higher rate is left for an A/B of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

KNOWN_GOOD = {"precision": "float32", "compile": False, "batch": 16, "noise": "per-sample"}
# Probed in this order (20 s of steps each, compilation and start-up besides: ~2.5 minutes in
# all); the fastest by crops/s trains. CUDA graphs first: the student's small kernels (N=56, the 16×16 latents of the ChARM
# slices) are where launch overhead, not arithmetic, would bound a GPU step.
CANDIDATES = [
    {"precision": "bfloat16", "compile": True, "compile_mode": "reduce-overhead", "batch": 64},
    {"precision": "bfloat16", "compile": True, "batch": 64},
    {"precision": "bfloat16", "compile": False, "batch": 64},
]


def train_command(args: argparse.Namespace, config: dict, out: Path, steps: int, minutes: float,
                  val_every: int, val_images: int | None) -> list[str]:
    command = [sys.executable, "-m", "licodec", "train", "--arch", args.arch, "--holdout", "24",
               "--patch", str(args.patch), "--batch", str(config["batch"]), "--device", args.device,
               "--threads", str(args.threads), "--out", str(out), "--steps", str(steps), "--minutes", str(minutes),
               "--val-every", str(val_every), "--log-every", "10", "--checkpoint-minutes", str(args.export_minutes),
               "--precision", config["precision"], "--noise", config.get("noise", "auto")]
    for folder in args.data:
        command += ["--data", folder]
    if args.init:
        command += ["--init", args.init]
    if config.get("compile"):
        command += ["--compile", "--compile-mode", config.get("compile_mode", "default")]
    if val_images:
        command += ["--val-images", str(val_images)]
    if args.ema:
        command += ["--ema", str(args.ema)]
    return command


def crops_per_second(log: Path, batch: int) -> float | None:
    """From a probe's log: crops/s between its second record and its last (the first holds the
    compilation), or None if it logged too little."""
    try:
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    except (OSError, ValueError):
        return None
    rows = [r for r in rows if "seconds" in r]
    if len(rows) < 3 or rows[-1]["seconds"] <= rows[1]["seconds"]:
        return None
    return batch * (rows[-1]["step"] - rows[1]["step"]) / (rows[-1]["seconds"] - rows[1]["seconds"])


def probe(args: argparse.Namespace, config: dict, index: int) -> float | None:
    """Train `config` for about --probe-seconds; its crops/s, or None if it failed."""
    out = args.state / f"probe-{index}"
    shutil.rmtree(out, ignore_errors=True)
    # --minutes counts from the first step, so a compiled probe also gets its compilation's time.
    seconds = args.probe_seconds + (args.compile_seconds if config.get("compile") else 0)
    command = train_command(args, config, out, 10**6, seconds / 60, 0, 1)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode:
        print(f"probe {index} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
        return None
    return crops_per_second(out / "log.jsonl", config["batch"])


def choose(args: argparse.Namespace) -> tuple[dict, float | None]:
    """The fastest candidate that ran (KNOWN_GOOD, unmeasured, if none did)."""
    results = []
    for index, config in enumerate(args.candidates):
        speed = probe(args, config, index)
        print(f"probe {index} {config}: {'failed' if speed is None else f'{speed:.1f} crops/s'}", flush=True)
        if speed is not None:
            results.append((speed, index))
    if not results:
        return KNOWN_GOOD, None
    speed, index = max(results)
    return args.candidates[index], speed


def start_daemon(args: argparse.Namespace, config: dict, speed: float | None, minutes: float) -> subprocess.Popen:
    """`licodec train` in its own session, so it outlives this call; --steps from the probe's speed
    (92 % of what fits, so the lr drop at 85 % lands inside the budget)."""
    steps = int(0.92 * minutes * 60 * speed / config["batch"]) if speed else args.fallback_steps
    run = args.state / "run"
    shutil.rmtree(run, ignore_errors=True)
    command = train_command(args, config, run, steps, minutes, args.val_every, None)
    (args.state / "chosen.json").write_text(json.dumps({"config": config, "crops_per_second": speed, "steps": steps,
                                                   "command": command}, indent=1))
    print("daemon:", " ".join(command), flush=True)
    output = open(args.state / "daemon.out", "w")
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def healthy(daemon: subprocess.Popen, seconds: float) -> bool:
    """Whether the daemon is still running after `seconds` (or finished cleanly)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = daemon.poll()
        if code is not None:
            return code == 0
        time.sleep(2)
    return True


def start(args: argparse.Namespace) -> None:
    args.state.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        config, speed = choose(args)
    except Exception as error:  # a broken probe must not cost the lease
        print(f"probing failed ({error}); the known-good configuration trains", flush=True)
        config, speed = KNOWN_GOOD, None
    minutes = args.minutes - (time.monotonic() - began) / 60
    daemon = start_daemon(args, config, speed, minutes)
    if not healthy(daemon, args.watch_seconds) and config is not KNOWN_GOOD:
        print(f"the daemon stopped (exit {daemon.returncode}); the known-good configuration trains", flush=True)
        minutes = args.minutes - (time.monotonic() - began) / 60
        daemon = start_daemon(args, KNOWN_GOOD, None, minutes)
        healthy(daemon, args.watch_seconds)
    print((args.state / "daemon.out").read_text()[-1500:], flush=True)


def collect(args: argparse.Namespace) -> None:
    """Wait (at most --wait seconds) for the daemon, then copy what it made under $OUT/run."""
    run = args.state / "run"
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline and _daemon_running(run):
        time.sleep(5)
    out = Path(os.environ.get("OUT", "out")) / "run"
    out.mkdir(parents=True, exist_ok=True)
    for path in (run / "log.jsonl", args.state / "daemon.out", args.state / "chosen.json"):
        if path.exists():
            shutil.copy(path, out / path.name)
    for name in ("weights.safetensors", "weights-ema.safetensors"):
        if (run / name).exists():
            copy_in_parts(run / name, out)
    print("\n".join(sorted(p.name for p in out.iterdir())))


PART_BYTES = 15 * 2**20  # files come back at most 16 MiB each


def copy_in_parts(path: Path, folder: Path) -> None:
    """`path` into `folder` whole, or, above PART_BYTES, as NAME.part-0, -1, … (`cat` joins them):
    the student's float32 weights (15 MB) come whole, the teacher's (48 MB) in four parts."""
    data = path.read_bytes()
    if len(data) <= PART_BYTES:
        shutil.copy(path, folder / path.name)
        return
    for index, offset in enumerate(range(0, len(data), PART_BYTES)):
        (folder / f"{path.name}.part-{index}").write_bytes(data[offset : offset + PART_BYTES])


def _daemon_running(run: Path) -> bool:
    return subprocess.run(["pgrep", "-f", "--", f"--out {run} "], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=["start", "collect"])
    parser.add_argument("--minutes", type=float, default=9.0, help="start: the budget, probing included")
    parser.add_argument("--wait", type=float, default=540, help="collect: seconds to wait for the daemon")
    parser.add_argument("--arch", default="student")
    parser.add_argument("--init", default=None, help="weights to start from (default: none, from scratch)")
    parser.add_argument("--data", action="append", default=None, help="training folder (repeatable)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--probe-seconds", type=float, default=20, help="each probe's training budget")
    parser.add_argument("--compile-seconds", type=float, default=40, help="a compiled probe's extra budget")
    parser.add_argument("--candidate", action="append", type=json.loads, default=None, dest="candidates",
                        help="a configuration to probe, as JSON (repeatable; default: CANDIDATES)")
    parser.add_argument("--state", type=Path, default=Path("/tmp/lease"),
                        help="probe runs, the chosen configuration, the daemon's run and output")
    parser.add_argument("--watch-seconds", type=float, default=60, help="how long the daemon must live")
    parser.add_argument("--fallback-steps", type=int, default=8000, help="--steps when no probe measured")
    parser.add_argument("--val-every", type=int, default=2000)
    parser.add_argument("--export-minutes", type=float, default=2.0)
    parser.add_argument("--ema", type=float, default=0.0)
    args = parser.parse_args()
    args.data = args.data or ["data-local/train"]
    args.candidates = CANDIDATES if args.candidates is None else args.candidates
    start(args) if args.verb == "start" else collect(args)


if __name__ == "__main__":
    main()
