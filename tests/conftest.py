"""Shared fixtures: tiny random models for fast tests, the shipped weights, and the Kodak images.

The repository ships one Kodak image (data/kodim23.png), so the suite runs from a bare clone;
the tests over other Kodak images take them from $LICODEC_SHARED/data/kodak and skip without it.
"""
from __future__ import annotations

import os
from pathlib import Path

from licodec import threads

threads.prepare_openmp()  # before torch loads: with a worker per core, spinning threads would steal

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from licodec.config import CodecConfig  # noqa: E402
from licodec.models import LicModel
from licodec.weights import save_weights

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LICODEC_SHARED", REPO.parent / "shared"))
KODAK = SHARED / "data" / "kodak"
BUNDLED_KODAK = REPO / "data" / "kodim23.png"

# Small enough for a CPU test in milliseconds, with every part of the real architecture.
TINY = CodecConfig(N=16, M=24, hyper_channels=16, slices=4, max_support_slices=2, slice_hidden=(16,),
                   blocks_per_group=1, attention_layers=2, attention_window=4, attention_heads=2, mlp_ratio=2.0)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: pytest without it runs the suite too
def pytest_xdist_auto_num_workers(config) -> int:
    """`pytest -n auto`: one worker per CPU this process may use (xdist would count physical
    cores through psutil where it is installed, or every CPU of the host)."""
    return threads.usable_cpus()


@pytest.fixture(autouse=True)
def _threads_per_worker():
    """2 threads in one process; under xdist the usable CPUs shared among the workers."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(min(2, threads.default_threads(workers)))  # default_threads is at least 1


def tiny_model(seed: int = 0, config: CodecConfig = TINY, widen: bool = True) -> LicModel:
    torch.manual_seed(seed)
    model = LicModel(config)
    if widen:  # random init leaves y ≈ 0; widen it so the tests code real, multi-bin symbols
        with torch.no_grad():
            model.g_a.stages[-1].weight.mul_(30)
    return model.eval()


@pytest.fixture
def tiny_weights(tmp_path: Path, monkeypatch) -> Path:
    """A weights folder holding tiny random 'student' and 'teacher' files, made the shipped ones."""
    folder = tmp_path / "weights"
    folder.mkdir()
    for seed, name in enumerate(("student", "teacher")):
        save_weights(tiny_model(seed), folder / f"{name}.safetensors", name, {"test": True})
    monkeypatch.setenv("LICODEC_WEIGHTS", str(folder))
    return folder


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small natural-looking image: a crop of the bundled Kodak photo."""
    path = tmp_path / "photo.png"
    kodak_image(23).crop((300, 150, 396, 230)).save(path)
    return path


@pytest.fixture
def train_folder(tmp_path: Path) -> Path:
    """Three small training images (Kodak thumbnails and crops: tests only, never real training)."""
    folder = tmp_path / "train"
    folder.mkdir()
    image = kodak_image(23)
    for i, box in enumerate([(0, 0, 768, 512), (0, 0, 384, 256), (384, 256, 768, 512)]):
        image.crop(box).resize((96, 64), Image.LANCZOS).save(folder / f"{i}.png")
    return folder


def train_until_killed(options, kill_at_step: int) -> None:
    """Run `train` with a checkpoint after every step, as if killed once `kill_at_step` steps are done."""
    import dataclasses

    from licodec.training import train as loop

    original = loop._train_step

    def step_or_die(*args, **kwargs):
        if args[-1] == kill_at_step:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    loop._train_step = step_or_die
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.train(dataclasses.replace(options, checkpoint_minutes=-1))
    finally:
        loop._train_step = original


def kodak_image(index: int) -> Image.Image:
    """Kodak image `index` from $LICODEC_SHARED; kodim23 is also in the repository."""
    path = KODAK / f"kodim{index:02d}.png"
    if not path.exists() and index == 23:
        path = BUNDLED_KODAK
    if not path.exists():
        pytest.skip(f"needs kodim{index:02d}.png: set LICODEC_SHARED to the project's shared/ folder")
    with Image.open(path) as im:
        return im.convert("RGB")


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
