"""A CompressAI checkpoint as the FEDS teacher (`--teacher compressai:ARCH:PATH`)."""
import json

import pytest
import torch
from click.testing import CliRunner

from licodec.compressai_compat import allow_without_torchvision

allow_without_torchvision()  # the test venv has compressai without torchvision (Makefile)
pytest.importorskip("compressai", reason="install licodec[compressai] (make test does)")
from compressai.models import MeanScaleHyperprior  # noqa: E402

from licodec import config  # noqa: E402
from licodec.cli import main  # noqa: E402
from licodec.training.compressai_teacher import load_compressai_teacher  # noqa: E402

from test_distill import TINY_STUDENT  # noqa: E402


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    """A training checkpoint as CompressAI's examples/train.py writes it, of a small random model."""
    monkeypatch.setitem(config.CONFIGS, "tiny-student", TINY_STUDENT)
    torch.manual_seed(0)
    path = tmp_path / "mbt.pth.tar"
    torch.save({"epoch": 3, "state_dict": MeanScaleHyperprior(N=8, M=16).state_dict()}, path)
    return path


def test_the_teacher_exposes_reconstruction_latents_and_three_features_per_transform(checkpoint):
    teacher = load_compressai_teacher(f"compressai:mbt2018-mean:{checkpoint}")
    out = teacher(torch.rand(2, 3, 64, 64), torch.tensor([1.0, 2.0]), features=True)
    assert out["x_hat"].shape == (2, 3, 64, 64) and out["y_hat"].shape == (2, 16, 4, 4)
    assert [f.shape[-1] for f in out["features_a"]] == [32, 16, 8]
    assert [f.shape[-1] for f in out["features_s"]] == [8, 16, 32]
    assert teacher.feature_width == 8 and not any(p.requires_grad for p in teacher.parameters())


def test_feds_distills_from_a_compressai_checkpoint(checkpoint, train_folder, tmp_path):
    out = tmp_path / "run"
    args = ["distill", "--teacher", f"compressai:mbt2018-mean:{checkpoint}", "--arch", "tiny-student",
            "--strategy", "feds", "--data", str(train_folder), "--out", str(out), "--steps", "3",
            "--patch", "64", "--batch", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    first = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert {"output", "feature", "latent"} <= set(first)


@pytest.mark.parametrize("teacher, message", [
    ("compressai:cheng2020-anchor:{ckpt}", "is not supported"),
    ("compressai:mbt2018-mean:{missing}", "no such file"),
    ("compressai:bmshj2018-hyperprior:{ckpt}", "does not hold bmshj2018-hyperprior weights"),
])
def test_bad_compressai_teachers_are_one_line_errors(checkpoint, train_folder, tmp_path, teacher, message):
    spec = teacher.format(ckpt=checkpoint, missing=tmp_path / "nope.pth")
    args = ["distill", "--teacher", spec, "--arch", "tiny-student", "--data", str(train_folder),
            "--out", str(tmp_path / "r"), "--steps", "1", "--patch", "64"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_smodi_and_derived_students_need_a_licodec_teacher(checkpoint, train_folder, tmp_path):
    common = ["--teacher", f"compressai:mbt2018-mean:{checkpoint}", "--data", str(train_folder),
              "--out", str(tmp_path / "r"), "--steps", "1", "--patch", "64"]
    smodi = CliRunner().invoke(main, ["distill", "--strategy", "smodi", "--arch", "tiny-student", *common])
    assert smodi.exit_code == 1 and "needs a licodec teacher" in smodi.output
    derived = CliRunner().invoke(main, ["distill", "--derive-student", *common])
    assert derived.exit_code == 1 and "needs a licodec teacher" in derived.output
