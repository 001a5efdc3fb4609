"""Training images: a folder of photos, held decoded in memory, served as random crops with flips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from licodec.errors import LicodecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".tif", ".tiff"}


def list_images(folder: str | Path) -> list[Path]:
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise LicodecError(f"no images in {folder}")
    return paths


class CropSampler:
    """Random crops from in-memory images; all randomness comes from one seeded generator."""

    def __init__(self, folder: str | Path, patch: int, seed: int = 0) -> None:
        self.images = []
        for path in list_images(folder):
            with Image.open(path) as im:
                array = np.array(im.convert("RGB"))
            if min(array.shape[:2]) >= patch:
                self.images.append(torch.from_numpy(array).permute(2, 0, 1).contiguous())
        if not self.images:
            raise LicodecError(f"no image in {folder} is at least {patch}×{patch}")
        self.patch = patch
        self.generator = torch.Generator().manual_seed(seed)

    def batch(self, size: int) -> Tensor:
        crops = []
        for _ in range(size):
            image = self.images[int(torch.randint(len(self.images), (1,), generator=self.generator))]
            _, h, w = image.shape
            top = int(torch.randint(h - self.patch + 1, (1,), generator=self.generator))
            left = int(torch.randint(w - self.patch + 1, (1,), generator=self.generator))
            crop = image[:, top : top + self.patch, left : left + self.patch]
            if torch.rand(1, generator=self.generator) < 0.5:
                crop = crop.flip(-1)
            if torch.rand(1, generator=self.generator) < 0.5:
                crop = crop.flip(-2)
            crops.append(crop)
        return torch.stack(crops).float() / 255.0
