"""Man pages: one per subcommand, generated from the click definitions and up to date; all
render without warnings; licodec(1) names every command; shell completion works."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from licodec.cli import main

MAN = Path(__file__).resolve().parents[1] / "man"


def test_subcommand_pages_match_the_commands():
    from licodec.manpages import subcommand_pages

    pages = subcommand_pages()
    assert set(pages) == {f"licodec-{name}.1" for name in main.commands}
    stale = [name for name, text in pages.items() if not (MAN / name).exists() or (MAN / name).read_text() != text]
    assert not stale, f"regenerate with `python -m licodec.manpages man/`: {stale}"


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
