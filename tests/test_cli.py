"""The command line: round trips through files and pipes, and every error path is one clean line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from licodec.cli import main


def run(*args: str, stdin: bytes | None = None):
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result


def encode(photo: Path, out: Path, *extra: str):
    result = run("encode", str(photo), "-o", str(out), *extra)
    assert result.exit_code == 0, result.output
    return out


def assert_clean_error(result, message: str):
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("licodec: error")]
    assert len(lines) == 1


def test_encode_decode_info(tiny_weights, photo, tmp_path):
    lic = encode(photo, tmp_path / "a.lic", "-q", "6")
    result = run("decode", str(lic), "-o", str(tmp_path / "a.png"))
    assert result.exit_code == 0, result.output
    decoded = Image.open(tmp_path / "a.png")
    assert decoded.size == Image.open(photo).size and decoded.mode == "RGB"
    info = run("info", str(lic))
    assert info.exit_code == 0
    assert "student" in info.output and "96x80" in info.output and "quality   6" in info.output


def test_any_pillow_output_format(tiny_weights, photo, tmp_path):
    lic = encode(photo, tmp_path / "a.lic")
    for name, fmt in [("a.jpg", "JPEG"), ("a.webp", "WEBP"), ("a.bmp", "BMP")]:
        assert run("decode", str(lic), "-o", str(tmp_path / name)).exit_code == 0
        assert Image.open(tmp_path / name).format == fmt


def test_stdin_and_stdout(tiny_weights, photo, tmp_path):
    encoded = run("encode", "-", "-o", "-", stdin=photo.read_bytes())
    assert encoded.exit_code == 0
    assert encoded.stdout_bytes[:3] == b"LIC"
    decoded = run("decode", "-", "-o", "-", stdin=encoded.stdout_bytes)
    assert decoded.exit_code == 0 and decoded.stdout_bytes[:8] == b"\x89PNG\r\n\x1a\n"


def test_greyscale_images_decode_greyscale(tiny_weights, photo, tmp_path):
    grey = tmp_path / "grey.png"
    Image.open(photo).convert("L").save(grey)
    lic = encode(grey, tmp_path / "g.lic")
    assert run("decode", str(lic), "-o", str(tmp_path / "g.png")).exit_code == 0
    assert Image.open(tmp_path / "g.png").mode == "L"


def test_teacher_and_explicit_model_path(tiny_weights, photo, tmp_path):
    lic = encode(photo, tmp_path / "t.lic", "--model", "teacher")
    assert "teacher" in run("info", str(lic)).output
    lic2 = encode(photo, tmp_path / "p.lic", "--model", str(tiny_weights / "student.safetensors"))
    assert run("decode", str(lic2), "-o", str(tmp_path / "p.png")).exit_code == 0


def test_refuses_to_overwrite_without_force(tiny_weights, photo, tmp_path):
    out = tmp_path / "a.lic"
    out.write_bytes(b"precious")
    assert_clean_error(run("encode", str(photo), "-o", str(out)), "exists (use --force")
    assert out.read_bytes() == b"precious"
    encode(photo, out, "--force")
    assert out.read_bytes()[:3] == b"LIC"


@pytest.mark.parametrize("damage, message", [
    (lambda d: b"XYZ" + d[3:], "not a .lic file"),
    (lambda d: d[: len(d) // 2], "truncated"),
    (lambda d: d[:40] + bytes([d[40] ^ 0xFF]) + d[41:], "corrupt"),
    (lambda d: d[:5] + b"\x00\x00\x00\x00" + d[9:], "corrupt"),  # other model id, stale CRC
])
def test_damaged_files(tiny_weights, photo, tmp_path, damage, message):
    data = encode(photo, tmp_path / "a.lic").read_bytes()
    bad = tmp_path / "bad.lic"
    bad.write_bytes(damage(data))
    assert_clean_error(run("decode", str(bad), "-o", str(tmp_path / "out.png")), message)
    assert_clean_error(run("info", str(bad)), message)
    assert not (tmp_path / "out.png").exists()


def test_wrong_model_id(tiny_weights, photo, tmp_path):
    from licodec import container

    data = encode(photo, tmp_path / "a.lic").read_bytes()
    header, stream, digest = container.unpack(data)
    foreign = container.Header(b"\xde\xad\xbe\xef", header.quality, header.width, header.height)
    bad = tmp_path / "foreign.lic"
    bad.write_bytes(container.pack(foreign, stream, digest))
    assert_clean_error(run("decode", str(bad), "-o", str(tmp_path / "out.png")), "no weights with model id deadbeef")
    assert not (tmp_path / "out.png").exists()


def test_unreadable_and_missing_inputs(tiny_weights, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image")
    assert_clean_error(run("encode", str(junk), "-o", str(tmp_path / "a.lic")), "not a readable image")
    assert_clean_error(run("encode", str(tmp_path / "nope.png"), "-o", str(tmp_path / "a.lic")), "no such file")
    assert_clean_error(run("decode", str(tmp_path / "nope.lic"), "-o", str(tmp_path / "a.png")), "no such file")
    assert not list(tmp_path.glob("a.*"))


def test_missing_output_directory(tiny_weights, photo, tmp_path):
    result = run("encode", str(photo), "-o", str(tmp_path / "no" / "such" / "a.lic"))
    assert_clean_error(result, "output directory")
    assert encode(photo, tmp_path) == tmp_path  # a directory as OUT: the file goes into it
    assert (tmp_path / "photo.lic").exists()
    lic = encode(photo, tmp_path / "a.lic")
    assert_clean_error(run("decode", str(lic), "-o", str(tmp_path / "no" / "a.png")), "output directory")


def test_bad_options(tiny_weights, photo, tmp_path):
    assert_clean_error(run("encode", str(photo), "-o", str(tmp_path / "a.lic"), "--model", "huge"), "no model named")
    lic = encode(photo, tmp_path / "a.lic")
    assert_clean_error(run("decode", str(lic), "-o", str(tmp_path / "a.xyz")), "unknown image extension")


def _fresh_python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_help_and_info_do_not_import_torch(tiny_weights, photo, tmp_path):
    lic = encode(photo, tmp_path / "a.lic")
    code = (
        "import sys\nfrom licodec.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules)"
    )
    for args in (["--help"], ["encode", "--help"], ["info", str(lic)]):
        result = _fresh_python(code, *args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("False"), args


def test_crafted_files_are_refused_before_torch_is_imported(tiny_weights, photo, tmp_path):
    """The floor, the z digest and a stream that runs out are checked torch-free (latent_stream)."""
    from licodec import container

    header, stream, digests = container.unpack(encode(photo, tmp_path / "a.lic").read_bytes())
    code = ("import sys\nfrom licodec.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    print(e.code, 'torch' in sys.modules)")
    crafted = {"floor": container.Header(header.model_id, 1.0, 10000, 10000), "z digest": header}
    for name, declared in crafted.items():
        path = tmp_path / f"{name}.lic"
        path.write_bytes(container.pack(declared, stream, digests._replace(z=digests.z ^ 1)))
        result = _fresh_python(code, "decode", str(path), "-o", str(tmp_path / "out.png"))
        assert result.stdout.split() == ["1", "False"], (name, result.stdout, result.stderr)
        assert ("shorter than any image" if name == "floor" else "decoding mismatch") in result.stderr


def test_real_process_exit_code_and_single_line(tiny_weights, tmp_path):
    bad = tmp_path / "bad.lic"
    bad.write_bytes(b"hello")
    result = subprocess.run([sys.executable, "-m", "licodec", "decode", str(bad), "-o", str(tmp_path / "x.png")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"licodec: error: {bad}: not a .lic file (bad magic)"


def test_output_files_get_the_usual_permissions(tiny_weights, photo, tmp_path):
    old = os.umask(0o022)
    try:
        lic = encode(photo, tmp_path / "a.lic")
    finally:
        os.umask(old)
    assert lic.stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".*.part"))


def test_export_copies_a_runs_weights_under_a_new_name(tiny_weights, tmp_path, photo):
    from licodec.weights import read_info

    run = tmp_path / "run"
    run.mkdir()
    (run / "weights.safetensors").write_bytes((tiny_weights / "student.safetensors").read_bytes())
    out = tmp_path / "mine.safetensors"
    result = CliRunner().invoke(main, ["export", str(run), "-o", str(out), "--name", "mine"])
    assert result.exit_code == 0, result.output
    exported, original = read_info(out), read_info(run / "weights.safetensors")
    assert exported.name == "mine" and exported.model_id == original.model_id
    assert exported.config == original.config
    again = CliRunner().invoke(main, ["export", str(run), "-o", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    encoded = CliRunner().invoke(main, ["encode", str(photo), "-o", str(tmp_path / "a.lic"), "--model", str(out)])
    assert encoded.exit_code == 0, encoded.output
    not_weights = CliRunner().invoke(main, ["export", str(photo), "-o", str(tmp_path / "x.safetensors")])
    assert not_weights.exit_code == 1 and "not a licodec weights file" in not_weights.output


def test_export_half_stores_float16_and_codes_like_float32(tiny_weights, tmp_path, photo):
    import torch

    from licodec.models.codec import pad_image, rgb_to_tensor
    from licodec.weights import load_model, read_info

    source = tiny_weights / "student.safetensors"
    out = tmp_path / "half.safetensors"
    result = run("export", str(source), "-o", str(out), "--half")
    assert result.exit_code == 0, result.output
    half, full = read_info(out), read_info(source)
    assert half.metadata["storage"] == "float16" and half.model_id != full.model_id
    assert half.model_id.hex() in result.output
    assert out.stat().st_size < 0.55 * source.stat().st_size
    half_model, full_model = load_model(half), load_model(full)  # the hash of the stored tensors checks
    assert all(p.dtype == torch.float32 for p in half_model.parameters())
    x = pad_image(rgb_to_tensor(np.array(Image.open(photo))))
    with torch.no_grad():
        a, b = (m(x, torch.tensor([4.0]))["x_hat"] for m in (half_model, full_model))
    # A random model's wide latents flip a few roundings, so compare on average, not per pixel.
    assert (a - b).abs().mean() < 0.05 * b.std()
    lic = encode(photo, tmp_path / "a.lic", "--model", str(out))
    decoded = run("decode", str(lic), "-o", str(tmp_path / "a.png"), "--model", str(out))
    assert decoded.exit_code == 0, decoded.output


def test_max_pixels_refuses_larger_files_before_decoding(tiny_weights, photo, tmp_path, monkeypatch):
    lic = encode(photo, tmp_path / "a.lic")  # 96x80 = 7680 pixels
    assert_clean_error(run("decode", str(lic), "-o", str(tmp_path / "a.png"), "--max-pixels", "7679"),
                       "96x80 is over the limit of 7679 pixels")
    assert not (tmp_path / "a.png").exists()
    assert run("decode", str(lic), "-o", str(tmp_path / "a.png"), "--max-pixels", "0.01M").exit_code == 0
    monkeypatch.setenv("LICODEC_MAX_PIXELS", "7000")
    assert_clean_error(run("decode", str(lic), "-o", str(tmp_path / "b.png")), "over the limit of 7000")
    monkeypatch.setenv("LICODEC_MAX_PIXELS", "many")
    assert_clean_error(run("decode", str(lic), "-o", str(tmp_path / "b.png")), "LICODEC_MAX_PIXELS=many")


@pytest.mark.parametrize("value", ["0", "lots", "200M", "-3"])
def test_a_bad_max_pixels_is_a_usage_error(tiny_weights, photo, tmp_path, value):
    lic = encode(photo, tmp_path / "a.lic")
    result = run("decode", str(lic), "-o", str(tmp_path / "a.png"), "--max-pixels", value)
    assert result.exit_code == 2 and "--max-pixels" in result.output and "Traceback" not in result.output


def test_decode_with_the_model_of_another_file_warns_and_uses_the_files_own(tiny_weights, photo, tmp_path):
    lic = encode(photo, tmp_path / "a.lic")  # the student
    result = run("decode", str(lic), "-o", str(tmp_path / "a.png"), "--model", "teacher")
    assert result.exit_code == 0 and "warning" in result.output and "not by teacher" in result.output
    assert Image.open(tmp_path / "a.png").size == Image.open(photo).size
    quiet = run("decode", str(lic), "-o", str(tmp_path / "b.png"), "--model", "student")
    assert quiet.exit_code == 0 and "warning" not in quiet.output


@pytest.mark.parametrize("args, message", [
    (["-q", "9"], "9 is outside 1..8"), (["-q", "0.5"], "outside 1..8"), (["--size", "20XB"], "give bytes"),
    (["--bpp", "0"], "--bpp"), (["-e", "7"], "effort 7 is outside"), (["--bogus"], "No such option"),
])
def test_every_bad_option_value_is_a_one_line_usage_error(tiny_weights, photo, tmp_path, args, message):
    result = run("encode", str(photo), "-o", str(tmp_path / "a.lic"), *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("licodec: error: ")
    assert not (tmp_path / "a.lic").exists()
