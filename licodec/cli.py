"""The `licodec` command: argument parsing and file handling only; the work is in licodec.api.
The commands that make and measure models (train, distill, export, eval, bench) are in
licodec.cli_research and registered here.

torch is imported inside the commands that need it, so `licodec --help` and `licodec info`
start fast.
"""
from __future__ import annotations

import functools
import os
import signal
import sys
import time

import click
from tqdm import tqdm

from licodec import __version__, container
from licodec.effort import HELP as EFFORT_HELP
from licodec.effort import MAX_EFFORT, check_effort
from licodec.errors import LicodecError
from licodec.files import check_output, os_reason, read_input, write_output
from licodec.cli_params import (PixelCount, check_quality, check_size, complete_files, complete_models,
                                 usage_check)
from licodec.cli_research import RESEARCH_COMMANDS
from licodec.threads import chosen_threads, prepare_openmp

QUALITY_HELP = "quality level 1 (smallest) to 8 (best); fractions such as 3.5 interpolate"


class _Group(click.Group):
    """Turns user-facing errors into one line on stderr and a non-zero exit code: 2 for a bad
    option or argument (as click's own), 1 for everything else."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            command = f"{ctx.command_path} {ctx.invoked_subcommand}" if ctx.invoked_subcommand else ctx.command_path
            click.echo(f"licodec: error: {e.format_message()} (see {command} --help)", err=True)
            sys.exit(e.exit_code)
        except LicodecError as e:
            click.echo(f"licodec: error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("licodec: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # the reader went away (| head): quiet, with the status of SIGPIPE
            _silence_stdout()
            sys.exit(128 + signal.SIGPIPE)
        except MemoryError:
            click.echo("licodec: error: out of memory (image too large?)", err=True)
            sys.exit(1)
        except OSError as e:  # after BrokenPipeError, its subclass: a full disk, an I/O error, …
            click.echo(f"licodec: error: {f'{e.filename}: ' if e.filename else ''}{os_reason(e)}", err=True)
            sys.exit(1)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not hit the broken pipe again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (e.g. a test runner's buffer): nothing to flush into a pipe


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="licodec")
def main() -> None:
    """licodec — a learned image codec.

    \b
    licodec encode photo.png -o photo.lic -q 4
    licodec decode photo.lic -o photo.png
    licodec info photo.lic
    """
    prepare_openmp()  # before any command imports torch


def _batch_options(command):
    """What encode and decode share: workers, verbosity, --force, the device."""
    options = [
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True,
                     help="where the networks run (auto: a GPU if there is one); files decode alike on any"),
        click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
                     help="worker processes, each loading the model once"),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="threads per worker [default: $OMP_NUM_THREADS, else the CPUs this process may use, "
                          "shared among the workers]"),
        click.option("--quiet", is_flag=True, help="print errors only (no warnings, progress or summary)"),
        click.option("-v", "--verbose", is_flag=True, help="a line per file"),
        click.option("-f", "--force", is_flag=True, help="overwrite outputs that exist"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_batch(verb: str, jobs: list, work, workers: int, threads: int | None, quiet: bool, verbose: bool) -> None:
    """Run the jobs; report errors, warnings (unless --quiet), per-file lines (-v), a progress bar
    on a terminal and a summary for several files; exit 1 if any file failed."""
    from licodec.batch import run, summary

    began, outcomes = time.perf_counter(), []
    show_progress = len(jobs) > 1 and not quiet and sys.stderr.isatty()
    workers = min(workers, len(jobs))
    with tqdm(total=len(jobs), file=sys.stderr, disable=not show_progress, unit="file", leave=False) as bar:
        for outcome in run(jobs, work, workers, chosen_threads(threads, workers)):
            outcomes.append(outcome)
            bar.update()
            _report(outcome, quiet, verbose, bar)
    if (len(jobs) > 1 or verbose) and not quiet:
        click.echo(f"licodec: {summary(verb, outcomes, time.perf_counter() - began)}", err=True)
    if any(o.error for o in outcomes):
        sys.exit(1)


def _report(outcome, quiet: bool, verbose: bool, bar) -> None:
    name = outcome.job.source
    if outcome.error:
        bar.write(f"licodec: error: {outcome.error}" if name == "-" or name in outcome.error else
                  f"licodec: error: {name}: {outcome.error}", file=sys.stderr)
        return
    if not quiet:
        for warning in outcome.warnings:
            bar.write(f"licodec: warning: {name}: {warning}", file=sys.stderr)
        for note in outcome.notes:
            bar.write(f"licodec: {outcome.job.target}: {note}", file=sys.stderr)
    if verbose:
        bar.write(f"licodec: {name} -> {outcome.job.target}: {outcome.bytes_out} bytes, {outcome.detail}, "
                  f"{outcome.seconds:.2f} s", file=sys.stderr)


@main.command()
@click.argument("inputs", metavar="IN...", shell_complete=complete_files, nargs=-1, required=True)
@click.option("-o", "--output", default=None, metavar="OUT", shell_complete=complete_files,
              help="output .lic file (- for stdout), or a directory for several inputs [default: beside each "
                   "input, as NAME.lic]")
@click.option("-q", "--quality", type=float, default=4.0, show_default=True, metavar="Q", help=QUALITY_HELP,
              callback=usage_check(check_quality))
@click.option("--bpp", type=click.FloatRange(min=0, min_open=True), default=None, metavar="BPP",
              help="instead of -q: the highest quality whose file is at most this many bits per pixel")
@click.option("--size", "size", default=None, metavar="BYTES", callback=usage_check(check_size),
              help="instead of -q: the highest quality whose file fits, e.g. 20KB, 20KiB, 15000")
@click.option("--psnr", type=float, default=None, metavar="DB",
              help="instead of -q: the lowest quality that reaches this PSNR (dB)")
@click.option("--best-effort", is_flag=True,
              help="when --size, --bpp or --psnr is out of reach: write the nearest file (quality 1 or 8) with a "
                   "warning; without it, that file fails (exit 1) and nothing is written")
@click.option("--model", default="student", show_default=True, metavar="MODEL",
              help="student, teacher, or a .safetensors path",
              shell_complete=complete_models)
@click.option("--strip", is_flag=True, help="leave the ICC profile and EXIF out (kept by default; alpha is always kept)")
@click.option("-e", "--effort", default="0", show_default=True, metavar="0..%d" % MAX_EFFORT, help=EFFORT_HELP,
              callback=usage_check(check_effort))
@_batch_options
def encode(inputs: tuple[str, ...], output: str | None, quality: float, bpp: float | None, size: str | None,
           psnr: float | None, best_effort: bool, model: str, strip: bool, effort: int, device: str, jobs: int,
           threads: int | None, quiet: bool, verbose: bool, force: bool) -> None:
    """Compress images IN... (any format Pillow reads; - for stdin) into .lic files. Alpha is coded
    losslessly beside the colour; the ICC profile and EXIF are kept unless --strip."""
    from licodec.batch import EncodeSettings, encode_file, plan

    ctx = click.get_current_context()
    explicit = [name for name, value in (("--bpp", bpp), ("--size", size), ("--psnr", psnr)) if value is not None]
    if ctx.get_parameter_source("quality") == click.core.ParameterSource.COMMANDLINE:
        explicit.insert(0, "-q")
    if len(explicit) > 1:
        raise click.UsageError(f"give one of {', '.join(explicit)}")
    planned = plan(inputs, output, ".lic")
    _check_single_output(planned, force)
    show_progress = len(planned) == 1 and not quiet and sys.stderr.isatty()
    target = _rate_target(bpp, size, psnr)
    if best_effort and target is None:
        raise click.UsageError("--best-effort goes with --size, --bpp or --psnr")
    settings = EncodeSettings(quality, model, device, force, target, keep_metadata=not strip,
                              effort=effort, show_progress=show_progress, best_effort=best_effort)
    _run_batch("encoded", planned, functools.partial(encode_file, settings), jobs, threads, quiet, verbose)


def _check_single_output(planned: list, force: bool) -> None:
    """One file: refuse its output before torch and the model load. Several: each file checks its
    own, so that one existing output is reported and the others still go on."""
    if len(planned) == 1:
        check_output(planned[0].target, force)


def _rate_target(bpp: float | None, size: str | None, psnr: float | None):
    from licodec.rate_control import Target, parse_size

    if bpp is not None:
        return Target("bpp", bpp)
    if size is not None:
        return Target("bytes", parse_size(size))
    if psnr is not None:
        return Target("psnr", psnr)
    return None


@main.command()
@click.argument("inputs", metavar="IN...", shell_complete=complete_files, nargs=-1, required=True)
@click.option("-o", "--output", default=None, metavar="OUT", shell_complete=complete_files,
              help="output image (- for stdout; the extension picks the format), or a directory for several "
                   "inputs [default: beside each input, as NAME.png]")
@click.option("--format", "extension", default=None, metavar="EXT",
              help="output format (png, jpg, webp, avif, tiff, ...) of outputs named by -o DIR/ or beside the "
                   "inputs [default: png]")
@click.option("--quality", "output_quality", type=click.IntRange(1, 100), default=None,
              help="quality of a lossy output format (JPEG, WebP, AVIF), 1..100 [default: Pillow's]")
@click.option("--model", default=None, metavar="PATH",
              help="weights to decode with (default: found by the file's model id)",
              shell_complete=complete_models)
@click.option("--max-pixels", type=PixelCount(), default=None,
              help="refuse files declaring more pixels than this (e.g. 24M), before any work; for servers "
                   "[default: $LICODEC_MAX_PIXELS, else 100M, the format's limit]")
@_batch_options
def decode(inputs: tuple[str, ...], output: str | None, extension: str | None, output_quality: int | None,
           model: str | None, max_pixels: int | None, device: str, jobs: int, threads: int | None, quiet: bool,
           verbose: bool, force: bool) -> None:
    """Decompress .lic files IN... (- for stdin) into images."""
    from licodec.batch import DecodeSettings, decode_file, plan
    from licodec.images import output_format

    suffix = "." + (extension or "png").lower().lstrip(".")
    image_format = output_format("x" + suffix) if extension else None
    planned = plan(inputs, output, suffix)
    if image_format is None:
        for job in planned:
            output_format(job.target)  # an unknown extension fails before any work
    _check_single_output(planned, force)
    container.pixel_limit(max_pixels)  # a bad $LICODEC_MAX_PIXELS fails before any file is read
    settings = DecodeSettings(image_format, output_quality, model, device, force, max_pixels)
    _run_batch("decoded", planned, functools.partial(decode_file, settings), jobs, threads, quiet, verbose)


@main.command()
@click.argument("files", metavar="FILE...", shell_complete=complete_files, nargs=-1, required=True)
def info(files: tuple[str, ...]) -> None:
    """Show the header of .lic files: model, quality, size, bytes, bpp (checks the CRC)."""
    failed = False
    for i, file in enumerate(files):
        if len(files) > 1:
            click.echo(("\n" if i else "") + f"{file}:")
        try:
            _print_info(file)
        except LicodecError as e:
            click.echo(f"licodec: error: {e}" if file in str(e) else f"licodec: error: {file}: {e}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@main.command()
@click.argument("file", metavar="FILE", shell_complete=complete_files)
@click.option("-o", "--output", default=None, metavar="PNG", help="draw the maps into this PNG (needs matplotlib)")
@click.option("--model", default=None, metavar="PATH",
              help="weights to decode with (default: found by the file's model id)",
              shell_complete=complete_models)
@click.option("-f", "--force", is_flag=True, help="overwrite PNG if it exists")
def inspect(file: str, output: str | None, model: str | None, force: bool) -> None:
    """Where the bits of a .lic file go: per latent position and per channel, ranked."""
    data = read_input(file)
    container.unpack(data)  # a damaged file fails before torch loads
    from licodec import entropy_map  # torch-free until it measures

    if output is not None:
        check_output(output, force)
        entropy_map.check_can_render()
    from licodec import api

    maps = entropy_map.measure(data, model)
    click.echo(entropy_map.summary(maps))
    if output is not None:
        png = entropy_map.render(maps, api.decode(data, model=model))
        write_output(output, force, lambda f: f.write(png))


def _print_info(file: str) -> None:
    from licodec import weights

    data = read_input(file)
    header, stream = container.unpack(data)[:2]
    try:
        model = weights.find_by_id(header.model_id).name
    except LicodecError:
        model = "unknown (not a shipped model)"
    pixels = header.width * header.height
    rows = [
        ("format", f"licodec .lic version {header.version}"),
        ("model", f"{model} (id {header.model_id.hex()})"),
        ("quality", f"{header.quality:g}"),
        ("size", f"{header.width}x{header.height} {header.colour}"),
        ("extras", ", ".join(f"{name} ({len(payload)} bytes)" for name, payload in
                             (("alpha", header.extras.alpha), ("ICC profile", header.extras.icc),
                              ("EXIF", header.extras.exif)) if payload is not None) or "none"),
        ("bytes", f"{len(data)} (stream {len(stream)}, header, extras and trailer {len(data) - len(stream)})"),
        ("bpp", f"{8 * len(data) / pixels:.4f}"),
        ("checksum", "ok"),
    ]
    for key, value in rows:
        click.echo(f"{key:<9} {value}")


@main.command()
@click.argument("reference", metavar="REFERENCE", shell_complete=complete_files)
@click.argument("decoded", metavar="DECODED", shell_complete=complete_files)
def compare(reference: str, decoded: str) -> None:
    """Print the PSNR (dB, RGB, 8-bit) of DECODED against REFERENCE, each turned upright by its
    EXIF orientation first, as encode does."""
    import numpy as np

    from licodec.images import open_image, upright
    from licodec.metrics import psnr

    a, b = (np.array(upright(open_image(p)).convert("RGB")) for p in (reference, decoded))
    if a.shape != b.shape:
        raise LicodecError(f"sizes differ: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")
    click.echo(f"psnr      {psnr(a, b):.2f} dB")


# The researcher's commands (train, distill, export, eval, bench) live in licodec.cli_research.
for _command in RESEARCH_COMMANDS:
    main.add_command(_command)
