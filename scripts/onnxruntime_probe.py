"""Would ONNX Runtime run g_s faster than torch on this CPU? The shipped student's g_s in torch
(float32, and bfloat16 autocast as licodec runs it where the CPU has AMX) against the same
network exported to ONNX and run by onnxruntime's CPU provider (float32), in one process, with
the session's start-up time.

Not a licodec dependency: run it from a scratch environment, e.g.

    python3 -m venv /tmp/ortvenv && /tmp/ortvenv/bin/pip install torch==2.13.0 onnxruntime onnxscript \
        safetensors click pillow constriction pytorch-msssim tqdm
    PYTHONPATH=. /tmp/ortvenv/bin/python scripts/onnxruntime_probe.py --latent 32x48
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from licodec.evaluation.bench import median_time
from licodec.weights import load_model, resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent", default="32x48", help="HxW of ŷ (a 768×512 image is 32×48)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = load_model(resolve("student"))
    channels = net.latent_codec.slices * net.latent_codec.slice_channels
    height, width = (int(v) for v in args.latent.split("x"))
    y = torch.randn(1, channels, height, width)
    g_s = net.g_s.eval()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    with torch.no_grad(), tempfile.TemporaryDirectory() as folder:
        reference = g_s(y).numpy()
        channels_last = y.contiguous(memory_format=torch.channels_last)
        float32 = median_time(lambda: g_s(channels_last), 7)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bfloat16 = median_time(lambda: g_s(channels_last), 7)
        path = str(Path(folder) / "g_s.onnx")
        spatial = {2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
        torch.onnx.export(g_s, (y,), path, dynamo=True, dynamic_shapes={"x": spatial})
        began = time.perf_counter()
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        start_up = time.perf_counter() - began
        feed = {session.get_inputs()[0].name: y.numpy()}
        runtime = median_time(lambda: session.run(None, feed), 7)
        difference = float(np.abs(session.run(None, feed)[0] - reference).max())
    print(f"g_s on a {height}x{width} latent, {args.threads} threads: torch float32 {1000 * float32:.1f} ms, "
          f"torch bfloat16 autocast {1000 * bfloat16:.1f} ms, onnxruntime {onnxruntime.__version__} float32 "
          f"{1000 * runtime:.1f} ms (session {start_up:.2f} s); largest difference {difference:.1e}")


if __name__ == "__main__":
    main()
