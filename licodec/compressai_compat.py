"""Importing CompressAI where torchvision is not installed (torch-free until compressai loads).

compressai imports torchvision at import time for one thing: the registry of its training
datasets' transforms (compressai/registry/transforms.py collects torchvision.transforms' classes).
Its image models, entropy models and layers never use it. torchvision pins an exact torch, which
from PyPI is a CUDA build (3 GB of nvidia libraries on a CPU-only machine), so the test
environment installs compressai without its dependencies (Makefile) and this module stands in
an empty torchvision.transforms, only when the real one is missing.
"""
from __future__ import annotations

import importlib.util
import sys
import types


def allow_without_torchvision() -> None:
    """Make `import compressai` work without torchvision; a real torchvision is left alone."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return
    torchvision = types.ModuleType("torchvision")
    torchvision.transforms = types.ModuleType("torchvision.transforms")
    torchvision.__licodec_stand_in__ = True  # so that nothing mistakes it for the library
    sys.modules["torchvision"] = torchvision
    sys.modules["torchvision.transforms"] = torchvision.transforms
