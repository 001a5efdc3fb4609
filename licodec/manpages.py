"""The man pages of the subcommands, generated from their click definitions with click-man.

    python -m licodec.manpages man/

licodec.1 itself is written by hand (exit status, completion, examples: what click does not
know); tests/test_manpages.py checks that the generated pages match the commands.
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import click
from click_man.core import generate_man_page

from licodec import __version__
from licodec.cli import main as cli

DATE = "2026-11-22"  # fixed, so that regenerating an unchanged command changes no file


def subcommand_pages() -> dict[str, str]:
    """{file name: roff text} for every subcommand."""
    parent = click.Context(cli, info_name="licodec")
    return {f"licodec-{name}.1": generate_man_page(click.Context(_whole_name_line(command), info_name=name,
                                                                 parent=parent), version=__version__, date=DATE)
            for name, command in sorted(cli.commands.items()) if not command.hidden}


def _whole_name_line(command: click.Command) -> click.Command:
    """A copy whose short help (the page's NAME line) is the help's whole first sentence: click
    cuts it at 45 characters for `licodec --help`, where it must fit a terminal's line."""
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    sentence = re.split(r"(?<=[^.]\.)\s+(?=[A-Z])", first_paragraph)[0]  # not at "IN... (": an ellipsis
    named = copy.copy(command)
    named.short_help = sentence[:-1] if sentence.endswith(".") and not sentence.endswith("...") else sentence
    return named


def write(folder: Path) -> None:
    for name, text in subcommand_pages().items():
        (folder / name).write_text(text)


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "man"))
