"""Man pages: one per subcommand, generated from the click definitions and up to date; all
render without warnings; licodec(1) names every command; shell completion works."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from licodec.cli import main

MAN = Path(__file__).resolve().parents[1] / "man"


def test_subcommand_pages_match_the_commands():
    from licodec.manpages import subcommand_pages

    pages = subcommand_pages()
    assert set(pages) == {f"licodec-{name}.1" for name in main.commands}
    stale = [name for name, text in pages.items() if not (MAN / name).exists() or (MAN / name).read_text() != text]
    assert not stale, f"regenerate with `python -m licodec.manpages man/`: {stale}"


def test_licodec_1_is_generated_from_the_commands():
    """Its synopsis and option list come from click: an option added to a command is in the page."""
    from licodec.manpages import main_page

    text = (MAN / "licodec.1").read_text()
    assert text == main_page((MAN / "licodec.1.in").read_text()), "regenerate with `python -m licodec.manpages man/`"
    options = [opt for name in ("encode", "decode") for param in main.commands[name].params
               if isinstance(param, click.Option) and not param.hidden for opt in param.opts]
    assert "--effort" in options
    for opt in options:
        assert opt.replace("-", "\\-") in text, opt
    for missing_before in ("\\-e", "\\-\\-strip", "\\-\\-threads", "\\-\\-best\\-effort"):
        assert missing_before in text
    assert "docs/format.md" not in text.replace("repository's weights/, docs/", "")


def test_name_lines_are_whole_sentences():
    """click cuts short help at 45 characters ("Compress images IN..."): NAME lines keep it whole."""
    for name in main.commands:
        page = (MAN / f"licodec-{name}.1").read_text().splitlines()
        name_line = page[page.index(".SH NAME") + 1]
        assert not name_line.endswith("..."), name_line
    encode_page = (MAN / "licodec-encode.1").read_text()
    assert "Compress images IN... (any format Pillow reads; - for stdin) into .lic files\n" in encode_page


def test_licodec_1_names_every_command_and_exit_status():
    text = (MAN / "licodec.1").read_text()
    for name in main.commands:
        assert f".BR licodec\\-{name} (1)" in text
    for status in ("0", "1", "2", "130", "141"):
        assert f".B {status}\n" in text


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man(1)")
@pytest.mark.parametrize("page", sorted(p.name for p in MAN.glob("*.1")))
def test_pages_render_without_warnings(page):
    result = subprocess.run(["man", "-l", str(MAN / page)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"})
    assert result.returncode == 0 and result.stderr == ""
    assert "licodec" in result.stdout


def test_bash_completion_completes_commands_and_options():
    env = {**os.environ, "_LICODEC_COMPLETE": "bash_complete", "COMP_WORDS": "licodec enc", "COMP_CWORD": "1"}
    result = subprocess.run([sys.executable, "-m", "licodec"], capture_output=True, text=True, env=env, timeout=60)
    assert "plain,encode" in result.stdout.splitlines()
    env.update(COMP_WORDS="licodec encode --ps", COMP_CWORD="2")
    result = subprocess.run([sys.executable, "-m", "licodec"], capture_output=True, text=True, env=env, timeout=60)
    assert "plain,--psnr" in result.stdout.splitlines()


def _complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "_LICODEC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = subprocess.run([sys.executable, "-m", "licodec"], capture_output=True, text=True, env=env, timeout=60)
    return result.stdout.splitlines()


def test_bash_completion_completes_file_names_and_models():
    """File arguments hand file completion to the shell ("file" items); --model offers the shipped names."""
    assert "file,data/ko" in _complete("licodec info data/ko", 2)
    assert "file,x" in _complete("licodec decode a.lic -o x", 4)
    models = _complete("licodec encode a.png --model ", 4)
    assert "plain,student" in models and "plain,teacher" in models and "file," in models
    assert _complete("licodec decode a.lic --model te", 4)[0] == "plain,teacher"
