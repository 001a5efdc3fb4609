"""Training images: a folder of photos, held decoded in memory, served as random crops with flips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from licodec.errors import LicodecError
from licodec.images import list_images


def split_holdout(folder: str | Path, count: int) -> tuple[list[Path], list[Path]]:
    """(training images, held-out images): `count` images spread evenly over the sorted folder,
    so the held-out set samples every source the folder mixes (its names are grouped by source)."""
    paths = list_images(folder)
    if count < 0 or count >= len(paths):
        raise LicodecError(f"--holdout {count}: {folder} has {len(paths)} images")
    held = {paths[i * len(paths) // count] for i in range(count)} if count else set()
    return [p for p in paths if p not in held], [p for p in paths if p in held]


class CropSampler:
    """Random crops from in-memory images; all randomness comes from one seeded generator."""

    def __init__(self, images: str | Path | list[Path], patch: int, seed: int = 0, device: str = "cpu") -> None:
        """`images`: a folder, or a list of image files. They are held as uint8 on `device`, so
        that on a GPU the crops are cut there, with no copy from the host per step (the draws
        stay on the CPU generator: the same crops on every device)."""
        self.images = []
        for path in images if isinstance(images, list) else list_images(images):
            with Image.open(path) as im:
                array = np.array(im.convert("RGB"))
            if min(array.shape[:2]) >= patch:
                self.images.append(torch.from_numpy(array).permute(2, 0, 1).contiguous().to(device))
        if not self.images:
            raise LicodecError(f"no training image is at least {patch}×{patch}")
        self.patch = patch
        self.generator = torch.Generator().manual_seed(seed)

    def batch(self, size: int, part: slice = slice(None)) -> Tensor:
        """The `part` of a batch of `size` crops: every process of a distributed run draws the
        whole global batch from the same generator (so the streams stay in step) and crops only
        its own share, which makes the shares disjoint and different at every step."""
        draws = [self._draw() for _ in range(size)]
        return torch.stack([self._crop(*draw) for draw in draws[part]]).float() / 255.0

    def _draw(self) -> tuple[int, int, int, bool, bool]:
        g = self.generator
        index = int(torch.randint(len(self.images), (1,), generator=g))
        _, h, w = self.images[index].shape
        top = int(torch.randint(h - self.patch + 1, (1,), generator=g))
        left = int(torch.randint(w - self.patch + 1, (1,), generator=g))
        return index, top, left, bool(torch.rand(1, generator=g) < 0.5), bool(torch.rand(1, generator=g) < 0.5)

    def _crop(self, index: int, top: int, left: int, flip_x: bool, flip_y: bool) -> Tensor:
        crop = self.images[index][:, top : top + self.patch, left : left + self.patch]
        if flip_x:
            crop = crop.flip(-1)
        if flip_y:
            crop = crop.flip(-2)
        return crop
