"""Encode on one machine, decode on another: the determinism guarantee across machines and devices.

    python scripts/cross_machine.py write IMAGES... -o FOLDER --device cuda   # on the GPU machine
    python scripts/cross_machine.py check FOLDER --device cpu                # here, on what came back

`write` codes each image at each --quality with the model's exact path and stores, per file, the
stream, its size, quality and digest, and a SHA-256 of the encoder's trace (the z symbols and,
per slice, μ, the σ indexes, the symbols and ŷ: licodec.checks.determinism's comparison). `check`
decodes every stream on its own device and compares the trace's hash: any difference is a
mismatch, and the exit status is 1. (`make check-determinism` varies the kernels on one machine;
this carries the files to another.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from licodec.container import quantize_quality
from licodec.errors import LicodecError
from licodec.images import open_image
from licodec.models.codec import rgb_to_tensor
from licodec.weights import load_model, resolve


def trace_hash(trace: list[torch.Tensor]) -> str:
    """Of the values and shapes, as torch.equal compares them: + 0.0 makes every −0.0 a 0.0."""
    digest = hashlib.sha256()
    for tensor in trace:
        values = tensor.detach().cpu().to(torch.float64).contiguous() + 0.0
        digest.update(str(tuple(values.shape)).encode() + values.numpy().tobytes())
    return digest.hexdigest()


def write(images: list[Path], folder: Path, model_name: str, qualities: list[float], device: str) -> None:
    model = load_model(resolve(model_name)).to(device)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"device": device, "torch": torch.__version__, "files": []}
    for path in images:
        rgb = np.asarray(open_image(path).convert("RGB"))
        for quality in map(quantize_quality, qualities):
            trace: list[torch.Tensor] = []
            compressed = model.compress(rgb_to_tensor(rgb).to(device), quality, trace=trace)
            name = f"{path.stem}-q{quality:g}.bin"
            (folder / name).write_bytes(compressed.data)
            manifest["files"].append({"stream": name, "height": rgb.shape[0], "width": rgb.shape[1],
                                      "quality": quality, "digest": compressed.digests.symbols, "trace": trace_hash(trace)})
    (folder / "manifest.json").write_text(json.dumps({"model": model_name, **manifest}, indent=1))
    print(f"wrote {len(manifest['files'])} streams on {device} to {folder}")


def check(folder: Path, device: str) -> int:
    manifest = json.loads((folder / "manifest.json").read_text())
    model = load_model(resolve(manifest["model"])).to(device)
    mismatches = 0
    for entry in manifest["files"]:
        trace: list[torch.Tensor] = []
        try:
            _, _, digests = model.decompress((folder / entry["stream"]).read_bytes(), entry["height"], entry["width"],
                                             entry["quality"], trace=trace)
            same = digests.symbols == entry["digest"] and trace_hash(trace) == entry["trace"]
        except LicodecError as error:
            same = False
            print(f"{entry['stream']}: {error}")
        if not same:
            mismatches += 1
            print(f"MISMATCH {entry['stream']}: encoded on {manifest['device']}, decoded on {device}")
    print(f"{len(manifest['files'])} streams encoded on {manifest['device']} (torch {manifest['torch']}), decoded on "
          f"{device} (torch {torch.__version__}): {mismatches} mismatches")
    return mismatches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=["write", "check"])
    parser.add_argument("paths", nargs="+", type=Path, help="write: images; check: the folder")
    parser.add_argument("-o", "--output", type=Path, help="write: the folder")
    parser.add_argument("--model", default="student")
    parser.add_argument("--quality", type=float, action="append", default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.verb == "write":
        if args.output is None:
            parser.error("write needs -o FOLDER")
        write(args.paths, args.output, args.model, args.quality or [1, 4, 8], args.device)
    else:
        sys.exit(1 if check(args.paths[0], args.device) else 0)


if __name__ == "__main__":
    main()
