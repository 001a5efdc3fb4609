"""A user's install: the wheel (what pip install ., pipx install . and python -m build make)
carries the shipped weights and the man pages, and works in a fresh environment without the
source tree, from any directory."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT_FROM = ("pyproject.toml", "README.md", "licodec", "weights", "man", "docs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built (without the network) from a copy of the files it is made of."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in BUILT_FROM:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(dist), str(source)], check=True, timeout=300)
    return next(dist.glob("licodec-*.whl"))


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory) -> Path:
    """A new venv holding only the wheel; torch and the other dependencies come from this one
    (a .pth file), so that nothing is downloaded."""
    env = tmp_path_factory.mktemp("env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site = Path(subprocess.run([str(env / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin/python"), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, timeout=300)
    return env


def _user_env(env: Path) -> dict[str, str]:
    """The environment of a user who installed licodec there: its bin/ first on PATH, nothing
    pointing at the source tree."""
    clean = {k: v for k, v in os.environ.items() if k not in ("LICODEC_WEIGHTS", "PYTHONPATH", "LICODEC_SHARED")}
    return {**clean, "PATH": f"{env / 'bin'}{os.pathsep}{clean.get('PATH', '')}"}


def test_the_wheel_carries_the_weights_and_the_man_pages(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    data = "licodec-0.1.0.data/data/share/"
    assert {f"{data}licodec/weights/student.safetensors", f"{data}licodec/weights/teacher.safetensors"} <= set(names)
    assert {f"{data}man/man1/{page.name}" for page in (ROOT / "man").glob("*.1")} <= set(names)
    assert f"{data}doc/licodec/format.md" in names  # licodec(1) points there


def test_an_installed_wheel_encodes_and_decodes_from_any_directory(fresh_env, tmp_path):
    env = _user_env(fresh_env)
    run = lambda *args: subprocess.run(["licodec", *args], cwd=tmp_path, env=env, capture_output=True,
                                       text=True, timeout=300)
    version = run("--version")
    assert version.returncode == 0 and "0.1.0" in version.stdout
    shutil.copy(ROOT / "data/kodim23.png", tmp_path / "photo.png")
    assert run("encode", "photo.png", "-o", "photo.lic").returncode == 0
    decoded = run("decode", "photo.lic", "-o", "photo-decoded.png")
    assert decoded.returncode == 0, decoded.stderr
    where = subprocess.run([str(fresh_env / "bin/python"), "-c",
                            "import licodec, licodec.weights as w; print(licodec.__file__); print(w.weights_dir())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120).stdout.split()
    assert all(Path(p).is_relative_to(fresh_env) for p in where), where  # not the source tree's


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man(1)")
def test_man_finds_the_installed_pages_through_path(fresh_env, tmp_path):
    result = subprocess.run(["man", "-w", "licodec"], env={**_user_env(fresh_env), "MANPATH": ""}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and Path(result.stdout.strip()).is_relative_to(fresh_env), result


def test_the_installed_torch_is_a_cpu_build():
    """make's venvs take torch from PyTorch's CPU index: a CUDA build (PyPI's default on Linux)
    would bring nvidia packages and triton, gigabytes a CPU codec never uses."""
    from importlib import metadata

    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
    cuda_needs = [r for r in metadata.requires("torch") or [] if r.lower().startswith(("nvidia-", "triton"))]
    assert cuda_needs == []
    installed = sorted(d.metadata["Name"] for d in metadata.distributions()
                       if (d.metadata["Name"] or "").lower().startswith("nvidia-"))
    assert installed == []
