"""`licodec eval`: rate-distortion of real files on a folder of images.

Every image is encoded to bytes and decoded back; bpp counts the bytes actually produced.
One measurement (codec, quality, image) is cached as a small JSON file under OUT/cache/, so an
interrupted run resumes where it stopped, and changed weights (another content hash) are
measured anew. Results per codec are written in CompressAI's results schema (see
../shared/anchors/README.md) so they sit beside the published anchors.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from licodec.evaluation.codecs import Codec, baseline
from licodec.files import replace_atomically
from licodec.metrics import ms_ssim, psnr

METRICS = ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")


@dataclass(frozen=True)
class Case:
    codec: str
    quality: float
    image: Path

    def cache_path(self, cache: Path, tag: str) -> Path:
        return cache / self.codec / tag / f"q{self.quality:g}" / f"{self.image.stem}.json"


def measure(codec: Codec, quality: float, image_path: Path) -> dict:
    """Encode, decode, and score one image at one quality."""
    with Image.open(image_path) as im:
        image = im.convert("RGB")
    began = time.perf_counter()
    data = codec.encode(image, quality)
    encoded = time.perf_counter()
    decoded = np.array(codec.decode(data).convert("RGB"))
    finished = time.perf_counter()
    reference = np.array(image)
    return {
        "image": image_path.name, "quality": quality, "bytes": len(data),
        "bpp": 8 * len(data) / (image.width * image.height),
        "psnr-rgb": psnr(reference, decoded), "ms-ssim-rgb": ms_ssim(reference, decoded),
        "encoding_time": encoded - began, "decoding_time": finished - encoded,
    }


def _measure_baseline(name: str, quality: float, image_path: Path) -> dict:
    """For worker processes: codecs hold lambdas, so workers rebuild the baseline by name."""
    return measure(baseline(name), quality, image_path)


def _tag(meta: dict) -> str:
    """Cache key part (from a codec's meta) that changes when a learned codec's weights, g_a/g_s
    precision, kernels, encoder refinement or file format change (float32, eager, effort 0 and
    format 2 keep the bare hash, the key of results from before bfloat16, fused kernels, efforts
    and format 3)."""
    precision = "" if meta.get("precision", "float32") == "float32" else f"-{meta['precision']}"
    kernels = "-fused" if meta.get("kernels") == "fused" else ""
    refinement = meta.get("refinement")
    refined = f"-{hashlib.sha256(refinement.encode()).hexdigest()[:8]}" if refinement else ""
    file_format = "" if meta.get("format", 2) == 2 else f"-v{meta['format']}"
    return meta.get("content_hash", "baseline")[:12] + precision + kernels + refined + file_format


def run_codec(codec: Codec, images: list[Path], cache: Path, jobs: int = 1) -> list[dict]:
    """Every (quality, image) of one codec, from the cache where measured before."""
    cases = [Case(codec.name, q, image) for q in codec.qualities for image in images]
    results: dict[Case, dict] = {}
    todo = []
    for case in cases:
        path = case.cache_path(cache, _tag(codec.meta))
        if path.exists():
            results[case] = json.loads(path.read_text())
        else:
            todo.append(case)
    bar = tqdm(total=len(cases), initial=len(cases) - len(todo), desc=codec.name, unit="img", leave=False,
               disable=None)  # None: a bar on a terminal only
    if jobs > 1 and not codec.learned:  # the learned codec already uses both cores inside torch
        # spawn, not fork: a fork after torch has started its thread pool can deadlock the workers
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {case: pool.submit(_measure_baseline, codec.name, case.quality, case.image) for case in todo}
            for case, future in futures.items():
                results[case] = _store(case, future.result(), cache, _tag(codec.meta))
                bar.update()
    else:
        for case in todo:
            results[case] = _store(case, measure(codec, case.quality, case.image), cache, _tag(codec.meta))
            bar.update()
    bar.close()
    return [results[case] for case in cases]


def seed_cache(codec: Codec, images: list[Path], out: Path) -> int:
    """Fill OUT/cache from the committed results (OUT/NAME.json and OUT/per-image/NAME.json) where
    they were measured with the same weights (content hash) or are a baseline, so that `make eval`
    in a fresh clone measures only what changed. Returns the number of records reused."""
    summary, per_image = out / f"{codec.name}.json", out / "per-image" / f"{codec.name}.json"
    if not (summary.exists() and per_image.exists()):
        return 0
    meta = json.loads(summary.read_text()).get("meta", {})
    if _tag(meta) != _tag(codec.meta):
        return 0
    by_name = {image.name: image for image in images}
    reused = 0
    for record in json.loads(per_image.read_text()):
        if record["image"] in by_name and record["quality"] in codec.qualities:
            case = Case(codec.name, record["quality"], by_name[record["image"]])
            if not case.cache_path(out / "cache", _tag(codec.meta)).exists():
                _store(case, record, out / "cache", _tag(codec.meta))
                reused += 1
    return reused


def _store(case: Case, record: dict, cache: Path, tag: str) -> dict:
    path = case.cache_path(cache, tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(record)))  # never a half-written entry
    return record


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def summarise(codec: Codec, records: list[dict]) -> dict:
    """CompressAI's results schema: one point per quality, means over the images, by rising bpp."""
    points = []
    for quality in codec.qualities:
        rows = [r for r in records if r["quality"] == quality]
        points.append({"quality": quality, **{m: _mean([r[m] for r in rows]) for m in METRICS}})
    points.sort(key=lambda p: p["bpp"])
    return {
        "name": codec.name,
        "description": codec.description,
        "meta": {"qualities": [p["quality"] for p in points], "images": len({r["image"] for r in records}),
                 **codec.meta},
        "results": {m: [p[m] for p in points] for m in METRICS},
    }
