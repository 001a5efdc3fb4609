"""The CLI's parameters: values checked as usage errors (exit 2), and shell completion
(torch-free, like all of the CLI until a command does its work)."""
from __future__ import annotations

from typing import Callable

import click

from licodec import container
from licodec.errors import LicodecError

MAX_QUALITY = 8  # the shipped models' levels; a model with other levels checks its own (licodec.api)


def usage_check(check: Callable[[str], object]) -> Callable:
    """A click callback that turns `check`'s LicodecError into a usage error (exit 2)."""
    def callback(ctx: click.Context, param: click.Parameter, value):
        if value is None:
            return None
        try:
            return check(value)
        except LicodecError as e:
            raise click.BadParameter(str(e), ctx, param) from None
    return callback


def check_quality(value: float) -> float:
    if not 1 <= value <= MAX_QUALITY:
        raise LicodecError(f"{value:g} is outside 1..{MAX_QUALITY}")
    return value


def check_size(value: str) -> str:
    from licodec.rate_control import parse_size  # torch-free

    parse_size(value)
    return value


def complete_files(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of file names (the shell lists them: click's "file" items)."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="file")]


def complete_models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of --model: the shipped names, then .safetensors paths."""
    from click.shell_completion import CompletionItem

    from licodec.weights import SHIPPED

    names = [CompletionItem(name) for name in SHIPPED if name.startswith(incomplete)]
    return names + [CompletionItem(incomplete, type="file")]


class PixelCount(click.ParamType):
    """--max-pixels: 24000000, 24M or 0.5M; a bad value is a usage error (exit 2)."""

    name = "PIXELS"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        try:
            return container.parse_pixels(str(value))
        except ValueError as e:
            self.fail(f"{value!r}: {e}", param, ctx)
