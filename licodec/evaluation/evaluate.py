"""`licodec eval` end to end: measure every codec, load the published anchors, write the
per-codec JSON, the BD-rate table and the RD plots into one folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from licodec import bdrate
from licodec.effort import check_effort
from licodec.errors import LicodecError
from licodec.evaluation import codecs, plots, rd
from licodec.files import replace_atomically
from licodec.images import list_images

# Published curves drawn and compared by default, when the anchors folder has them.
DEFAULT_ANCHORS = ("vtm", "bpg_444_x265_ycbcr", "av1", "compressai-mbt2018-mean_mse_cpu",
                   "compressai-cheng2020-anchor_mse_cpu", "paper-minnen2020-cc10_mse", "paper-elic2022_mse")


def parse_qualities(text: str) -> tuple[float, ...]:
    """"1..8" (every integer level) or "1,2.5,4"."""
    try:
        if ".." in text:
            low, high = (int(v) for v in text.split(".."))
            return tuple(float(q) for q in range(low, high + 1))
        return tuple(float(q) for q in text.split(","))
    except ValueError:
        raise LicodecError(f"--quality {text!r}: use a range like 1..8 or a list like 1,4,8") from None


def parse_efforts(text: str) -> tuple[int, ...]:
    """"0,2,4" → (0, 2, 4), each checked (licodec.effort)."""
    return tuple(check_effort(part) for part in text.split(","))


def load_anchors(folder: Path | None, names: tuple[str, ...]) -> dict[str, dict]:
    if folder is None:
        return {}
    anchors = {}
    for name in names:
        path = folder / f"{name}.json"
        if path.exists():
            anchors[name] = json.loads(path.read_text())
    return anchors


def _write_json(path: Path, value) -> None:
    replace_atomically(path, lambda tmp: tmp.write_text(json.dumps(value, indent=1) + "\n"))


def evaluate(dataset: Path, models: tuple[str, ...], qualities: tuple[float, ...], baselines: tuple[str, ...],
             anchors_dir: Path | None, anchor_names: tuple[str, ...], reference: str, out: Path, jobs: int,
             echo: Callable[[str], None], efforts: tuple[int, ...] = (0,)) -> str:
    """Runs everything (each model at each encoder effort); returns the BD-rate table (markdown)."""
    images = list_images(dataset)
    measured: list[codecs.Codec] = [codecs.learned(m, qualities, e) for m in models for e in efforts]
    for name in baselines:
        try:
            measured.append(codecs.baseline(name))
        except LookupError as e:
            echo(f"skipping {name}: {e}")
    anchors = load_anchors(anchors_dir, anchor_names)
    out.mkdir(parents=True, exist_ok=True)
    (out / "per-image").mkdir(exist_ok=True)
    curves: dict[str, dict] = {}
    for codec in measured:
        reused = rd.seed_cache(codec, images, out)
        if reused:
            echo(f"{codec.name}: {reused} measurements reused from {out}")
        records = rd.run_codec(codec, images, out / "cache", jobs)
        curves[codec.name] = rd.summarise(codec, records)
        _write_json(out / f"{codec.name}.json", curves[codec.name])
        _write_json(out / "per-image" / f"{codec.name}.json", records)
        echo(f"{codec.name}: " + ", ".join(f"{b:.3f} bpp {p:.2f} dB" for b, p in
                                            zip(curves[codec.name]["results"]["bpp"],
                                                curves[codec.name]["results"]["psnr-rgb"])))
    every = {**curves, **anchors}
    if reference not in every:
        raise LicodecError(f"reference {reference!r} is neither a measured codec nor an anchor in {anchors_dir}")
    others = {name: curve for name, curve in every.items() if name != reference}
    rows, markdown = bdrate.table(reference, every[reference], others)
    _write_json(out / "bd-rate.json", {"reference": reference, "method": bdrate.METHOD, "rows": rows})
    (out / "bd-rate.md").write_text(markdown)
    kinds = {**{c.name: "ours" if c.learned else "baseline" for c in measured}, **{n: "anchor" for n in anchors}}
    title = f"{dataset.name}: {len(images)} images"
    plots.rd_plot(every, kinds, "psnr-rgb", out / "rd-psnr.png", title)
    plots.rd_plot(every, kinds, "ms-ssim-db", out / "rd-ms-ssim.png", title)
    return markdown
