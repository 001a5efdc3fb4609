"""User images in and out (torch-free): reading any Pillow format, arrays or paths with clear
errors; the folders of images the tools take; writing decoded images in the format asked."""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from licodec.container import Extras
from licodec.errors import LicodecError, LicodecWarning

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".tif", ".tiff"}
# Output formats that re-compress the decoded image (a warning says so).
LOSSY_FORMATS = {"JPEG", "WEBP", "AVIF", "HEIF", "JPEG2000"}
SOURCE_BITS = "licodec_source_bits"  # image.info key: 16 when Pillow read 16-bit samples
GREY_16_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")

ImageLike = Union[Image.Image, np.ndarray, str, Path, bytes, bytearray, memoryview, BinaryIO]


def open_image(image: ImageLike) -> Image.Image:
    """A PIL image from a PIL image, an HxW or HxWx3/4 uint8 array, a path, the bytes of an
    image file, or a binary file object."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        return _from_array(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = io.BytesIO(image)
    elif not isinstance(image, (str, Path)) and not hasattr(image, "read"):
        raise LicodecError(f"cannot read an image from a {type(image).__name__}: give a path, bytes, "
                           "a binary file, a PIL image or a uint8 array")
    label = image if isinstance(image, (str, Path)) else "input"
    try:
        with Image.open(image) as im:
            # Pillow reads 16-bit colour as 8-bit RGB without a word; its raw mode still says so.
            if any(";16" in str(tile[3]) for tile in im.tile):
                im.info[SOURCE_BITS] = 16
            im.load()
            return im
    except FileNotFoundError:
        raise LicodecError(f"{label}: no such file") from None
    except Image.DecompressionBombError:
        raise LicodecError(f"{label}: image too large (Pillow's decompression-bomb limit)") from None
    except (UnidentifiedImageError, OSError) as e:
        raise LicodecError(f"{label}: not a readable image ({e.__class__.__name__})") from None


def list_images(folder: str | Path) -> list[Path]:
    """The images of a folder (by suffix), sorted; an error if there are none."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise LicodecError(f"no images in {folder}")
    return paths


def _from_array(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise LicodecError(f"arrays must be uint8, HxW or HxWx3/4 (got {array.dtype} {array.shape})")
    return Image.fromarray(np.ascontiguousarray(array))


def to_rgb(image: Image.Image, keep_metadata: bool = True) -> tuple[Image.Image, str, Extras]:
    """The RGB image to code, the colour layout to restore and what the file keeps beside it:
    the image is turned upright by its EXIF orientation and 16-bit samples are converted to 8
    bits (with a warning); alpha is kept losslessly; the ICC profile and EXIF are kept unless
    `keep_metadata` is false."""
    image = upright(image)
    if image.mode in GREY_16_MODES:
        image = _grey_16_to_8(image)
    elif image.info.get(SOURCE_BITS) == 16:
        warnings.warn("16-bit colour converted to 8 bits per sample", LicodecWarning, stacklevel=2)
    if image.mode.startswith("I") or image.mode == "F":
        raise LicodecError(f"{image.mode} images are not supported: licodec codes 8-bit greyscale and RGB")
    has_alpha = "A" in image.getbands() or image.info.get("transparency") is not None
    alpha = alpha_to_bytes(image.convert("RGBA").getchannel("A")) if has_alpha else None
    colour = ("L" if image.mode in ("L", "LA", "1") else "RGB") + ("A" if has_alpha else "")
    extras = Extras(alpha, *_metadata(image)) if keep_metadata else Extras(alpha)
    return (image if image.mode == "RGB" else image.convert("RGB")), colour, extras  # no copy of a large RGB


def from_decoded(pixels: np.ndarray, colour: str, extras: Extras) -> Image.Image:
    """The decoded HxWx3 pixels as the user's image: greyscale, alpha and metadata restored."""
    image = Image.fromarray(pixels, "RGB")
    if colour.startswith("L"):
        image = image.convert("L")
    if extras.alpha is not None:
        image.putalpha(alpha_from_bytes(extras.alpha, image.size))
    if extras.icc is not None:
        image.info["icc_profile"] = extras.icc
    if extras.exif is not None:
        image.info["exif"] = extras.exif
    return image


# WebP lossless (libwebp through Pillow) codes alpha planes in about half PNG's bytes
# (results/alpha/sizes.md), in a format every browser reads; its images stop at 16383 a side.
WEBP_MAX_SIDE = 16383
# libwebp's lossless effort: 4 (its default) is within 0.1 % of 6 and 5× faster (1.3 s against
# 7.8 s on a 12 MP plane here).
WEBP_METHOD = 4


def alpha_to_bytes(alpha: Image.Image) -> bytes:
    """The alpha plane coded losslessly: WebP lossless of it as grey RGB (libwebp's transforms
    reduce R = G = B to one plane), or a greyscale PNG where WebP's size limit rules it out."""
    buffer = io.BytesIO()
    if max(alpha.size) <= WEBP_MAX_SIDE:
        alpha.convert("RGB").save(buffer, format="WEBP", lossless=True, quality=100, method=WEBP_METHOD)
    else:
        alpha.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def alpha_to_png(alpha: Image.Image) -> bytes:
    """The alpha plane as format version 2 stored it: a greyscale PNG."""
    buffer = io.BytesIO()
    alpha.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


_ALPHA_MODES = {"PNG": ("L",), "WEBP": ("RGB", "RGBA")}


def alpha_from_bytes(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The alpha plane of a .lic file (PNG or WebP lossless); its size is checked before any
    pixel is decoded."""
    try:
        with Image.open(io.BytesIO(data), formats=list(_ALPHA_MODES)) as plane:
            if plane.size != size or plane.mode not in _ALPHA_MODES[plane.format]:
                raise LicodecError(f"corrupt file: alpha plane is {plane.mode} {plane.size[0]}x{plane.size[1]}, "
                                   f"not {size[0]}x{size[1]}")
            plane.load()
            return plane.getchannel(0) if plane.mode != "L" else plane.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise LicodecError(f"corrupt file: unreadable alpha plane ({e.__class__.__name__})") from None


def upright(image: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: a portrait phone photo comes out portrait."""
    orientation = image.getexif().get(0x0112, 1)
    return ImageOps.exif_transpose(image) if orientation != 1 else image


def _metadata(image: Image.Image) -> tuple[bytes | None, bytes | None]:
    """The ICC profile and EXIF to keep (orientation removed: the pixels are upright already)."""
    exif = Image.Exif()  # a copy: the caller's image (and its cached EXIF) stays as it was
    exif.load(image.getexif().tobytes())
    exif.pop(0x0112, None)
    if image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"):
        warnings.warn("not kept in .lic files: XMP metadata", LicodecWarning, stacklevel=3)
    return image.info.get("icc_profile") or None, exif.tobytes() if len(exif) else None


def _grey_16_to_8(image: Image.Image) -> Image.Image:
    """16-bit greyscale scaled to 8 bits (÷257, rounded): Pillow's own conversion clips instead."""
    warnings.warn("16-bit greyscale converted to 8 bits per sample", LicodecWarning, stacklevel=3)
    samples = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.round(samples / 257), 0, 255).astype(np.uint8), "L")


def output_format(output: str) -> str:
    """The Pillow format an output name asks for (PNG for standard output)."""
    if output == "-":
        return "PNG"
    extension = Path(output).suffix.lower()
    formats = Image.registered_extensions()
    if extension not in formats:
        raise LicodecError(f"{output}: unknown image extension {extension or '(none)'!r} (try .png)")
    return formats[extension]


# zlib level 1 instead of Pillow's 6: kodim23 writes in 27 ms instead of 128 ms (level 3: 40 ms),
# 11 % larger (level 3: 7 %) (scripts/png_write_speed.py, one run). The PNG is the decoder's
# output, not an archive: its writing was a fifth of a Kodak decode and 0.9 s of a 12 MP one.
PNG_COMPRESS_LEVEL = 1


# Pillow writers that refuse RGBA/LA (others keep alpha: PNG, WebP, TIFF, AVIF, JPEG XL, ...).
FORMATS_WITHOUT_ALPHA = ("JPEG", "PPM", "PCX", "EPS", "MPEG", "PDF")


def save_image(image, f, image_format: str, quality: int | None = None) -> None:
    """The decoded image in a Pillow format, with its ICC profile and EXIF where it has them."""
    options = {key: image.info[key] for key in ("icc_profile", "exif") if image.info.get(key)}
    if quality is not None:
        options["quality"] = quality
    if image_format == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
    try:
        image.save(f, format=image_format, **options)
    except (OSError, KeyError, ValueError) as e:
        raise LicodecError(f"cannot write {image_format}: {e}") from None
