"""`licodec bench`: size, compute, speed and memory of the models, side by side in one run.

Times are medians of `repeats` runs after one warm-up. Encode and decode are split into the
network (transforms and entropy-model nets), entropy coding (rANS table lookups and coding,
timed by wrapping licodec.rans's reader and writer) and the container plus image I/O.
This machine is shared and noisy: compare ratios taken in one run, not absolute times.
"""
from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from licodec import container, rans
from licodec.compressai_compat import allow_without_torchvision
from licodec.config import get_config
from licodec.errors import LicodecError
from licodec.evaluation import codecs
from licodec.images import PNG_COMPRESS_LEVEL
from licodec.models import LicModel
from licodec.models.codec import PARTS, pad_image, part_sizes, rgb_to_tensor
from licodec.models.fused import transform_kernels
from licodec.precision import cpu_kind, cpu_name, transform_precision
from licodec.weights import SHIPPED, load_model, read_info, resolve, save_weights

# The FEDS paper's parameter counts (Fu et al. 2025, Table 1).
PAPER_PARAMETERS = {"feds-teacher": 95.43e6, "feds-student": 35.34e6}
COMPRESSAI_MODELS = ("mbt2018-mean", "cheng2020-anchor", "elic2022-chandelier")


def median_time(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: allocator, kernels, lazily built tables
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def parameters(model: torch.nn.Module) -> dict[str, int]:
    return {"total": sum(p.numel() for p in model.parameters()), **part_sizes(model)}


MAC_CROP = 512  # convolutions cost the same per pixel at any size: count on a crop, not 12 MP


def macs_per_pixel(model: torch.nn.Module, x: torch.Tensor, forward: Callable) -> float:
    """Multiply-accumulates per input pixel of one inference pass (torch.utils.flop_counter)."""
    x = x[..., :MAC_CROP, :MAC_CROP]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(model, x)
    return counter.get_total_flops() / 2 / (x.shape[-2] * x.shape[-1])


@contextmanager
def entropy_timer() -> Iterator[list[float]]:
    """Accumulates the seconds spent in the rANS writer and reader while active."""
    spent = [0.0]
    originals = {(cls, name): getattr(cls, name) for cls, name in
                 ((rans.StreamWriter, "write"), (rans.StreamWriter, "finish"), (rans.StreamReader, "read"))}

    def timed(function):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - began
        return wrapper

    for (cls, name), function in originals.items():
        setattr(cls, name, timed(function))
    try:
        yield spent
    finally:
        for (cls, name), function in originals.items():
            setattr(cls, name, function)


@dataclass
class Split:
    total: float
    network: float
    entropy: float
    container_io: float


def _split(run: Callable[[], object], io_part: Callable[[], object], repeats: int) -> Split:
    run()
    totals, entropies = [], []
    for _ in range(repeats):
        with entropy_timer() as spent:
            began = time.perf_counter()
            run()
            totals.append(time.perf_counter() - began)
        entropies.append(spent[0])
    io_time = median_time(io_part, repeats)
    total, coding = statistics.median(totals), statistics.median(entropies)
    return Split(total + io_time, total - coding, coding, io_time)


def bench_ours(model: LicModel, image: Image.Image, quality: float, repeats: int, device: str = "cpu") -> dict:
    """Encode and decode of one image, split into network / entropy coding / container + image I/O."""
    x = rgb_to_tensor(np.array(image)).to(device)
    compressed = model.compress(x, quality)
    header = container.Header(b"\0" * 4, quality, image.width, image.height)
    data = container.pack(header, compressed.data, compressed.digests)
    png = io.BytesIO()
    image.save(png, format="PNG")

    def encode_io():  # read the PNG, then wrap the stream in the container
        with Image.open(io.BytesIO(png.getvalue())) as im:
            np.array(im.convert("RGB"))
        container.pack(header, compressed.data, compressed.digests)

    def decode_io():  # parse the container, then write the PNG as `licodec decode` does
        container.unpack(data)
        Image.fromarray(np.array(image)).save(io.BytesIO(), format="PNG", compress_level=PNG_COMPRESS_LEVEL)

    encode = _split(lambda: model.compress(x, quality), encode_io, repeats)
    decode = _split(lambda: model.decompress(compressed.data, image.height, image.width, quality), decode_io, repeats)
    return {"encode": vars(encode), "decode": vars(decode), "bytes": len(data)}


def bench_compressai(name: str, image: Image.Image, repeats: int, device: str = "cpu") -> dict | None:
    """A CompressAI reference architecture with random weights: speed only, no quality."""
    allow_without_torchvision()
    try:
        from compressai.registry import MODELS
        from compressai.zoo import cheng2020_anchor, mbt2018_mean
    except ImportError:
        return None
    net = {"mbt2018-mean": lambda: mbt2018_mean(quality=4), "cheng2020-anchor": lambda: cheng2020_anchor(quality=4),
           "elic2022-chandelier": lambda: MODELS["elic2022-chandelier"]()}[name]().eval().to(device)
    net.update(force=True)
    x = pad_image(rgb_to_tensor(np.array(image))).to(device)
    with torch.no_grad():
        out = net.compress(x)
        encode = median_time(lambda: net.compress(x), repeats)
        decode = median_time(lambda: net.decompress(out["strings"], out["shape"]), repeats)
        macs = macs_per_pixel(net, x, lambda m, v: m(v))
    return {"parameters": {"total": sum(p.numel() for p in net.parameters())}, "macs_per_pixel": macs,
            "encode": {"total": encode}, "decode": {"total": decode}}


def bench_baseline(name: str, image: Image.Image, repeats: int) -> dict | None:
    try:
        codec = codecs.baseline(name)
    except LookupError:
        return None
    quality = codec.qualities[len(codec.qualities) // 2]
    data = codec.encode(image, quality)
    return {"quality": quality, "bytes": len(data),
            "encode": {"total": median_time(lambda: codec.encode(image, quality), repeats)},
            "decode": {"total": median_time(lambda: codec.decode(data), repeats)}}


# Timed from a small launcher: a child forked from this (large) process reports this process's
# pages at fork time as its peak RSS (ru_maxrss), which is how the bench once showed 905 MB for
# a 400 MB decode; the launcher's children's peak is the command's own.
LAUNCHER = """import resource, subprocess, sys, time
began = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - began
sys.stderr.buffer.write(done.stderr)
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)"""


def cold_start(command: list[str]) -> dict:
    """Wall time and peak resident memory of one CLI process, as a fresh shell would start it."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-500:]}")
    seconds, peak_kb = done.stdout.split()
    return {"seconds": float(seconds), "peak_rss_mb": int(peak_kb) / 1024}


def median_cold_start(command: list[str], repeats: int = 3) -> dict:
    """The run of median wall time among `repeats` cold starts (single starts of the same CLI
    command differed by up to 50 % between two bench runs here)."""
    runs = sorted((cold_start(command) for _ in range(repeats)), key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def import_torch_start(python: str) -> dict:
    """What every cold CLI run pays before licodec's own work: `python -c "import torch"`."""
    return median_cold_start([python, "-c", "import torch"])


def weights_for(name: str, folder: Path) -> Path:
    """Shipped weights, a weights file, or (feds-*) a random-init file at the paper's size."""
    if name in SHIPPED or name.endswith(".safetensors"):
        return resolve(name).path
    path = folder / f"{name}.safetensors"
    torch.manual_seed(0)
    save_weights(LicModel(get_config(name)), path, name, {"random_init": True})
    return path


def bench_model(name: str, image: Image.Image, image_path: Path, quality: float, threads: tuple[int, ...],
                repeats: int, folder: Path, device: str = "cpu", python: str = sys.executable) -> dict:
    weights = weights_for(name, folder)
    model = load_model(read_info(weights)).to(device)
    x = pad_image(rgb_to_tensor(np.array(image))).to(device)
    result = {"parameters": parameters(model),
              "macs_per_pixel": macs_per_pixel(model, x, lambda m, v: m(v, torch.tensor([quality]))),
              "threads": {}}
    if name in PAPER_PARAMETERS:
        result["paper_parameters"] = PAPER_PARAMETERS[name]
    for count in threads:
        torch.set_num_threads(count)
        result["threads"][str(count)] = bench_ours(model, image, quality, repeats, device)
    stem = Path(name).stem  # a weights path names the files by its file name alone
    lic, png = folder / f"{stem}.lic", folder / f"{stem}.png"
    cli = [python, "-m", "licodec"]
    result["cli_encode"] = median_cold_start([*cli, "encode", str(image_path), "-o", str(lic), "-q",
                                              f"{quality:g}", "--model", str(weights), "--device", device, "--force"])
    result["cli_decode"] = median_cold_start([*cli, "decode", str(lic), "-o", str(png), "--model", str(weights),
                                              "--device", device, "--force"])
    return result


def sized_image(path: Path, size: tuple[int, int]) -> Image.Image:
    with Image.open(path) as im:
        image = im.convert("RGB")
    return image if image.size == size else image.resize(size, Image.LANCZOS)


def run_bench(models: tuple[str, ...], image_path: Path, sizes: list[tuple[int, int]], threads: tuple[int, ...],
              quality: float, repeats: int, baselines: tuple[str, ...], echo: Callable[[str], None],
              device: str = "cpu", compressai_models: tuple[str, ...] = COMPRESSAI_MODELS,
              python: str = sys.executable) -> dict:
    """Every measurement, in one process; the cold starts run `python` (the user's install)."""
    unknown = [name for name in compressai_models if name not in COMPRESSAI_MODELS]
    if unknown:  # before any timing, not after the first size's models
        raise LicodecError(f"--compressai {unknown[0]!r}: choose from {', '.join(COMPRESSAI_MODELS)}")
    results: dict = {"image": image_path.name, "quality": quality, "repeats": repeats, "sizes": {}, "device": device,
                     "torch": torch.__version__, "cpu_count": os.cpu_count(), "cpu": cpu_name(), "cpu_kind": cpu_kind(),
                     "precision": transform_precision(), "kernels": transform_kernels(),
                     "cli_python": python, "import_torch": import_torch_start(python)}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            image = sized_image(image_path, size)
            sized_path = Path(tmp) / f"image-{size[0]}x{size[1]}.png"
            image.save(sized_path)
            entry: dict = {"models": {}, "compressai": {}, "baselines": {}}
            for name in models:
                echo(f"{size[0]}x{size[1]} {name}")
                entry["models"][name] = bench_model(name, image, sized_path, quality, threads, repeats, Path(tmp),
                                                     device, python)
            torch.set_num_threads(max(threads))
            for name in compressai_models:
                echo(f"{size[0]}x{size[1]} compressai {name}")
                measured = bench_compressai(name, image, repeats, device)
                if measured is None:
                    echo("compressai is not installed: skipping its reference architectures")
                    break
                entry["compressai"][name] = measured
            for name in baselines:
                measured = bench_baseline(name, image, repeats)
                if measured is None:
                    echo(f"skipping baseline {name}: its encoder is not installed")
                else:
                    entry["baselines"][name] = measured
            results["sizes"][f"{size[0]}x{size[1]}"] = entry
    return results


def _summary_line(name: str, m: dict, threads: str, start: dict | None) -> str:
    """One model's figures that the speed targets name: warm times, cold start, peak memory."""
    warm = m["threads"][threads]
    cold = (f"cold CLI over `import torch`: encode {m['cli_encode']['seconds'] - start['seconds']:+.2f} s, "
            f"decode {m['cli_decode']['seconds'] - start['seconds']:+.2f} s; " if start else "")
    return (f"- {name}: warm encode {warm['encode']['total']:.3f} s, decode {warm['decode']['total']:.3f} s; {cold}"
            f"CLI peak RSS encode {m['cli_encode']['peak_rss_mb']:.0f} MB, decode {m['cli_decode']['peak_rss_mb']:.0f} MB")


def _ratio_lines(entry: dict, threads: str) -> list[str]:
    models, reference = entry["models"], entry["compressai"].get("mbt2018-mean")
    lines = []

    def timing(name: str, direction: str) -> float:
        return models[name]["threads"][threads][direction]["total"]

    def api_timing(name: str, direction: str) -> float:
        """Network and entropy coding, no container or image I/O: what CompressAI's compress and
        decompress are timed on (tensor in, strings out and back), so the ratio is like for like."""
        split = models[name]["threads"][threads][direction]
        return split["network"] + split["entropy"]

    def against(name: str, base: str) -> str:
        a, b = models[name], models[base]
        return (f"- {name} / {base}: parameters {a['parameters']['total'] / b['parameters']['total']:.2f}, "
                f"MACs {a['macs_per_pixel'] / b['macs_per_pixel']:.2f}, "
                f"encode time {timing(name, 'encode') / timing(base, 'encode'):.2f}, "
                f"decode time {timing(name, 'decode') / timing(base, 'decode'):.2f}")

    if "student" in models and "teacher" in models:
        lines.append(against("student", "teacher"))
    if "student" in models:  # a new model (a distilled student, say) beside the shipped one
        lines += [against(name, "student") for name in models if name not in ("student", "teacher")
                  and name not in PAPER_PARAMETERS]
    for name in models:
        if reference is not None:
            m = models[name]
            lines.append(f"- {name} / mbt2018-mean: parameters "
                         f"{m['parameters']['total'] / reference['parameters']['total']:.2f}, "
                         f"MACs {m['macs_per_pixel'] / reference['macs_per_pixel']:.2f}, "
                         f"encode time {api_timing(name, 'encode') / reference['encode']['total']:.2f}, "
                         f"decode time {api_timing(name, 'decode') / reference['decode']['total']:.2f} "
                         f"(both without file I/O)")
    return lines


def markdown(results: dict) -> str:
    """Tables per image size; the ratios, the numbers to quote, come last."""
    start = results.get("import_torch")
    out = [f"Image {results['image']}, quality {results['quality']:g}, median of {results['repeats']} runs after a "
           f"warm-up; torch {results['torch']}, {results['cpu_count']} CPUs"
           + (f" ({results['cpu']}, {results['cpu_kind']})" if "cpu_kind" in results else "")
           + f", networks on {results['device']}"
           f" (g_a/g_s in {results.get('precision', 'float32')}, {results.get('kernels', 'eager')} kernels). Times in seconds: total "
           "(network / entropy coding / container + PNG I/O)."
           + (f" Cold starts (median of 3) run {results['cli_python']}; its `python -c \"import torch\"`: "
              f"{start['seconds']:.2f} s, "
              f"{start['peak_rss_mb']:.0f} MB." if start else ""),
           ""]
    ratios = []
    for size, entry in results["sizes"].items():
        thread_counts = list(next(iter(entry["models"].values()))["threads"]) if entry["models"] else []
        out += [f"### {size}", "",
                "| model | parameters (paper) | g_a | g_s | hyperprior | ChARM | kMAC/pixel | "
                + " | ".join(f"encode ({t} thr) | decode ({t} thr)" for t in thread_counts)
                + " | CLI encode s, peak MB | CLI decode s, peak MB |",
                "|---" * (9 + 2 * len(thread_counts)) + "|"]
        for name, m in entry["models"].items():
            p = m["parameters"]
            paper = f" ({m['paper_parameters'] / 1e6:.2f} M)" if "paper_parameters" in m else ""
            cells = [f"{p['total'] / 1e6:.2f} M{paper}"] + [f"{p[k] / 1e6:.2f} M" for k in PARTS]
            cells.append(f"{m['macs_per_pixel'] / 1e3:.0f}")
            for t in thread_counts:
                for direction in ("encode", "decode"):
                    s = m["threads"][t][direction]
                    cells.append(f"{s['total']:.3f} ({s['network']:.3f} / {s['entropy']:.3f} / {s['container_io']:.3f})")
            for direction in ("cli_encode", "cli_decode"):
                cells.append(f"{m[direction]['seconds']:.2f} s, {m[direction]['peak_rss_mb']:.0f} MB")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        if entry["compressai"]:
            out += ["", "CompressAI reference architectures (random weights, quality-4 sizes; speed only):", "",
                    "| model | parameters | kMAC/pixel | encode | decode |", "|---|---|---|---|---|"]
            for name, m in entry["compressai"].items():
                out.append(f"| {name} | {m['parameters']['total'] / 1e6:.2f} M | {m['macs_per_pixel'] / 1e3:.0f} | "
                           f"{m['encode']['total']:.3f} | {m['decode']['total']:.3f} |")
        if entry["baselines"]:
            out += ["", "| baseline | quality | bytes | encode | decode |", "|---|---|---|---|---|"]
            for name, m in entry["baselines"].items():
                out.append(f"| {name} | {m['quality']} | {m['bytes']} | {m['encode']['total']:.4f} | "
                           f"{m['decode']['total']:.4f} |")
        out.append("")
        if thread_counts:
            ratios += [f"**{size}, {thread_counts[-1]} threads**"] + _ratio_lines(entry, thread_counts[-1])
            ratios += [_summary_line(name, m, thread_counts[-1], start) for name, m in entry["models"].items()]
    return "\n".join(out + ["### Ratios (same run)", ""] + ratios) + "\n"
