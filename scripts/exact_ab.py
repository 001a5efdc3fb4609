"""Time the latent path (exact entropy-parameter networks + rANS) of this checkout against the
exact networks of an earlier commit, interleaved in one process, and check both give the same
bytes and ŷ (a speed change to licodec/models/exact.py must not change a single integer).

    python scripts/exact_ab.py 935c490 data/kodim23.png --repeats 7
    python scripts/exact_ab.py 935c490 data/kodim23.png --resize 4000x3000 --repeats 1
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from licodec.models import exact as current_exact
from licodec.latent_stream import latent_shape
from licodec.models.codec import rgb_to_tensor
from licodec.weights import load_model, resolve


def exact_module_at(revision: str, folder: Path):
    """licodec/models/exact.py as it was at `revision`, imported under another name."""
    source = subprocess.run(["git", "show", f"{revision}:licodec/models/exact.py"], check=True,
                            capture_output=True, text=True).stdout
    path = folder / "exact_at_revision.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("exact_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision")
    parser.add_argument("image")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resize", default=None, help="WxH")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = Image.open(args.image).convert("RGB")
    if args.resize:
        image = image.resize(tuple(int(v) for v in args.resize.split("x")), Image.LANCZOS)
    net = load_model(resolve("student"))
    codec, state = net.latent_codec, net.latent_codec._coder_state
    shape = latent_shape(image.height, image.width)
    with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
        old = exact_module_at(args.revision, Path(folder))
        variants = {args.revision: old.ExactEntropyParameters(codec, state.z_inverse_gain),
                    "this checkout": current_exact.ExactEntropyParameters(codec, state.z_inverse_gain)}
        y = net.analysis(rgb_to_tensor(np.array(image), scaled=False)).contiguous()
        times = {name: {"encode": [], "decode": []} for name in variants}
        results = {}
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped
            for name, parameters in variants.items():
                state.exact = parameters
                began = time.perf_counter()
                streams = codec.compress(y, 4.0)
                middle = time.perf_counter()
                y_hat, digest = codec.decompress(streams.data, shape, 4.0)
                times[name]["encode"].append(middle - began)
                times[name]["decode"].append(time.perf_counter() - middle)
                results[name] = (streams.data, y_hat, digest)
    for name, spent in times.items():
        print(f"{name}: latent encode {1000 * statistics.median(spent['encode'][1:]):.1f} ms, "
              f"decode {1000 * statistics.median(spent['decode'][1:]):.1f} ms")
    (old_bytes, old_y, old_digest), (new_bytes, new_y, new_digest) = results.values()
    same = old_bytes == new_bytes and torch.equal(old_y, new_y) and old_digest == new_digest
    print("same bytes, ŷ and digest" if same else "DIFFERENT results")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
