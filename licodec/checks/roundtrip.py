"""Round-trip sweep: every image × quality × model, checking exact decoding and rate vs estimate.

    python -m licodec.checks.roundtrip ../shared/data/kodak -o results/roundtrip

For each case: ŷ decoded bit-identical to the encoder's, symbol digest equal, real file bytes
against the model's estimated rate (Σ −log2 p of its own quantised latents): at most 1 % +
header above it; PSNR.
Writes sweep.json and sweep.md to the output folder; exits non-zero if any case fails.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
import torch

from licodec import container
from licodec.images import open_image
from licodec.metrics import psnr
from licodec.models.codec import pad_image, rgb_to_tensor
from licodec.images import list_images
from licodec.weights import SHIPPED, load_model, resolve

RATE_TOLERANCE = 0.01


def check_case(model, info, image_path: Path, quality: float) -> dict:
    rgb = np.array(open_image(image_path).convert("RGB"))
    x = rgb_to_tensor(rgb)
    compressed = model.compress(x, quality)
    decoded, y_hat, digests = model.decompress(compressed.data, *rgb.shape[:2], quality)
    header = container.Header(info.model_id, quality, rgb.shape[1], rgb.shape[0])
    file_bytes = len(container.pack(header, compressed.data, digests))
    with torch.no_grad():
        out = model(pad_image(x), torch.tensor([float(quality)]))
    estimate = float(sum(-torch.log2(p).sum() for p in out["likelihoods"].values())) / 8
    overhead = file_bytes - len(compressed.data)
    return {
        "image": image_path.name, "quality": quality, "bytes": file_bytes, "estimated_bytes": round(estimate, 1),
        "bpp": 8 * file_bytes / (rgb.shape[0] * rgb.shape[1]), "psnr": psnr(rgb, decoded),
        "exact": bool(torch.equal(y_hat, compressed.y_hat) and digests == compressed.digests),
        # One-sided: files may come out smaller than the estimate, whose 1e-9 likelihood floor
        # charges ~30 bits for an outlier that the coder's 2^-24 table floor codes in ~24.
        "rate_ok": file_bytes <= (1 + RATE_TOLERANCE) * estimate + overhead,
    }


def _kept_rows(path: Path, models: tuple[str, ...]) -> list[dict]:
    """The rows of models not swept this time, from an earlier sweep in the same folder: a sweep
    of the retrained student keeps the unchanged teacher's results."""
    if not path.exists():
        return []
    return [r for r in json.loads(path.read_text()) if r["model"] not in models]


@click.command()
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False))
@click.option("--model", "models", multiple=True, default=SHIPPED, show_default=True)
@click.option("--quality", "qualities", multiple=True, type=float, default=(1, 4, 8), show_default=True)
def main(dataset: str, output: str, models: tuple[str, ...], qualities: tuple[float, ...]) -> None:
    torch.set_num_threads(2)
    rows = []
    for name in models:
        info = resolve(name)
        model = load_model(info)
        for path in list_images(dataset):
            for quality in qualities:
                rows.append({"model": name, **check_case(model, info, path, quality)})
                click.echo(json.dumps(rows[-1]), err=True)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    rows = _kept_rows(out / "sweep.json", models) + rows
    models = tuple(dict.fromkeys(r["model"] for r in rows))
    (out / "sweep.json").write_text(json.dumps(rows, indent=1))
    lines = ["| model | q | images | exact ŷ | size ≤ estimate + 1 % + header | mean bpp | mean PSNR "
             "| min size/estimate | max size/estimate |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in models:
        for quality in dict.fromkeys(r["quality"] for r in rows if r["model"] == name):
            sel = [r for r in rows if r["model"] == name and r["quality"] == quality]
            ratios = [r["bytes"] / r["estimated_bytes"] for r in sel]
            lines.append(f"| {name} | {quality:g} | {len(sel)} | {sum(r['exact'] for r in sel)}/{len(sel)} | "
                         f"{sum(r['rate_ok'] for r in sel)}/{len(sel)} | {np.mean([r['bpp'] for r in sel]):.3f} | "
                         f"{np.mean([r['psnr'] for r in sel]):.2f} | {min(ratios):.4f} | {max(ratios):.4f} |")
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    click.echo("\n".join(lines))
    if not all(r["exact"] and r["rate_ok"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
