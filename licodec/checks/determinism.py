"""Decode on "another machine": encode under one set of kernels, decode under another.

    python -m licodec.checks.determinism ../shared/data/kodak --model student    # make check-determinism
    python -m licodec.checks.determinism ../shared/data/kodak --effort 1 --images 3   # files of a higher effort

One machine stands in for many by changing what differs between machines: the thread count,
oneDNN on or off, the memory layout of the float transforms, float64 instead of float32 in the
float parts, and the GPU where there is one. Each (image, quality) is encoded under one variation
and decoded under the next one in the list; the z symbols and, per slice, μ, the σ indexes, the
symbols and ŷ (integers, before the float g_s) must equal the encoder's. Any difference is a mismatch (the
integer networks of licodec.models.exact promise none).
"""
from __future__ import annotations

import json
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import click
import numpy as np
import torch

from licodec.container import quantize_quality
from licodec.effort import MAX_EFFORT
from licodec.errors import LicodecError
from licodec.images import open_image
from licodec.models import LicModel
from licodec.models.codec import rgb_to_tensor
from licodec.models.refine import compress_refined
from licodec.weights import WeightsInfo, load_model, resolve


@dataclass(frozen=True)
class Variation:
    threads: int = 2
    onednn: bool = True
    channels_last: bool = True  # g_a and g_s layout (for_inference's default)
    float64: bool = False  # g_a, g_s and h_a in float64
    bfloat16: bool = False  # g_a and g_s under bfloat16 autocast (licodec.precision)
    device: str = "cpu"

    def __str__(self) -> str:
        parts = [f"{self.threads} thread{'s' * (self.threads > 1)}", "oneDNN" if self.onednn else "no oneDNN",
                 "channels-last" if self.channels_last else "contiguous", "float64" if self.float64 else "bfloat16" if self.bfloat16 else "float32"]
        return ", ".join(parts + ([self.device] if self.device != "cpu" else []))

    def model(self, info: WeightsInfo) -> LicModel:
        """The weights loaded afresh (as on another machine), in this variation's layout and dtype."""
        model = load_model(info)
        model.engine.bfloat16 = self.bfloat16
        if not self.channels_last:
            model.g_a.to(memory_format=torch.contiguous_format)
            model.g_s.to(memory_format=torch.contiguous_format)
        if self.float64:
            model.double()
        return model.to(self.device)

    def input(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, torch.float64 if self.float64 else torch.float32)

    @contextmanager
    def kernels(self) -> Iterator[None]:
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with warnings.catch_warnings():  # torch warns that oneDNN's TF32 needs an Intel GPU
                warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
                with torch.backends.mkldnn.flags(enabled=self.onednn):
                    yield
        finally:
            torch.set_num_threads(previous)


def variations() -> list[Variation]:
    found = [
        Variation(),
        Variation(threads=1, onednn=False),
        Variation(channels_last=False, float64=True),
        Variation(threads=1, channels_last=False),
        Variation(onednn=False, float64=True),
        Variation(threads=1, bfloat16=True),
    ]
    if torch.cuda.is_available():
        found += [Variation(device="cuda"), Variation(device="cuda", float64=True)]
    return found


@dataclass
class Outcome:
    image: str
    quality: float
    encoder: str
    decoder: str
    bytes: int
    matches: bool
    error: str | None = None


def check(info: WeightsInfo, image: np.ndarray, quality: float, encoder: Variation, decoder: Variation,
          models: dict[Variation, LicModel], effort: int = 0) -> tuple[bool, int, str | None]:
    """Encode under one variation (at an encoder effort), decode under another: (decoded alike,
    file bytes, error)."""
    height, width = image.shape[:2]
    x = rgb_to_tensor(image)
    encoded: list[torch.Tensor] = []
    decoded: list[torch.Tensor] = []
    with encoder.kernels():
        compressed = compress_refined(models[encoder], encoder.input(x), quality, effort, trace=encoded)
    try:
        with decoder.kernels():
            _, _, digests = models[decoder].decompress(compressed.data, height, width, quality, trace=decoded)
    except LicodecError as e:  # a derailed rANS decoder: "corrupt file" or "decoding mismatch"
        return False, len(compressed.data), str(e)
    same = digests == compressed.digests and len(encoded) == len(decoded)
    same = same and all(torch.equal(a, b) for a, b in zip(encoded, decoded))
    return same, len(compressed.data), None


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", default="student", show_default=True, help="shipped name or weights path")
@click.option("--quality", "qualities", multiple=True, type=float, default=tuple(range(1, 9)), show_default=True)
@click.option("--effort", type=click.IntRange(0, MAX_EFFORT), default=0, show_default=True,
              help="encoder effort of the files (licodec.effort); the decoder is the same at every effort")
@click.option("--images", "limit", type=click.IntRange(min=1), default=None, help="the first N images only")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="JSON of every outcome")
def main(folder: Path, model: str, qualities: tuple[float, ...], effort: int, limit: int | None,
         output: Path | None) -> None:
    """Encode every image of FOLDER at every quality under one variation of the kernels and decode
    under another; print the mismatches (there must be none)."""
    info = resolve(model)
    found = variations()
    models = {variation: variation.model(info) for variation in found}
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".ppm"))[:limit]
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    for n, path in enumerate(images):
        rgb = np.asarray(open_image(path).convert("RGB"))
        for k, quality in enumerate(qualities):
            encoder = found[(n + k) % len(found)]
            decoder = found[(n + k + 1) % len(found)]
            same, size, error = check(info, rgb, quantize_quality(quality), encoder, decoder, models, effort)
            outcomes.append(Outcome(path.name, quality, str(encoder), str(decoder), size, same, error))
            if not same:
                click.echo(f"MISMATCH {path.name} q{quality:g}: encoded {encoder}, decoded {decoder}: {error}")
    mismatches = sum(not o.matches for o in outcomes)
    click.echo(f"{len(outcomes)} files ({len(images)} images × {len(qualities)} qualities, effort {effort}), "
               f"{len(found)} variations "
               f"({'; '.join(map(str, found))}): {mismatches} mismatches in {time.perf_counter() - start:.0f} s")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    raise SystemExit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
