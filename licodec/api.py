"""Python API: `encode(image) -> bytes` and `decode(bytes) -> PIL.Image`.

    image ─► RGB tensor ─► LicModel.compress ─► container.pack ─► .lic bytes
    .lic bytes ─► container.unpack ─► weights by model id ─► LicModel.decompress ─► PIL image
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import torch
from PIL import Image

from licodec import container
from licodec.effort import check_effort
from licodec.errors import LicodecError, LicodecWarning
from licodec.files import read_file
from licodec.images import ImageLike, from_decoded, open_image, to_rgb
from licodec.metrics import psnr
from licodec.rate_control import Target, search
from licodec.models import LicModel
from licodec.models.codec import rgb_to_tensor
from licodec.models.refine import ProgressCallback, compress_refined
from licodec.weights import WeightsInfo, find_by_id, load_model, resolve


@lru_cache(maxsize=4)
def _cached_model(path: Path, content_hash: str, device: str) -> LicModel:
    return load_model(resolve(str(path))).to(device)


def loaded_model(info: WeightsInfo, device: str) -> LicModel:
    """The model of these weights on this device, ready for coding: loaded once per process
    (cached by content hash), as encode and decode use it."""
    return _cached_model(info.path, info.content_hash, device)


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise LicodecError("--device cuda: no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise LicodecError(f"unknown device {name!r} (auto, cpu or cuda)")
    return name


def _check_size(image: Image.Image) -> None:
    if image.width * image.height > container.MAX_PIXELS or max(image.size) > container.MAX_SIDE:
        raise LicodecError(f"image too large: {image.width}x{image.height} (at most "
                           f"{container.MAX_PIXELS // 10**6} megapixels and {container.MAX_SIDE} pixels a side)")


LicSource = Union[bytes, bytearray, memoryview, str, Path, BinaryIO]


def _check_quality(quality: float | str, model: LicModel) -> float:
    """The quality to code: a number (or numeric string) in 1..levels, on the 1/32 grid."""
    try:
        quality = float(quality)
    except (TypeError, ValueError):
        raise LicodecError(f"quality {quality!r} is not a number") from None
    levels = model.config.levels
    if not 1 <= quality <= levels:
        raise LicodecError(f"quality {quality} is outside 1..{levels}")
    return container.quantize_quality(quality)


def read_lic(source: LicSource) -> bytes:
    """The bytes of a .lic file given as bytes, a path or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, Path)):
        return read_file(source)
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, bytes):
            return data
    raise LicodecError(f"cannot read a .lic file from a {type(source).__name__}: give bytes, a path or a binary file")


def encode(image: ImageLike, quality: float = 4.0, model: str = "student", device: str = "cpu",
           keep_metadata: bool = True, effort: int = 0, progress: ProgressCallback | None = None) -> bytes:
    """Compress an image into .lic bytes.

    `image`: a path, the bytes of an image file, a binary file object, a PIL image or a uint8
    array (HxW, HxWx3 or HxWx4). `quality`: 1 (smallest) to 8 (best), fractions interpolate and
    are coded in steps of 1/32. `model`: "student", "teacher" or a .safetensors path. Alpha is
    kept losslessly; the ICC profile and EXIF are kept unless `keep_metadata` is false.
    `effort`: 0 (one pass) to licodec.effort.MAX_EFFORT, encode time spent refining the latents
    for smaller files at the same quality (licodec.effort); `progress(done, total)` is called
    after each refinement iteration.

    >>> data = licodec.encode("photo.png", quality=4)
    >>> open("photo.lic", "wb").write(data)
    """
    effort = check_effort(effort)
    info = resolve(model)
    net = loaded_model(info, _device(device))
    quality = _check_quality(quality, net)
    rgb, colour, extras = _prepare(image, keep_metadata)
    header = container.Header(info.model_id, quality, rgb.width, rgb.height, colour, extras=extras)
    return _encode_at(net, rgb_to_tensor(np.array(rgb), scaled=False), header, effort, progress)


@dataclass(frozen=True)
class TargetResult:
    """What `encode_to_target` coded: the file, its quality, whether it meets the target, and
    what it measures (bytes, or dB) — for an unmet target, the most (or least) this model can."""
    data: bytes
    quality: float
    met: bool
    measured: float


def encode_to_target(image: ImageLike, target: Target, model: str = "student", device: str = "cpu",
                     keep_metadata: bool = True, effort: int = 0,
                     progress: ProgressCallback | None = None) -> TargetResult:
    """Encode at the quality that meets a target size or PSNR (see rate_control); where none
    does, the nearest end of the quality range, `met` false, found at the first encode (the
    search tries that end first). Every quality tried is coded at `effort`, so the search costs
    that effort about 8 times."""
    effort = check_effort(effort)
    info = resolve(model)
    net = loaded_model(info, _device(device))
    rgb, colour, extras = _prepare(image, keep_metadata)
    reference = np.array(rgb)
    x = rgb_to_tensor(reference, scaled=False)
    coded: dict[float, bytes] = {}
    goal = target.for_image(rgb.width * rgb.height)

    def measure(quality: float) -> float:
        header = container.Header(info.model_id, quality, rgb.width, rgb.height, colour, extras=extras)
        coded[quality] = coded.get(quality) or _encode_at(net, x, header, effort, progress)
        if goal.kind == "bytes":
            return len(coded[quality])
        return psnr(reference, np.array(decode(coded[quality], model=str(info.path), device=device).convert("RGB")))

    quality, met = search(measure, goal, net.config.levels)
    return TargetResult(coded[quality], quality, met, measure(quality))


def _prepare(image: ImageLike, keep_metadata: bool) -> tuple[Image.Image, str, container.Extras]:
    source = open_image(image)
    _check_size(source)
    return to_rgb(source, keep_metadata)


def _encode_at(net: LicModel, x: torch.Tensor, header: container.Header, effort: int = 0,
               progress: ProgressCallback | None = None) -> bytes:
    compressed = compress_refined(net, x.to(next(net.parameters()).device), header.quality, effort, progress)
    return container.pack(header, compressed.data, compressed.digests)


def _decoder_weights(model_id: bytes, model: str | None) -> WeightsInfo:
    """The weights a file names. `model` is one more place to look; a file of another model
    still decodes with its own weights (the only ones that can decode it), with a warning."""
    given = resolve(model) if model else None
    info = find_by_id(model_id, [given] if given else [])
    if given is not None and info.model_id != given.model_id:
        warnings.warn(f"coded by {info.name} (model id {model_id.hex()}), not by {given.name}: "
                      f"decoded with {info.name}", LicodecWarning, stacklevel=3)
    return info


def decode(source: LicSource, model: str | None = None, device: str = "cpu",
           max_pixels: int | None = None) -> Image.Image:
    """Decompress a .lic file (bytes, a path or a binary file object) into a PIL image; the
    weights are found by the file's model id (or given by `model`). A file declaring more than
    `max_pixels` pixels (default: $LICODEC_MAX_PIXELS, else the format's 100 megapixels) is
    refused before anything is allocated, as Pillow's MAX_IMAGE_PIXELS does.

    >>> image = licodec.decode("photo.lic")
    >>> image.save("photo.png")
    """
    header, stream, digests = container.unpack(read_lic(source))
    container.check_pixels(header, max_pixels)
    info = _decoder_weights(header.model_id, model)
    net = loaded_model(info, _device(device))
    pixels = net.decompress(stream, header.height, header.width, header.quality, expected=digests,
                            centred=header.centred)[0]
    return from_decoded(pixels, header.colour, header.extras)
