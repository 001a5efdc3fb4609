"""The man pages, generated from the click definitions, so that they cannot drift from the command.

    python -m licodec.manpages man/

One page per subcommand, by click-man. licodec.1 is man/licodec.1.in's prose (exit status,
completion, examples: what click does not know) with its SYNOPSIS, its OPTIONS list (encode's and
decode's, with their --help texts), FILES and SEE ALSO generated here from the commands.
tests/test_manpages.py checks that every page matches the commands.
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


# The commands users code with: their whole synopsis; the others name their required options.
CODING_COMMANDS = ("encode", "decode", "info", "inspect", "compare")
# Where a wheel (pip install ., pipx) puts what the page refers to, under the environment's prefix.
FILES = {"share/licodec/weights": "the shipped weights (student, teacher) and their lineage (README.md)",
         "share/doc/licodec/format.md": "the .lic format's specification",
         "share/man/man1": "these pages"}


def _roff(text: str) -> str:
    """Plain text as roff: backslashes and minus signs escaped, no line taken for a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines())


def _metavar(param: click.Parameter) -> str:
    if param.metavar:
        return param.metavar
    if isinstance(param.type, click.Choice):
        return "|".join(str(choice) for choice in param.type.choices)
    return "N" if isinstance(param.type, (click.IntRange, type(click.INT))) else param.type.name.upper()


def _synopsis_option(option: click.Option) -> str:
    name = _roff(option.opts[0])
    if option.is_flag:
        return f".RB [ {name} ]"
    return f'.RB [ {name} " \\fI{_roff(_metavar(option))}\\fR" ]'


def synopsis() -> str:
    lines = []
    for name, command in cli.commands.items():
        if command.hidden:
            continue
        lines.append(f".B licodec {name}")
        for param in command.params:
            if isinstance(param, click.Argument):
                metavar = param.metavar or param.name.upper() + ("..." if param.nargs == -1 else "")
                lines.append(f".I {_roff(metavar)}")
            elif isinstance(param, click.Option) and not param.hidden and (name in CODING_COMMANDS or param.required):
                lines.append(_synopsis_option(param) if not param.required else
                             f".B {_roff(param.opts[0])}\n.I {_roff(_metavar(param))}")
        if name not in CODING_COMMANDS:
            lines.append(".RI [ OPTIONS ]")
        lines.append(".br")
    return "\n".join(lines[:-1])


def coding_options() -> str:
    """Every option of encode and decode (help excepted), with its --help text and its command
    where only one has it (or has it with this help)."""
    seen: dict[tuple, tuple[click.Option, list[str]]] = {}
    for name in ("encode", "decode"):
        for param in cli.commands[name].params:
            if isinstance(param, click.Option) and not param.hidden:
                seen.setdefault((tuple(param.opts), param.help), (param, []))[1].append(name)
    entries = []
    for option, commands in seen.values():
        names = ' ", " '.join(_roff(o) for o in option.opts)
        value = "" if option.is_flag else f' " \\fI{_roff(_metavar(option))}\\fR"'
        where = "" if len(commands) == 2 else f" ({commands[0]})"
        entries.append(f".TP\n.BR {names}{value}\n{_roff((option.help or '').strip())}{where}")
    return "\n".join(entries)


def main_page(template: str) -> str:
    """licodec.1: the template's prose, its @…@ sections generated from the commands."""
    files = "\n".join(f".TP\n.I PREFIX/{_roff(path)}\n{_roff(what)}" for path, what in FILES.items())
    see_also = ",\n".join(f".BR licodec\\-{name} (1)" for name, command in cli.commands.items() if not command.hidden)
    sections = {"@SYNOPSIS@": synopsis(), "@OPTIONS@": coding_options(),
                "@FILES@": ("PREFIX is the environment licodec is installed in (its bin/ holds licodec); "
                            "in a source checkout, the repository's weights/, docs/ and man/.\n" + files),
                "@SEE_ALSO@": see_also}
    for marker, text in sections.items():
        template = template.replace(marker, text)
    return template


def write(folder: Path) -> None:
    for name, text in subcommand_pages().items():
        (folder / name).write_text(text)
    (folder / "licodec.1").write_text(main_page((folder / "licodec.1.in").read_text()))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "man"))
