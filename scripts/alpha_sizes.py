"""Bytes of the alpha plane in a .lic file: format 2's PNG against format 3's WebP lossless.

    python scripts/alpha_sizes.py > results/alpha/sizes.md

On the RGBA images in data/rgba/ (real icons with soft edges, see its README) and a cut-out of
data/kodim23.png (a photo under a soft-edged elliptical mask: the mask is made here). Every
plane is checked to decode exactly; the .lic sizes are at q4 with the shipped student.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import licodec
from licodec import container
from licodec.images import alpha_from_bytes, alpha_to_bytes, alpha_to_png

DATA = Path(__file__).resolve().parents[1] / "data"


def cut_out(path: Path) -> Image.Image:
    """The photo under an ellipse that fades out over 24 pixels: a typical product cut-out."""
    image = Image.open(path).convert("RGB")
    h, w = image.height, image.width
    yy, xx = np.mgrid[:h, :w]
    distance = np.hypot((xx - w / 2) / (0.4 * w), (yy - h / 2) / (0.4 * h))
    alpha = np.clip((1 - distance) * min(w, h) * 0.4 / 24 * 255, 0, 255).astype(np.uint8)
    image.putalpha(Image.fromarray(alpha))
    return image


def row(name: str, image: Image.Image, quality: float) -> tuple[str, int, int]:
    alpha = image.convert("RGBA").getchannel("A")
    png, webp = alpha_to_png(alpha), alpha_to_bytes(alpha)
    for data in (png, webp):
        assert np.array_equal(np.array(alpha_from_bytes(data, alpha.size)), np.array(alpha)), name
    lic = licodec.encode(image, quality=quality)
    colour = len(container.unpack(lic)[1])
    return (f"| {name} | {image.width}x{image.height} | {colour} | {len(png)} | {len(webp)} | "
            f"{len(webp) / len(png):.2f} | {len(lic) - len(webp) + len(png)} | {len(lic)} |", len(png), len(webp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality", type=float, default=4)
    args = parser.parse_args()
    cases = [(path.stem, Image.open(path)) for path in sorted((DATA / "rgba").glob("*.png"))]
    cases.append(("kodim23 cut-out (mask made here)", cut_out(DATA / "kodim23.png")))
    print(f"# The alpha plane: PNG (format 2) against WebP lossless (format 3)\n\n"
          f"`python scripts/alpha_sizes.py` (q{args.quality:g}, shipped student; every plane decoded exactly)\n")
    print("| image | size | colour stream bytes | alpha PNG | alpha WebP | WebP ÷ PNG | .lic with PNG | .lic with WebP |")
    print("|---|---|---|---|---|---|---|---|")
    total_png = total_webp = 0
    for name, image in cases:
        line, png, webp = row(name, image, args.quality)
        total_png, total_webp = total_png + png, total_webp + webp
        print(line)
    print(f"\nAll planes: {total_webp} bytes as WebP against {total_png} as PNG ({total_webp / total_png:.2f}).")


if __name__ == "__main__":
    main()
