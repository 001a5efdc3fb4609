"""The codecs `licodec eval` measures: ours through the public API, and the classic baselines
through Pillow and its PyPI plugins, each as encode(image, quality) -> bytes and decode(bytes).

A baseline whose encoder is missing here is reported and skipped, never a crash.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Callable

from PIL import Image, features

# Quality sweeps chosen to span the learned models' range (≈0.1–1.5 bpp on Kodak).
BASELINE_QUALITIES: dict[str, tuple[int, ...]] = {
    "jpeg": (5, 10, 20, 30, 50, 70, 85, 95),
    "jpeg444": (5, 10, 20, 30, 50, 70, 85, 95),
    "webp": (5, 15, 30, 50, 70, 85, 95),
    "avif": (10, 25, 40, 55, 70, 85),
    "heif": (10, 25, 40, 55, 70, 85),
    "jxl": (10, 25, 40, 55, 70, 85, 95),
}
BASELINES = tuple(BASELINE_QUALITIES)
DESCRIPTIONS = {
    "jpeg": "JPEG (libjpeg via Pillow), 4:2:0, optimised Huffman",
    "jpeg444": "JPEG (libjpeg via Pillow), 4:4:4, optimised Huffman",
    "webp": "WebP (libwebp via Pillow), method 6",
    "avif": "AVIF (libavif/aom via Pillow), speed 6, 4:4:4",
    "heif": "HEIF/HEVC (libheif/x265 via pillow-heif), 4:4:4",
    "jxl": "JPEG XL (libjxl via pillow-jxl-plugin), effort 7",
}


@dataclass
class Codec:
    name: str
    description: str
    qualities: tuple[float, ...]
    encode: Callable[[Image.Image, float], bytes]
    decode: Callable[[bytes], Image.Image]
    learned: bool = False
    meta: dict = field(default_factory=dict)


def _pillow_encoder(image_format: str, **options) -> Callable[[Image.Image, float], bytes]:
    def encode(image: Image.Image, quality: float) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=image_format, quality=int(quality), **options)
        return buffer.getvalue()

    return encode


def pillow_decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def _missing(name: str) -> str | None:
    """Why a baseline cannot run here, or None if it can."""
    if name == "webp" and not features.check("webp"):
        return "Pillow was built without WebP"
    if name == "avif" and not features.check("avif"):
        return "Pillow was built without AVIF (Pillow >= 11.3 wheels have it)"
    if name == "heif":
        try:
            import pillow_heif  # noqa: F401
        except ImportError:
            return "pillow-heif is not installed (pip install 'licodec[eval]')"
    if name == "jxl":
        try:
            import pillow_jxl  # noqa: F401
        except ImportError:
            return "pillow-jxl-plugin is not installed (pip install 'licodec[eval]')"
    return None


def baseline(name: str) -> Codec:
    """A baseline codec; raises LookupError with the reason when it is unavailable here."""
    if name not in BASELINE_QUALITIES:
        raise LookupError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    reason = _missing(name)
    if reason:
        raise LookupError(reason)
    if name == "heif":
        import pillow_heif

        pillow_heif.register_heif_opener()
    encoders = {
        "jpeg": lambda: _pillow_encoder("JPEG", subsampling=2, optimize=True),
        "jpeg444": lambda: _pillow_encoder("JPEG", subsampling=0, optimize=True),
        "webp": lambda: _pillow_encoder("WEBP", method=6),
        "avif": lambda: _pillow_encoder("AVIF", speed=6, subsampling="4:4:4"),
        "heif": lambda: _pillow_encoder("HEIF", chroma=444),
        "jxl": lambda: _pillow_encoder("JXL", effort=7),
    }
    return Codec(name, DESCRIPTIONS[name], BASELINE_QUALITIES[name], encoders[name](), pillow_decode)


def learned(model: str, qualities: tuple[float, ...], effort: int = 0) -> Codec:
    """Ours, through the same API as `licodec encode` / `decode`: real .lic bytes. At an encoder
    effort above 0 the codec is named NAME-eE (licodec-student-e2), so its curve and cache sit
    beside effort 0's."""
    from licodec import api, container
    from licodec.models.fused import transform_kernels
    from licodec.precision import transform_precision
    from licodec.weights import SHIPPED, resolve

    info = resolve(model)
    name = f"licodec-{info.name}" if model in SHIPPED else f"licodec-{info.path.stem}"
    description = f"licodec {info.name} ({info.path.name}, model id {info.model_id.hex()})"
    meta = {"weights": info.path.name, "content_hash": info.content_hash,
            "precision": transform_precision(), "kernels": transform_kernels(),
            "format": container.RATES_VERSION}
    if effort:
        from licodec.models.refine import refinement_precision, schedule_for

        name, description = f"{name}-e{effort}", f"{description}, encoder effort {effort}"
        refinement = f"{schedule_for(effort).describe()}, g_s in {refinement_precision()}"
        meta = {**meta, "effort": effort, "refinement": refinement}
    return Codec(
        name, description, qualities,
        lambda image, quality: api.encode(image, quality, model=str(info.path), effort=effort),
        lambda data: api.decode(data, model=str(info.path)),
        learned=True,
        meta=meta,
    )
