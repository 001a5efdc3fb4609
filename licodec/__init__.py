"""licodec: a learned image codec. `licodec.encode(image) -> bytes`, `licodec.decode(bytes) -> PIL.Image`.

The API is imported lazily so that `import licodec` (and `licodec --help`) does not import torch.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["encode", "decode", "LicodecError"]

from licodec.errors import LicodecError


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in ("encode", "decode"):
        from licodec import api

        return getattr(api, name)
    raise AttributeError(f"module 'licodec' has no attribute {name!r}")
