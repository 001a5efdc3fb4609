"""Encoder effort: refinement lowers the model's own loss, its files decode with the unchanged
decoder exactly, effort 0 is the single pass, and long encodes behave (Ctrl-C, bad values)."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pytest
import torch
from PIL import Image

import licodec
from licodec import api, container, effort
from licodec.checks.determinism import check, variations
from licodec.effort import MAX_EFFORT, check_effort
from licodec.models import refine
from licodec.models.charm import hard_quantize
from licodec.models.codec import rgb_to_tensor
from licodec.models.engine import tiles
from licodec.weights import resolve

from conftest import kodak_image
from test_cli import assert_clean_error, run


@pytest.fixture
def few_iterations(monkeypatch):
    """Effort levels of a few iterations each: the tiny models' tests prove behaviour, not gains."""
    monkeypatch.setattr(effort, "ITERATIONS", (0, 3, 4, 5, 6, 7, 8))


def test_sga_rounding_becomes_rounding_as_the_temperature_falls():
    values = torch.tensor([-1.7, -0.2, 0.3, 0.49, 0.51, 2.9])
    generator = torch.Generator().manual_seed(0)
    cold = refine.sga_round(values, 1e-3, generator)
    assert torch.allclose(cold, torch.round(values), atol=1e-4)
    warm = torch.stack([refine.sga_round(values, 0.5, generator) for _ in range(200)])
    assert (warm >= torch.floor(values)).all() and (warm <= torch.floor(values) + 1).all()
    assert torch.allclose(warm.mean(0), values, atol=0.25)  # unbiased-ish: it still rounds to a neighbour


def test_fractional_lambda_interpolates_geometrically():
    lambdas = (0.01, 0.04, 0.16)
    assert refine.rd_lambda(lambdas, 1) == pytest.approx(0.01)
    assert refine.rd_lambda(lambdas, 2.5) == pytest.approx(0.08)
    assert refine.rd_lambda(lambdas, 3) == pytest.approx(0.16)


def test_a_schedule_anneals_the_temperature_and_optionally_the_learning_rate():
    decaying = refine.Schedule(50, 0.02, end_learning_rate=0.002)
    rates = [decaying.learning_rate_at(i) for i in range(50)]
    assert rates[0] == pytest.approx(0.02) and rates[-1] == pytest.approx(0.002)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    constant = refine.Schedule(50)
    assert {constant.learning_rate_at(i) for i in range(50)} == {0.01}  # exactly: the levels' files unchanged
    assert constant.temperature(0) == pytest.approx(0.5) and constant.temperature(49) == pytest.approx(0.05)


@pytest.mark.parametrize("schedule", [refine.Schedule(30), refine.Schedule(30, 0.013, step_unit="latent"),
                                      refine.Schedule(30, 0.02, end_learning_rate=0.002)],
                         ids=["levels", "latent-units", "decaying-lr"])
def test_refinement_lowers_the_rd_loss_of_g_a_on_a_photo(schedule):
    """The promise behind every effort level: the shipped student's own hard-rounded loss falls."""
    net = api.loaded_model(resolve("student"), "cpu")
    rgb = np.array(kodak_image(23).crop((300, 150, 428, 278)))
    x = rgb_to_tensor(rgb, scaled=False)
    quality = torch.tensor([4.0])
    lam = refine.rd_lambda(net.config.lambdas, 4.0)
    target = x.float() / 255
    losses = []
    for tried in (refine.Schedule(0), schedule):
        y_gained, z = refine.refine(net, x, 4.0, tried)
        with torch.no_grad():
            losses.append(float(refine.rd_loss(net, y_gained, z, target, quality, lam, hard_quantize)))
    assert losses[1] < 0.99 * losses[0]


def test_effort_zero_is_the_single_pass(tiny_weights, photo):
    single_pass = licodec.encode(photo, quality=3)
    assert licodec.encode(photo, quality=3, effort=0) == single_pass
    net = api.loaded_model(resolve("student"), "cpu")
    x = rgb_to_tensor(np.array(Image.open(photo).convert("RGB")), scaled=False)
    assert container.unpack(single_pass)[1] == net.compress(x, 3.0).data


def test_effort_files_decode_with_the_unchanged_decoder(tiny_weights, few_iterations, photo):
    coded = licodec.encode(photo, quality=2.5, effort=1)
    assert coded != licodec.encode(photo, quality=2.5)
    assert licodec.encode(photo, quality=2.5, effort=1) == coded  # seeded: the same file again
    decoded = licodec.decode(coded)  # the digest check: the decoder's symbols are the encoder's
    assert decoded.size == Image.open(photo).size


def test_effort_files_decode_exactly_under_every_variation_of_the_kernels(tiny_weights, few_iterations, photo):
    info = resolve("student")
    found = variations()
    models = {v: v.model(info) for v in found}
    rgb = np.array(Image.open(photo).convert("RGB"))
    for encoder, decoder in zip(found, found[1:] + found[:1]):
        same, _, error = check(info, rgb, 3.0, encoder, decoder, models, effort=1)
        assert same, (encoder, decoder, error)


def test_large_images_refine_window_by_window(tiny_weights, few_iterations, monkeypatch):
    """Windows of 8 latents with 4 of context: every latent written once, and the file decodes."""
    monkeypatch.setattr(refine, "TILE", 8)
    monkeypatch.setattr(refine, "MARGIN", 4)
    windows = tiles(20, 13, refine.TILE, refine.MARGIN)  # as refine cuts them
    covered = np.zeros((20, 13), int)
    for window in windows:
        covered[window.rows, window.cols] += 1
        assert window.context_rows.start <= window.rows.start and window.rows.stop <= window.context_rows.stop
        assert window.context_rows.start % 4 == 0 and window.context_cols.start % 4 == 0  # on z's grid
    assert len(windows) > 1 and (covered == 1).all()
    image = Image.fromarray(np.array(kodak_image(23).crop((0, 0, 310, 200))))  # latents 20×16: 3 windows
    calls = []
    coded = licodec.encode(image, effort=1, progress=lambda done, total: calls.append((done, total)))
    assert licodec.decode(coded).size == (310, 200)
    assert calls == [(i, 9) for i in range(1, 10)]  # 3 windows × 3 iterations, counted over the image


def test_the_pillow_plugin_and_rate_control_take_an_effort(tiny_weights, few_iterations, photo, tmp_path):
    import licodec.pillow  # noqa: F401

    Image.open(photo).save(tmp_path / "a.lic", quality=3, effort=1)
    assert (tmp_path / "a.lic").read_bytes() == licodec.encode(photo, quality=3, effort=1)
    budget = len(licodec.encode(photo, quality=3, effort=1))
    result = run("encode", str(photo), "-o", str(tmp_path / "b.lic"), "--size", str(budget), "-e", "1", "-v")
    assert result.exit_code == 0, result.output
    assert "coded at quality" in result.output and (tmp_path / "b.lic").stat().st_size <= budget


@pytest.mark.parametrize("value", ["7", "-1", "x", "1.5", ""])
def test_bad_effort_values_are_one_line_errors(tiny_weights, photo, tmp_path, value):
    result = run("encode", str(photo), "-o", str(tmp_path / "a.lic"), "--effort", value)
    assert_clean_error(result, "effort")
    assert not (tmp_path / "a.lic").exists()


def test_check_effort_in_the_api():
    assert check_effort(MAX_EFFORT) == MAX_EFFORT and check_effort("2") == 2
    for bad in (MAX_EFFORT + 1, -1, 1.5, True, "high"):
        with pytest.raises(licodec.LicodecError, match="effort"):
            check_effort(bad)


def _read_until(fd: int, pattern: str, seconds: float) -> str:
    """What a terminal's other end reads until `pattern` matches, the writer closes it, or time runs out."""
    seen, deadline = b"", time.monotonic() + seconds
    while not re.search(pattern.encode(), seen) and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_ctrl_c_during_a_long_encode_leaves_no_file(tiny_weights, tmp_path):
    image = tmp_path / "big.png"
    Image.fromarray(np.array(kodak_image(23))).save(image)
    out = tmp_path / "big.lic"
    # stderr on a terminal, so that the refinement bar's "done/total" says refinement is under way
    terminal, stderr = pty.openpty()
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # tqdm draws nothing 0 wide
    process = subprocess.Popen([sys.executable, "-m", "licodec", "encode", str(image), "-o", str(out),
                                "-e", str(MAX_EFFORT)], stderr=stderr, env=os.environ,
                               # a test run started in the background inherits SIGINT ignored: undo it
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(stderr)
    try:
        assert re.search(r"refining.*\d+/\d+", _read_until(terminal, r"\d+/\d+", 180)) and process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=180) == 130
        lines = [line.strip() for line in re.split(r"[\r\n]", _read_until(terminal, "(?!)", 10))]
    finally:
        process.kill()
        os.close(terminal)
    assert [line for line in lines if line][-1] == "licodec: interrupted"
    assert not out.exists() and not list(tmp_path.glob(".big.lic.*"))


def test_one_file_on_a_terminal_shows_the_refinement_progress(tiny_weights, few_iterations, photo, tmp_path,
                                                               monkeypatch):
    import io

    from licodec.batch import EncodeSettings, Job, encode_file

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    settings = EncodeSettings(3.0, "student", "cpu", False, effort=2, show_progress=True)
    outcome = encode_file(settings, Job(str(photo), str(tmp_path / "a.lic")))
    assert outcome.error is None and (tmp_path / "a.lic").exists()
    assert "refining" in stderr.getvalue() and "4/4" in stderr.getvalue()
