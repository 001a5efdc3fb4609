"""Fuzzing the decoder: every input is either decoded or refused with a LicodecError, in time
bounded by its length (SECONDS_PER_KB, at least that for any input); never another exception, a
hang or a memory blow-up.

    python -m licodec.checks.fuzz --minutes 60          # the long run (the shipped student; runs: results/fuzz/)

Inputs are made from valid files (one with alpha, ICC and EXIF sections): random bytes,
truncations, bit flips and byte changes, with the CRC fixed up half the time (so that damage
reaches the header parser, the rANS decoder and the model, not only the checksum), crafted files
declaring any size up to the format's cap with up to 1 kB of stream, other versions. An input
slower than its bound counts as a failure. tests/test_fuzz.py runs the same mutations briefly
under hypothesis.
"""
from __future__ import annotations

import argparse
import struct
import time
import zlib

import numpy as np

from licodec import container
from licodec.errors import LicodecError

# What an input may cost: 10 s for anything up to 1 kB, 10 s more per kB beyond (the valid
# files here are 128² crops, decoded in well under a second).
SECONDS_PER_KB = 10.0


def time_bound(data: bytes) -> float:
    return SECONDS_PER_KB * max(1.0, len(data) / 1024)


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
        return crafted(container.read_header(valid)[0], rng)
    else:
        data[3] = int(rng.integers(256))  # version
    return with_fixed_crc(bytes(data)) if rng.random() < 0.5 and len(data) > 4 else bytes(data)


def crafted(header: container.Header, rng: np.random.Generator) -> bytes:
    """A well-formed file (valid CRC) declaring any size up to the cap, with up to 1 kB of random
    stream and random digests, padded to its shortest length or not: what an attacker hands a
    server that decodes uploads."""
    width = int(rng.integers(1, container.MAX_SIDE))
    height = int(rng.integers(1, max(2, min(container.MAX_SIDE, container.MAX_PIXELS // width))))
    stream = rng.integers(0, 256, 4 * int(rng.integers(0, 257)), dtype=np.uint8).tobytes()
    digests = container.Digests(*(int(v) for v in rng.integers(0, 1 << 16, 2)))
    return container.pack(container.Header(header.model_id, header.quality, width, height), stream, digests,
                          pad=bool(rng.integers(2)))


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
    slowest, failures, tried, began = 0.0, 0, 0, time.monotonic()
    interrupted = ""
    try:
        while time.monotonic() - began < 60 * args.minutes:
            data = mutate(valid[int(rng.integers(len(valid)))], rng)
            tried += 1
            started, failure = time.monotonic(), None
            try:
                counts[check(data, lambda d: api.decode(d, model=args.model))] += 1
            except Exception as e:  # noqa: BLE001 — the point: anything but LicodecError is a failure
                failure = f"{type(e).__name__}: {e}"
            seconds = time.monotonic() - started
            if failure is None and seconds > time_bound(data):
                failure = f"{seconds:.1f} s, over its bound of {time_bound(data):.0f} s"
            if failure is not None:
                failures += 1
                print(f"FAILURE {failure} on {len(data)} bytes {data[:32].hex()}…", flush=True)
            slowest = max(slowest, seconds)
    except KeyboardInterrupt:  # a run stopped early still reports what it tried
        interrupted = " (interrupted)"
    print(f"{tried} inputs in {time.monotonic() - began:.0f} s{interrupted}: {counts['decoded']} decoded, "
          f"{counts['refused']} refused, {failures} failures; slowest {slowest:.2f} s "
          f"(bound: {SECONDS_PER_KB:g} s per kB, at least {SECONDS_PER_KB:g} s)")


if __name__ == "__main__":
    main()
