"""Many files per command, default output names, rate control, lossy outputs, verbosity,
exit codes: the CLI as a cwebp/cjxl user drives it (click's runner and real processes)."""
from __future__ import annotations

import errno
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from licodec import container
from licodec.cli import main


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def photos(photo: Path, tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    image = Image.open(photo)
    paths = [folder / "a.png", folder / "b.png", folder / "c.jpg"]
    image.save(paths[0])
    image.transpose(Image.FLIP_LEFT_RIGHT).save(paths[1])
    image.rotate(180).save(paths[2], quality=95)
    return paths


def test_many_inputs_into_a_directory_and_back(tiny_weights, photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    encoded = run("encode", *photos, "-o", f"{out}/")
    assert encoded.exit_code == 0, encoded.output
    assert sorted(p.name for p in out.iterdir()) == ["a.lic", "b.lic", "c.lic"]
    assert "encoded 3 of 3 files" in encoded.output  # the summary, on stderr
    decoded = run("decode", *sorted(out.glob("*.lic")), "-o", out)
    assert decoded.exit_code == 0, decoded.output
    assert Image.open(out / "c.png").size == Image.open(photos[2]).size
    info = run("info", *sorted(out.glob("*.lic")))
    assert info.exit_code == 0 and info.output.count("checksum  ok") == 3 and f"{out / 'b.lic'}:" in info.output


def test_without_o_outputs_go_beside_the_inputs_and_are_never_overwritten(tiny_weights, photos):
    assert run("encode", *photos).exit_code == 0
    lics = [p.with_suffix(".lic") for p in photos]
    assert all(p.exists() for p in lics)
    before = lics[0].read_bytes()
    again = run("encode", photos[0], "-q", "2")
    assert again.exit_code == 1 and "exists (use --force" in again.output
    assert lics[0].read_bytes() == before
    assert run("encode", photos[0], "-q", "2", "--force").exit_code == 0 and lics[0].read_bytes() != before
    assert run("decode", lics[0], "--format", "webp").exit_code == 0
    assert Image.open(photos[0].with_suffix(".webp")).format == "WEBP"


def test_a_failed_file_is_reported_and_the_others_go_on(tiny_weights, photos, tmp_path):
    broken = photos[0].parent / "broken.png"
    broken.write_bytes(b"not an image")
    result = run("encode", photos[0], broken, photos[1], "-o", photos[0].parent)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("licodec: error")]
    assert errors == [f"licodec: error: {broken}: not a readable image (UnidentifiedImageError)"]
    assert photos[0].with_suffix(".lic").exists() and photos[1].with_suffix(".lic").exists()
    assert not broken.with_suffix(".lic").exists()
    assert "encoded 2 of 3 files (1 failed)" in result.output


def test_workers_give_the_same_files(tiny_weights, photos, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    assert run("encode", *photos, "-o", one).exit_code == 0
    result = run("encode", *photos, "-o", two, "-j", "2")
    assert result.exit_code == 0, result.output
    assert all((one / n).read_bytes() == (two / n).read_bytes() for n in ("a.lic", "b.lic", "c.lic"))


def test_refusals_before_any_work(tiny_weights, photos, tmp_path):
    clash = photos[0].parent / "a.jpg"
    Image.open(photos[0]).save(clash)
    result = run("encode", photos[0], clash, "-o", tmp_path)
    assert result.exit_code == 1 and "both be written to" in result.output
    assert run("encode", *photos, "-o", tmp_path / "missing").exit_code == 1
    assert "takes one input" in run("encode", *photos, "-o", "-").output
    assert "give -o OUT" in run("encode", "-").output
    assert "would overwrite the input" in run("decode", photos[0], "-o", photos[0]).output
    usage = run("encode", photos[0], "-q", "3", "--bpp", "0.5")
    assert usage.exit_code == 2 and "give one of -q, --bpp" in usage.output
    assert run("encode", photos[0], "--size", "big").exit_code == 2  # a bad value: a usage error


def test_quality_actually_coded_is_said_when_it_differs(tiny_weights, photos, tmp_path):
    result = run("encode", photos[0], "-o", tmp_path / "x.lic", "-q", "3.55")
    assert result.exit_code == 0 and "coded at quality 3.5625" in result.output
    quiet = run("encode", photos[0], "-o", tmp_path / "y.lic", "-q", "3.55", "--quiet")
    assert quiet.exit_code == 0 and quiet.output == ""


@pytest.mark.parametrize("option, value, limit", [("--size", "5000", 5000), ("--bpp", "6", 6 * 96 * 80 / 8)])
def test_size_targets_get_the_highest_quality_that_fits(tiny_weights, photos, tmp_path, option, value, limit):
    out = tmp_path / "x.lic"
    result = run("encode", photos[0], "-o", out, option, value)
    assert result.exit_code == 0, result.output
    quality = container.read_header(out.read_bytes())[0].quality
    assert 1 < quality < 8 and out.stat().st_size <= limit
    bigger = run("encode", photos[0], "-o", tmp_path / "up.lic", "-q", str(quality + 1 / container.QUALITY_STEPS))
    assert bigger.exit_code == 0 and (tmp_path / "up.lic").stat().st_size > limit
    assert f"coded at quality {quality:g}" in result.output


def test_a_psnr_target_gets_the_lowest_quality_that_reaches_it(photos, tmp_path):
    """With the shipped student: a random model's PSNR does not rise with quality."""
    import numpy as np

    from licodec import decode, encode
    from licodec.metrics import psnr

    reference = np.array(Image.open(photos[0]).convert("RGB"))
    low, high = (psnr(reference, np.array(decode(encode(photos[0], quality=q)))) for q in (1, 8))
    target = (low + high) / 2  # inside the model's range, whatever the shipped weights reach
    out = tmp_path / "x.lic"
    result = run("encode", photos[0], "-o", out, "--psnr", f"{target:.3f}")
    assert result.exit_code == 0, result.output
    quality = container.read_header(out.read_bytes())[0].quality
    assert 1 < quality < 8 and psnr(reference, np.array(decode(out))) >= round(target, 3)
    below = decode(encode(photos[0], quality=quality - 1 / container.QUALITY_STEPS))
    assert psnr(reference, np.array(below)) < round(target, 3)


def test_unreachable_targets_fail_unless_best_effort(tiny_weights, photos, tmp_path):
    """A script that caps a size or asks for a PSNR must not see success when it is out of reach."""
    high = run("encode", photos[0], "-o", tmp_path / "x.lic", "--psnr", "99")
    assert high.exit_code == 1 and "reaches at most" in high.output and "dB on this image (quality 8)" in high.output
    tiny = run("encode", photos[0], "-o", tmp_path / "y.lic", "--size", "10")
    assert tiny.exit_code == 1 and "smallest file this model makes of it is" in tiny.output
    assert not (tmp_path / "x.lic").exists() and not (tmp_path / "y.lic").exists()
    assert len(high.output.strip().splitlines()) == 1 and "Traceback" not in high.output
    best = run("encode", photos[0], "-o", tmp_path / "x.lic", "--psnr", "99", "--best-effort")
    assert best.exit_code == 0 and "warning" in best.output and "coded at quality 8" in best.output
    fits = run("encode", photos[0], "-o", tmp_path / "y.lic", "--size", "10", "--best-effort")
    assert fits.exit_code == 0 and "coded at quality 1:" in fits.output and (tmp_path / "y.lic").exists()
    alone = run("encode", photos[0], "-o", tmp_path / "z.lic", "--best-effort")
    assert alone.exit_code == 2 and "--best-effort goes with" in alone.output


def test_lossy_outputs_take_a_quality_and_warn(tiny_weights, photos, tmp_path):
    lic = tmp_path / "a.lic"
    assert run("encode", photos[0], "-o", lic).exit_code == 0
    low = run("decode", lic, "-o", tmp_path / "low.jpg", "--quality", "10")
    high = run("decode", lic, "-o", tmp_path / "high.jpg", "--quality", "95")
    assert low.exit_code == 0 and "re-compresses" in low.output and "(quality 10)" in low.output
    assert high.exit_code == 0
    assert (tmp_path / "low.jpg").stat().st_size < (tmp_path / "high.jpg").stat().st_size
    png = run("decode", lic, "-o", tmp_path / "a.png")
    assert png.exit_code == 0 and "re-compresses" not in png.output


def test_verbose_prints_a_line_per_file(tiny_weights, photos, tmp_path):
    result = run("encode", photos[0], "-o", tmp_path / "x.lic", "-v")
    assert result.exit_code == 0
    assert f"{photos[0]} -> {tmp_path / 'x.lic'}:" in result.output and "bpp" in result.output


def test_a_broken_pipe_exits_quietly_with_sigpipes_status(tiny_weights, photos, monkeypatch):
    from licodec import batch

    def broken(*args, **kwargs):
        raise BrokenPipeError

    monkeypatch.setattr(batch, "write_output", broken)
    result = run("encode", photos[0], "-o", "-")
    assert result.exit_code == 141 and result.output == ""


def test_binary_output_to_a_terminal_is_refused(tiny_weights, photos):
    parent, child = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "licodec", "encode", str(photos[0]), "-o", "-"],
                                stdout=child, stderr=subprocess.PIPE, text=True, timeout=120, env=os.environ)
    finally:
        os.close(child)
        os.close(parent)
    assert result.returncode == 1
    assert result.stderr.strip() == "licodec: error: refusing to write binary data to a terminal: redirect it or give -o FILE"


def test_refused_inputs_answer_before_torch_is_imported(tiny_weights, photos, tmp_path):
    bad = tmp_path / "bad.lic"
    bad.write_bytes(b"LIC\x09 not really")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"junk")
    code = ("import sys\nfrom licodec.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print(e.code, 'torch' in sys.modules)")
    for args in (["decode", str(bad)], ["decode", str(tmp_path / "missing.lic")], ["encode", str(junk)],
                 ["encode", str(tmp_path / "missing.png")]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert result.stdout.strip() == "1 False", (args, result.stdout, result.stderr)


def test_inspect_maps_where_the_bits_go(tiny_weights, photos, tmp_path):
    lic = tmp_path / "a.lic"
    assert run("encode", photos[0], "-o", lic).exit_code == 0
    result = run("inspect", lic, "-o", tmp_path / "map.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "map.png").format == "PNG"
    from licodec.entropy_map import measure

    maps = measure(lic.read_bytes())
    header, stream = container.unpack(lic.read_bytes())[:2]
    assert maps.position_bits.shape == (8, 8) and len(maps.channel_bits) == 24  # 96×80, padded to 128²
    assert abs(maps.y_bits + maps.z_bits - 8 * len(stream)) < 0.02 * 8 * len(stream)
    assert f"{maps.y_bits + maps.z_bits:.0f}" in result.output
    again = run("inspect", lic, "-o", tmp_path / "map.png")
    assert again.exit_code == 1 and "exists" in again.output
    bad = tmp_path / "bad.lic"
    bad.write_bytes(lic.read_bytes()[:-3])
    assert run("inspect", bad).exit_code == 1


@pytest.mark.parametrize("inputs", [1, 2])
def test_an_unwritable_output_folder_is_found_before_encoding(tiny_weights, photos, tmp_path, monkeypatch, inputs):
    import tempfile

    from licodec import api

    out = tmp_path / "out"
    out.mkdir()

    def read_only(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # what a read-only folder does, even to root
    monkeypatch.setattr(api, "encode", lambda *a, **k: pytest.fail("encoded before the folder was checked"))
    result = run("encode", *photos[:inputs], "-o", f"{out}/")
    assert result.exit_code == 1 and result.output.count(f"cannot write to {out}: permission denied") == inputs


def test_inspect_without_matplotlib_fails_before_measuring(tiny_weights, photos, tmp_path, monkeypatch):
    import importlib.util

    from licodec import entropy_map

    lic = tmp_path / "a.lic"
    assert run("encode", photos[0], "-o", lic).exit_code == 0
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib"
                        else real_find_spec(name, *a))
    monkeypatch.setattr(entropy_map, "measure", lambda *a: pytest.fail("measured before the check"))
    result = run("inspect", lic, "-o", tmp_path / "map.png")
    assert result.exit_code == 1 and "matplotlib" in result.output and not (tmp_path / "map.png").exists()


def test_an_existing_output_in_a_batch_fails_that_file_only(tiny_weights, photos):
    taken = photos[1].with_suffix(".lic")
    taken.write_bytes(b"precious")
    result = run("encode", *photos)
    assert result.exit_code == 1 and "exists (use --force" in result.output
    assert taken.read_bytes() == b"precious"
    assert photos[0].with_suffix(".lic").exists() and photos[2].with_suffix(".lic").exists()


def test_a_progress_bar_only_on_a_terminal(tiny_weights, photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert "file/s" not in run("encode", *photos, "-o", out).output  # stderr is not a terminal here
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    try:
        process = subprocess.run([sys.executable, "-m", "licodec", "encode", *map(str, photos), "-o", str(out),
                                  "--force"], stderr=child, stdout=subprocess.DEVNULL, timeout=120, env=os.environ)
        os.close(child)
        shown = b""
        while True:
            try:
                chunk = os.read(parent, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(parent)
    assert process.returncode == 0
    assert b"file/s" in shown or b"s/file" in shown  # tqdm's rate on the terminal
    assert b"encoded 3 of 3 files" in shown


class _FailingFile:
    """A file whose writes fail with `error`, as a full disk or a failing drive makes them."""

    def __init__(self, file, error: OSError) -> None:
        self.file, self.error = file, error

    def write(self, data) -> int:
        raise self.error

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


@pytest.mark.parametrize("where, code", [("write", errno.ENOSPC), ("write", errno.EIO), ("rename", errno.EACCES)])
def test_an_os_error_fails_one_file_in_one_line_and_the_batch_goes_on(tiny_weights, photos, tmp_path, monkeypatch,
                                                                      where, code):
    import licodec.files

    out = tmp_path / "out"
    failing = {"first": True}
    real_fdopen, real_replace = os.fdopen, os.replace
    error = OSError(code, os.strerror(code))

    def fdopen(fd, mode):
        file = real_fdopen(fd, mode)
        if where == "write" and failing.pop("first", False):
            return _FailingFile(file, error)
        return file

    def replace(source, target):
        if where == "rename" and failing.pop("first", False):
            raise PermissionError(code, os.strerror(code))
        return real_replace(source, target)

    monkeypatch.setattr(licodec.files.os, "fdopen", fdopen)
    monkeypatch.setattr(licodec.files.os, "replace", replace)
    result = run("encode", *photos, "-o", f"{out}/", "-j", "1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("licodec: error:")]
    assert len(errors) == 1 and os.strerror(code).lower() in errors[0] and "a.png" in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["b.lic", "c.lic"]  # no partial file, the others written


def test_a_decode_onto_a_full_disk_is_one_line(tiny_weights, photos, tmp_path, monkeypatch):
    import licodec.files

    lic = tmp_path / "a.lic"
    assert run("encode", photos[0], "-o", lic).exit_code == 0
    real_fdopen = os.fdopen
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(licodec.files.os, "fdopen", lambda fd, mode: _FailingFile(real_fdopen(fd, mode), full))
    result = run("decode", lic, "-o", tmp_path / "a.png")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].endswith("a.png: no space left on device")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".a.png")] == []


def test_standard_output_closed_by_its_reader_exits_with_sigpipes_status(photo, tmp_path):
    """`licodec decode x.lic -o - | head -c 10`: 141, as README promises, and nothing on stderr."""
    lic = tmp_path / "a.lic"
    Image.open(photo).resize((768, 512)).save(tmp_path / "big.png")  # a PNG larger than a pipe's buffer
    subprocess.run([sys.executable, "-m", "licodec", "encode", tmp_path / "big.png", "-o", lic], check=True)
    process = subprocess.Popen([sys.executable, "-m", "licodec", "decode", lic, "-o", "-"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert len(process.stdout.read(10)) == 10
    process.stdout.close()
    assert process.wait(timeout=120) == 128 + signal.SIGPIPE
    assert process.stderr.read() == b""


def test_an_output_folder_with_a_trailing_slash_is_created(tiny_weights, photos, tmp_path):
    made = run("encode", *photos[:2], "-o", f"{tmp_path / 'lic'}/")
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in (tmp_path / "lic").iterdir()) == ["a.lic", "b.lic"]
    one = run("encode", photos[0], "-o", f"{tmp_path / 'single'}/")
    assert one.exit_code == 0 and (tmp_path / "single" / "a.lic").exists()
    deep = run("encode", photos[0], "-o", f"{tmp_path / 'no' / 'such'}/")
    assert deep.exit_code == 1 and "does not exist" in deep.output and not (tmp_path / "no").exists()
    no_slash = run("encode", *photos[:2], "-o", tmp_path / "other")
    assert no_slash.exit_code == 1 and "end it with / to create it" in no_slash.output
