"""Fuzzing the decoder: every input is either decoded or refused with a LicodecError, in bounded
time and memory; never another exception, a hang or a memory blow-up.

    python -m licodec.fuzz --minutes 60          # the long run (the shipped student)

Inputs are made from valid files (one with alpha, ICC and EXIF sections): random bytes, truncations, bit flips and byte changes, with
the CRC fixed up half the time (so that damage reaches the header parser, the rANS decoder and
the model, not only the checksum), declared sizes up to the format's limits, other versions.
tests/test_fuzz.py runs the same mutations briefly under hypothesis.
"""
from __future__ import annotations

import argparse
import struct
import time
import zlib

import numpy as np

from licodec import container
from licodec.errors import LicodecError


def with_fixed_crc(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def mutate(valid: bytes, rng: np.random.Generator) -> bytes:
    """One damaged variant of a valid .lic file."""
    kind = int(rng.integers(6))
    data = bytearray(valid)
    if kind == 0:
        return bytes(rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8))
    if kind == 1:
        return bytes(data[: int(rng.integers(0, len(data)))])
    if kind == 2:
        for _ in range(int(rng.integers(1, 4))):
            position = int(rng.integers(len(data)))
            data[position] ^= 1 << int(rng.integers(8))
    elif kind == 3:
        data[int(rng.integers(min(len(data), 24)))] = int(rng.integers(256))  # header bytes
    elif kind == 4:
        header = container.read_header(valid)[0]
        # Sizes the decoder accepts but the stream cannot fill (larger ones are refused up front,
        # tests/test_fuzz.py checks that): kept under 2048² so that each input stays quick.
        width, height = (int(v) for v in rng.integers(1, 2048, 2))
        data = bytearray(container.pack(container.Header(header.model_id, header.quality, width, height),
                                        b"\0" * 4 * int(rng.integers(0, 8)), 0))
    else:
        data[3] = int(rng.integers(256))  # version
    return with_fixed_crc(bytes(data)) if rng.random() < 0.5 and len(data) > 4 else bytes(data)


def with_sections(image):
    """The image with an alpha gradient, an ICC profile and EXIF: a valid file with every section."""
    from PIL import Image

    tagged = image.convert("RGBA")
    tagged.putalpha(Image.linear_gradient("L").resize(image.size))
    exif = Image.Exif()
    exif[0x010F] = "fuzz"
    tagged.info.update(icc_profile=b"\0" * 128, exif=exif.tobytes())
    return tagged


def check(data: bytes, decode) -> str:
    """'decoded' or 'refused'; raises anything else."""
    try:
        decode(data)
    except LicodecError:
        return "refused"
    return "decoded"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="student")
    parser.add_argument("--image", default="data/kodim23.png", help="the image the valid files code")
    args = parser.parse_args()
    from licodec import api
    from licodec.images import open_image

    rng = np.random.default_rng(args.seed)
    image = open_image(args.image).crop((300, 150, 428, 278))
    valid = [api.encode(image, quality=q, model=args.model) for q in (1, 4.5, 8)]
    valid.append(api.encode(with_sections(image), quality=4, model=args.model))
    counts = {"decoded": 0, "refused": 0}
    slowest, failures, began = 0.0, 0, time.monotonic()
    interrupted = ""
    try:
        while time.monotonic() - began < 60 * args.minutes:
            data = mutate(valid[int(rng.integers(len(valid)))], rng)
            started = time.monotonic()
            try:
                counts[check(data, lambda d: api.decode(d, model=args.model))] += 1
            except Exception as e:  # noqa: BLE001 — the point: anything but LicodecError is a failure
                failures += 1
                print(f"FAILURE {type(e).__name__}: {e} on {data[:32].hex()}…", flush=True)
            slowest = max(slowest, time.monotonic() - started)
    except KeyboardInterrupt:  # a run stopped early still reports what it tried
        interrupted = " (interrupted)"
    tried = sum(counts.values()) + failures
    print(f"{tried} inputs in {time.monotonic() - began:.0f} s{interrupted}: {counts['decoded']} decoded, "
          f"{counts['refused']} refused, {failures} failures; slowest {slowest:.2f} s")


if __name__ == "__main__":
    main()
