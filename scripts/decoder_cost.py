"""What a decoder spends on files it is handed: the stream floor against real files, and the
time and memory of crafted files (decompression bombs) against a real decode.

    python scripts/decoder_cost.py > results/decoder/cost.md

1. The floor (ChARMLatentCodec.shortest_stream: z at the factorized prior's modes, y free)
   against the real streams of Kodak, wikipedia-photos and flat single-colour images at q1
   (the smallest files; the floor does not depend on quality), and against the stream of z at
   its modes with every y symbol 0 (at its μ); and the bytes per 64×64 block of the same files
   unpadded, against the format's shortest file (container.MIN_BYTES_PER_BLOCK).
2. Crafted files of at most 1 kB declaring sizes up to the cap, beside real files: the time
   and peak RSS of `licodec.decode` in a warm process (what a server pays per file), and of
   `licodec decode` in a fresh process (its VmHWM at exit: Python, torch and the weights
   included). One real file has the most blocks a file of 1 kB may declare
   (container.shortest_file): its decode bounds the work any 1 kB file can ask for.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import licodec
from licodec import container
from licodec.api import loaded_model
from licodec.format_tables import gaussian_table_set
from licodec.models.charm import symbols_crc
from licodec.latent_stream import latent_shape
from licodec.images import list_images
from licodec.rans import StreamWriter
from licodec.weights import resolve

SHARED = Path(os.environ.get("LICODEC_SHARED", "../shared"))
FLAT_SIZES = ((256, 256), (512, 512), (2048, 2048), (4000, 3000))  # from 256²: smaller floors are 0
BOMB_SIZES = ((1024, 1024), (2048, 1408), (4000, 3000), (10000, 10000))


def modal_stream(codec, z_shape: tuple[int, int], quality: float) -> tuple[bytes, container.Digests]:
    """A valid stream no image gives, and its digests: every z at its prior's mode, every y
    symbol 0 (its table's most probable bin), through the same exact parameters as an encoder.
    Not the shortest possible: flat images get smaller σ, so cheaper y, than z's modes give."""
    tables = codec.z_tables()
    modes = torch.tensor([offset + int(np.argmax(pmf)) for pmf, offset in zip(tables.pmfs, tables.offsets)])
    z_symbols = modes.double().view(1, -1, 1, 1).expand(1, len(modes), *z_shape).contiguous()
    writer = StreamWriter()
    writer.write(z_symbols.numpy(), codec._z_table_index(z_symbols.shape), tables)
    digest = z_digest = symbols_crc(z_symbols, 0)
    parameters = codec.exact_parameters()
    side = parameters.side(z_symbols, quality)
    decoded: list[torch.Tensor] = []
    for i in range(codec.slices):
        mean, scale_index, support = parameters.slice_parameters(i, side, decoded)
        symbols = torch.zeros(mean.shape, dtype=torch.float64)
        writer.write(symbols.numpy(), scale_index, gaussian_table_set())
        digest = symbols_crc(symbols, digest)
        decoded.append(parameters.reconstruct(i, symbols, mean, support))
    return writer.finish(), container.Digests(digest, z_digest)


def floor_table(model: str) -> list[str]:
    codec = loaded_model(resolve(model), "cpu").latent_codec
    rows = []
    sets = [("Kodak", [Image.open(path).convert("RGB") for path in list_images(SHARED / "data/kodak")]),
            ("wikipedia-photos", [Image.open(path).convert("RGB")
                                  for path in list_images(SHARED / "data/wikipedia-photos")])]
    sets.append((f"flat grey, black, white at {', '.join(f'{w}x{h}' for w, h in FLAT_SIZES)}",
                 [Image.new("RGB", size, (value,) * 3) for size in FLAT_SIZES for value in (0, 128, 255)]))
    for name, images in sets:
        ratios, per_block = zip(*(_against_floors(codec, image) for image in images))
        rows.append(f"| {name} | {min(ratios):.1f} | {np.median(ratios):.1f} | {min(per_block):.1f} | "
                    f"{np.median(per_block):.1f} |")
    modal = [len(modal_stream(codec, latent_shape(h, w), 1.0)[0]) / codec.shortest_stream(latent_shape(h, w))
             for w, h in FLAT_SIZES[1:]]
    rows.append(f"| z at its modes, y all 0, at {', '.join(f'{w}x{h}' for w, h in FLAT_SIZES[1:])}"
                f" | {min(modal):.1f} | {np.median(modal):.1f} | | |")
    return rows


def _against_floors(codec, image: Image.Image) -> tuple[float, float]:
    """The q1 stream ÷ the stream floor, and the q1 file's bytes unpadded per 64×64 block."""
    header, stream, digests = container.unpack(licodec.encode(image, quality=1))
    unpadded = container.pack(header, stream, digests, pad=False)
    return (len(stream) / codec.shortest_stream(latent_shape(image.height, image.width)),
            len(unpadded) / container.blocks(image.width, image.height))


def _largest_flat_file(model: str, limit: int) -> tuple[int, bytes]:
    """The largest black square (sides in steps of 64) whose q1 file fits in `limit` bytes."""
    best = (64, licodec.encode(Image.new("RGB", (64, 64)), quality=1, model=model))
    for side in range(128, 4097, 64):
        data = licodec.encode(Image.new("RGB", (side, side)), quality=1, model=model)
        if len(data) > limit:
            return best
        best = (side, data)
    return best


# Runs the CLI and reports its own peak (VmHWM): a forked child's ru_maxrss counts its parent's pages.
_CLI_WITH_PEAK = ("import atexit, sys; atexit.register(lambda: print('peak-kB', next(l.split()[1] for l in "
                  "open('/proc/self/status') if l.startswith('VmHWM')), file=sys.stderr)); "
                  "from licodec.cli import main; sys.argv[0] = 'licodec'; main()")


# A server's cost per file: a process that has loaded the weights and decoded one Kodak file
# (kernels built), then this file. Writing 5 to clear_refs resets VmHWM (Linux), so the peak
# printed is this file's alone, above what the process held before it.
_WARM_DECODE = """
import sys, time
from pathlib import Path
import licodec
kodak, case = Path(sys.argv[1]).read_bytes(), Path(sys.argv[2]).read_bytes()
licodec.decode(kodak)
status = lambda field: int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith(field)))
Path('/proc/self/clear_refs').write_text('5')
before, started = status('VmRSS'), time.monotonic()
try:
    licodec.decode(case)
    outcome = 'decoded'
except licodec.LicodecError as e:
    outcome = str(e)
print(time.monotonic() - started, (status('VmHWM') - before) / 1024, outcome, sep='\\t')
"""


def _warm_process_cost(kodak: Path, path: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS above the process's before (MB) and outcome of licodec.decode of `path`
    in a process that has already decoded `kodak`."""
    done = subprocess.run([sys.executable, "-c", _WARM_DECODE, str(kodak), str(path)], capture_output=True,
                          text=True, check=True)
    seconds, peak, outcome = done.stdout.strip().split("\t")
    return float(seconds), float(peak), outcome


def _fresh_process_cost(path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `licodec decode` in a new process."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", _CLI_WITH_PEAK, "decode", str(path), "-o", str(path) + ".png",
                             "--force"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    peak = next(line.split()[1] for line in result.stderr.splitlines() if line.startswith("peak-kB"))
    return time.monotonic() - started, int(peak) / 1024


def largest_canvas(limit: int) -> tuple[int, int]:
    """The nearest-square canvas with the most 64×64 blocks a file of `limit` bytes may declare
    (container.shortest_file): no such file asks for more work. Width and height in pixels."""
    most = 1
    while container.shortest_file(64, 64 * (most + 1)) <= limit:  # the rule counts blocks, not their shape
        most += 1
    rows = max(r for r in range(1, math.isqrt(most) + 1) if most % r == 0)
    return 64 * (most // rows), 64 * rows


def bomb_table(model: str) -> list[str]:
    info = resolve(model)
    codec = loaded_model(info, "cpu").latent_codec
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        kodak = Path(folder) / "kodim23.lic"
        kodak.write_bytes(licodec.encode(SHARED / "data/kodak/kodim23.png", quality=1, model=model))
        cases = [("real: Kodak kodim23 at q1", 768, 512, kodak.read_bytes())]
        refused = container.pack(container.Header(info.model_id, 1.0, 20000, 10000), b"", container.Digests(0, 0),
                                 pad=False)
        cases.append(("declares 200 MP (header refusal)", 20000, 10000, refused))
        for width, height in BOMB_SIZES:
            header = container.Header(info.model_id, 1.0, width, height)
            modal, digests = modal_stream(codec, latent_shape(height, width), 1.0)
            for label, stream, file_digests in [
                    ("empty stream", b"", container.Digests(0, 0)),
                    ("1 kB of random stream", rng.bytes(1000), container.Digests(0, 0)),
                    ("z at modes, y 0, its true digests, cut to 1 kB", modal[:1000], digests)]:
                cases.append((label, width, height, container.pack(header, stream, file_digests, pad=False)))
                cases.append((label + ", padded to the shortest file", width, height,
                              container.pack(header, stream, file_digests)))
        side, flat = _largest_flat_file(model, 1024)
        cases.append(("real: the largest flat black square under 1 kB, q1", side, side, flat))
        width, height = largest_canvas(1024)
        grey = licodec.encode(Image.new("RGB", (width, height), (128,) * 3), quality=1, model=model)
        cases.append(("real, flat grey, q1: the most blocks a 1 kB file may declare (the bound on any "
                      "1 kB file's work)", width, height, grey))
        for label, width, height, data in cases:
            path = Path(folder) / "case.lic"
            path.write_bytes(data)
            seconds, peak, outcome = _warm_process_cost(kodak, path)
            fresh_seconds, fresh_peak = _fresh_process_cost(path)
            rows.append(f"| {label} | {width}x{height} | {len(data)} | {seconds:.3f} | {peak:.0f} | "
                        f"{fresh_seconds:.2f} | {fresh_peak:.0f} | {outcome} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="student")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    print(f"# What a decoder spends ({args.model})\n\n`python scripts/decoder_cost.py` (this machine, "
          f"{os.cpu_count()} cores)\n")
    print("## The floors against real files (q1)\n")
    print(f"Stream bytes ÷ the stream floor's, and the file's bytes unpadded per 64×64 block (the format asks "
          f"for {container.MIN_BYTES_PER_BLOCK}).\n")
    print("| files | stream ÷ floor, least | median | bytes per block, least | median |\n|---|---|---|---|---|")
    print("\n".join(floor_table(args.model)))
    print("\n## Crafted files against real ones\n")
    print("Warm: `licodec.decode` in a process that has loaded the weights and decoded a Kodak file (a "
          "server's cost per file), and its peak RSS above what that process held before; fresh: "
          "`licodec decode FILE -o OUT.png` in a new process, its peak RSS with Python, torch and the weights.\n")
    print("| file | declared size | bytes | warm s | warm peak MB | fresh s | fresh peak RSS MB | outcome |\n"
          "|---|---|---|---|---|---|---|---|")
    print("\n".join(bomb_table(args.model)))


if __name__ == "__main__":
    main()
