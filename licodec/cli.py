"""The `licodec` command: argument parsing and file handling only; the work is in licodec.api.

torch is imported inside the commands that need it, so `licodec --help` and `licodec info`
start fast.
"""
from __future__ import annotations

import functools
import os
import signal
import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from licodec import __version__, container
from licodec.effort import HELP as EFFORT_HELP
from licodec.effort import MAX_EFFORT, check_effort
from licodec.errors import LicodecError
from licodec.files import check_output, read_input, write_output
from licodec.cli_params import (PixelCount, check_quality, check_size, complete_files, complete_models,
                                 usage_check)
from licodec.threads import chosen_threads, prepare_openmp
from licodec.weights import SHIPPED

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
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True),
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
@click.option("-q", "--quality", type=float, default=4.0, show_default=True, help=QUALITY_HELP,
              callback=usage_check(check_quality))
@click.option("--bpp", type=click.FloatRange(min=0, min_open=True), default=None,
              help="instead of -q: the highest quality whose file is at most this many bits per pixel")
@click.option("--size", "size", default=None, metavar="BYTES", callback=usage_check(check_size),
              help="instead of -q: the highest quality whose file fits, e.g. 20KB, 20KiB, 15000")
@click.option("--psnr", type=float, default=None, help="instead of -q: the lowest quality that reaches this PSNR (dB)")
@click.option("--model", default="student", show_default=True, help="student, teacher, or a .safetensors path",
              shell_complete=complete_models)
@click.option("--strip", is_flag=True, help="leave the ICC profile and EXIF out (kept by default; alpha is always kept)")
@click.option("-e", "--effort", default="0", show_default=True, metavar="0..%d" % MAX_EFFORT, help=EFFORT_HELP,
              callback=usage_check(check_effort))
@_batch_options
def encode(inputs: tuple[str, ...], output: str | None, quality: float, bpp: float | None, size: str | None,
           psnr: float | None, model: str, strip: bool, effort: int, device: str, jobs: int, threads: int | None,
           quiet: bool, verbose: bool, force: bool) -> None:
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
    settings = EncodeSettings(quality, model, device, force, _rate_target(bpp, size, psnr), keep_metadata=not strip,
                              effort=effort, show_progress=show_progress)
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
@click.option("--model", default=None, help="weights to decode with (default: found by the file's model id)",
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
@click.option("--model", default=None, help="weights to decode with (default: found by the file's model id)",
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
@click.argument("run", metavar="RUN", shell_complete=complete_files)
@click.option("-o", "--output", required=True, metavar="OUT", help="the .safetensors file to write")
@click.option("--name", default=None, help="the model name stored in the file (default: the run's architecture)")
@click.option("--half", is_flag=True,
              help="store the tensors as float16 (half the size; computed in float32; a new model id)")
@click.option("-f", "--force", is_flag=True, help="overwrite OUT if it exists")
def export(run: str, output: str, name: str | None, half: bool, force: bool) -> None:
    """Copy a training run's weights (RUN/weights.safetensors) to OUT, for encode --model OUT."""
    from licodec import weights

    source = Path(run) / "weights.safetensors" if Path(run).is_dir() else Path(run)
    weights.read_info(source)  # refuses anything but a licodec weights file
    data = read_input(str(source))
    if name is not None:
        data = weights.renamed(data, name)
    if half:
        data = weights.halved(data)
    data = weights.with_coder_tables(data)  # from the tensors as stored, so exact for the decoder
    model_id = bytes.fromhex(weights.metadata_of(data)["content_hash"])[: weights.MODEL_ID_BYTES]
    write_output(output, force, lambda f: f.write(data))
    if output != "-":
        click.echo(f"wrote {output} (model id {model_id.hex()})", err=True)


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


@main.command(name="eval")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--model", "models", multiple=True, default=SHIPPED, show_default=True,
              help="student, teacher or a .safetensors path; repeat for several")
@click.option("--quality", default="1,2,4,6,8", show_default=True, help="levels: a range 1..8 or a list 1,4,8")
@click.option("--baselines", default="jpeg,jpeg444,webp,avif,heif,jxl", show_default=True,
              help="comma-separated; '' for none")
@click.option("--anchors", type=click.Path(exists=True, file_okay=False), default=None,
              help="folder of published curves (e.g. ../shared/anchors/kodak)")
@click.option("--anchor", "anchor_names", multiple=True, help="anchor file stems to include (default: VTM, BPG, "
              "AV1, mbt2018-mean, cheng2020-anchor, ChARM, ELIC)")
@click.option("--reference", default="vtm", show_default=True, help="the curve BD-rates are measured against")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="results folder")
@click.option("-j", "--jobs", default=1, show_default=True, help="processes for the baseline encoders")
@click.option("--effort", "efforts", default="0", show_default=True, metavar="E[,E...]",
              help="encoder efforts to measure each model at, e.g. 0,2,4 (curves named licodec-student-e2, ...)")
def evaluate(dataset: str, models: tuple[str, ...], quality: str, baselines: str, anchors: str | None,
             anchor_names: tuple[str, ...], reference: str, output: str, jobs: int, efforts: str) -> None:
    """Rate-distortion of real files: bpp, PSNR, MS-SSIM, times; BD-rates and RD plots."""
    from licodec.evaluation.evaluate import DEFAULT_ANCHORS, evaluate as run, parse_efforts, parse_qualities

    torch_threads()
    table = run(Path(dataset), models, parse_qualities(quality), tuple(b for b in baselines.split(",") if b),
                Path(anchors) if anchors else None, anchor_names or DEFAULT_ANCHORS, reference, Path(output),
                jobs, lambda line: click.echo(line, err=True), parse_efforts(efforts))
    click.echo(table)


@main.command()
@click.option("--model", "models", multiple=True,
              default=(*SHIPPED, "feds-student", "feds-teacher"), show_default=True,
              help="shipped model, .safetensors path, or feds-student / feds-teacher (random weights, paper size)")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--sizes", default="768x512", show_default=True, help="comma-separated WxH; the image is resized")
@click.option("--threads", default="1,2", show_default=True)
@click.option("-q", "--quality", default=4.0, show_default=True)
@click.option("--repeats", default=5, show_default=True, help="timed runs after one warm-up (median reported)")
@click.option("--baselines", default="jpeg,webp,avif,jxl", show_default=True)
@click.option("--compressai", "compressai_models", default="mbt2018-mean,cheng2020-anchor,elic2022-chandelier",
              show_default=True, help="CompressAI architectures to time (random weights); '' for none")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--cli-python", type=click.Path(exists=True, dir_okay=False), default=None,
              help="the Python whose `licodec` and `import torch` cold starts are timed (default: this one), "
                   "e.g. the user install's .venv/bin/python")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None, help="write bench.json and bench.md here")
def bench(models: tuple[str, ...], image: str, sizes: str, threads: str, quality: float, repeats: int,
          baselines: str, compressai_models: str, device: str, cli_python: str | None, output: str | None) -> None:
    """Parameters, MACs, encode/decode time split, peak memory and cold start; ratios last."""
    import json as json_module

    from licodec.evaluation.bench import markdown, run_bench

    try:
        size_list = [tuple(int(v) for v in s.split("x")) for s in sizes.split(",")]
        thread_list = tuple(int(t) for t in threads.split(","))
    except ValueError:
        raise LicodecError("--sizes takes WxH,WxH and --threads a list like 1,2") from None
    results = run_bench(models, Path(image), size_list, thread_list, quality, repeats,
                        tuple(b for b in baselines.split(",") if b), lambda line: click.echo(line, err=True), device,
                        tuple(m for m in compressai_models.split(",") if m), cli_python or sys.executable)
    report = markdown(results)
    if output:
        Path(output).mkdir(parents=True, exist_ok=True)
        (Path(output) / "bench.json").write_text(json_module.dumps(results, indent=1) + "\n")
        (Path(output) / "bench.md").write_text(report)
    click.echo(report)


def torch_threads() -> None:
    """Two threads: the measured machine has two cores, and more only adds contention."""
    import torch

    torch.set_num_threads(2)


def _training_options(command):
    """The options `train` and `distill` share."""
    options = [
        click.option("--arch", default=None, help="architecture: teacher, student, feds-teacher, feds-student"),
        click.option("--data", required=True, multiple=True, type=click.Path(exists=True, file_okay=False),
                     help="folder of training images (never the test sets); repeat it for more folders "
                          "(--holdout draws from the first only)"),
        click.option("--out", required=True, type=click.Path(file_okay=False),
                     help="run folder: checkpoint.pt, log.jsonl, weights.safetensors"),
        click.option("--steps", required=True, type=int),
        click.option("--patch", default=256, show_default=True, help="crop size, a multiple of 64"),
        click.option("--batch", default=8, show_default=True),
        click.option("--lr", default=2e-4, show_default=True, help="learning rate (÷10 after 85 % of --steps)"),
        click.option("--gain-lr", default=2e-3, show_default=True, help="learning rate of the gain units"),
        click.option("--level-weighting", type=click.Choice(["sqrt", "none"]), default="sqrt", show_default=True,
                     help="sqrt: each sample's RD loss ÷ √λ, so every quality level weighs about the same"),
        click.option("--batch-per-rank", is_flag=True,
                     help="under torchrun: --batch is each process's batch (global = batch × processes), "
                          "not the global batch"),
        click.option("--metric", type=click.Choice(["mse", "ms-ssim"]), default="mse", show_default=True,
                     help="distortion: λ·255²·MSE or λ·(1 − MS-SSIM), each with CompressAI's λ table"),
        click.option("--val", type=click.Path(exists=True, file_okay=False), default=None,
                     help="held-out images (e.g. kodak/) validated at q 1, 4, 8: bpp and PSNR in the log"),
        click.option("--val-every", default=0, show_default=True, help="steps between validations (0: at the end)"),
        click.option("--val-images", type=int, default=None, help="validate on the first N images only"),
        click.option("--holdout", default=0, show_default=True,
                     help="keep N images of --data out of training and validate on them at all 8 levels"),
        click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="start from these weights (same architecture) with a fresh optimiser"),
        click.option("--minutes", type=float, default=None,
                     help="wall-clock budget: stop after it, with a checkpoint and exported weights"),
        click.option("--log-every", default=1, show_default=True, help="log the mean of every N steps"),
        click.option("--ema", default=0.0, show_default=True, metavar="DECAY",
                     help="also keep a moving average of the weights (e.g. 0.999), validated and exported "
                          "beside them as OUT/weights-ema.safetensors; 0: none"),
        click.option("--compile", is_flag=True, help="torch.compile g_a and g_s (faster steps after a slow start)"),
        click.option("--compile-mode", type=click.Choice(["default", "reduce-overhead", "max-autotune-no-cudagraphs"]),
                     default="default", show_default=True, help="torch.compile's mode (reduce-overhead: CUDA graphs)"),
        click.option("--noise", type=click.Choice(["auto", "per-sample", "batch"]), default="auto", show_default=True,
                     help="the training noise: per sample (the same under any number of processes) or the batch's "
                          "from one generator on the device; auto: batch on one GPU process"),
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True),
        click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto",
                     show_default=True,
                     help="what g_a and g_s train in (the entropy model, losses and weights stay float32); "
                          "auto: bfloat16 on GPUs and on CPUs with bfloat16 instructions (AMX, AVX-512 BF16)"),
        click.option("--threads", default=2, show_default=True),
        click.option("--seed", default=0, show_default=True),
        click.option("--checkpoint-minutes", default=5.0, show_default=True),
        click.option("--resume", is_flag=True, help="continue from OUT/checkpoint.pt"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_training(strategy: str = "plain", teacher: str | None = None, derive_student: bool = False,
                  **options) -> None:
    from licodec.training.train import TrainOptions, train as run

    if options["arch"] is None:
        if not derive_student:
            raise LicodecError("--arch is required (or --derive-student with distill)")
        options["arch"] = "derived-student"
    val, init, data = options.pop("val"), options.pop("init"), [Path(d) for d in options.pop("data")]
    weights = run(TrainOptions(data=data[0], extra_data=tuple(data[1:]), out=Path(options.pop("out")), strategy=strategy,
                               teacher=teacher, derive_student=derive_student,
                               val=Path(val) if val else None, init=Path(init) if init else None, **options))
    click.echo(f"wrote {weights}")


@main.command()
@_training_options
def train(**options) -> None:
    """Rate-distortion training of one variable-rate model; writes OUT/weights.safetensors."""
    _run_training(**options)


@main.command()
@click.option("--teacher", required=True, metavar="WEIGHTS",
              help="the frozen teacher: a licodec .safetensors file, or compressai:ARCH:PATH for a CompressAI "
                   "checkpoint (bmshj2018-hyperprior, mbt2018-mean, mbt2018; FEDS only)")
@click.option("--strategy", type=click.Choice(["feds", "smodi", "plain"]), default="feds", show_default=True,
              help="feds: output + feature + entropy-ranked latent distillation in three phases; "
                   "smodi: stage-wise modular distillation into the frozen teacher, then end to end; "
                   "plain: the same student and steps without the teacher (the control)")
@click.option("--derive-student", is_flag=True,
              help="prune the student from the teacher (fewer blocks, smaller FFN and slice transforms; "
                   "same interfaces) and start it from the teacher's weights (KDIC), instead of --arch")
@_training_options
def distill(**options) -> None:
    """Train a student from a frozen teacher; writes OUT/weights.safetensors."""
    _run_training(**options)
