"""Reading user images (torch-free): any Pillow format, arrays or paths, with clear errors."""
from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from licodec.errors import LicodecError

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
            im.load()
            return im
    except FileNotFoundError:
        raise LicodecError(f"{label}: no such file") from None
    except Image.DecompressionBombError:
        raise LicodecError(f"{label}: image too large (Pillow's decompression-bomb limit)") from None
    except (UnidentifiedImageError, OSError) as e:
        raise LicodecError(f"{label}: not a readable image ({e.__class__.__name__})") from None


def _from_array(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise LicodecError(f"arrays must be uint8, HxW or HxWx3/4 (got {array.dtype} {array.shape})")
    return Image.fromarray(np.ascontiguousarray(array))


def to_rgb(image: Image.Image) -> tuple[Image.Image, str]:
    """The RGB image to code and the colour layout to restore; alpha is refused unless opaque."""
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema() != (255, 255):
            raise LicodecError("images with transparency are not supported: flatten the alpha channel first")
    if image.mode.startswith("I") or image.mode == "F":
        raise LicodecError(f"{image.mode} images are not supported: licodec codes 8-bit greyscale and RGB")
    colour = "L" if image.mode in ("L", "LA", "1") else "RGB"
    return image.convert("RGB"), colour
