"""Many files in one command: output names, one job per file, worker processes, per-file
errors that let the others go on, and a summary.

    inputs ─► plan (names, refusals before any work) ─► run (in-process, or -j N workers that
    load the model once each) ─► one Outcome per file ─► report lines, summary, exit status

The per-file functions run in worker processes, so they take plain, picklable settings and
return their warnings instead of printing them.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from licodec import container, latent_stream, weights
from licodec.errors import LicodecError, LicodecWarning
from licodec.files import check_output, make_folder, os_reason, read_input, write_output
from licodec.images import FORMATS_WITHOUT_ALPHA, LOSSY_FORMATS, open_image, output_format, save_image
from licodec.threads import use_threads



@dataclass(frozen=True)
class Job:
    source: str  # a path, or - for standard input
    target: str  # a path, or - for standard output


@dataclass
class Outcome:
    job: Job
    error: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    pixels: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth saying unless --quiet, e.g. the quality coded
    detail: str = ""  # the -v line: quality, bpp


def plan(inputs: Sequence[str], output: str | None, suffix: str) -> list[Job]:
    """One job per input. OUT is a file for one input, a directory for several (or when it is a
    directory or ends with /, which creates it), and absent means beside each input with
    `suffix` (like cwebp)."""
    if "-" in inputs and len(inputs) > 1:
        raise LicodecError("- (standard input) takes no other inputs")
    if output == "-" and len(inputs) > 1:
        raise LicodecError("-o - (standard output) takes one input")
    if output is None:
        if inputs[0] == "-":
            raise LicodecError("give -o OUT (a file, or - for standard output) when reading standard input")
        targets = [str(Path(source).with_suffix(suffix)) for source in inputs]
    elif len(inputs) > 1 or output.endswith("/") or Path(output).is_dir():
        if output.endswith("/"):
            make_folder(output)  # `-o lic/` says "a folder": made, as mkdir would (its parent must exist)
        elif not Path(output).is_dir():
            raise LicodecError(f"output directory {output} does not exist (end it with / to create it)")
        if inputs[0] == "-":
            raise LicodecError("standard input has no name: give -o FILE")
        targets = [str(Path(output) / (Path(source).stem + suffix)) for source in inputs]
    else:
        targets = [output]
    clashes = sorted({t for t in targets if targets.count(t) > 1})
    if clashes:
        raise LicodecError(f"two inputs would both be written to {clashes[0]}")
    same = [job for job in zip(inputs, targets) if job[0] != "-" and Path(job[0]).resolve() == Path(job[1]).resolve()]
    if same:
        raise LicodecError(f"{same[0][0]}: the output would overwrite the input")
    return [Job(source, target) for source, target in zip(inputs, targets)]


def run(jobs: list[Job], work: Callable[[Job], Outcome], workers: int, threads: int) -> Iterator[Outcome]:
    """The outcomes as they finish: in this process, or in `workers` processes, each running
    the networks on `threads` threads (licodec.threads)."""
    if workers <= 1 or len(jobs) == 1:
        use_threads(threads)
        yield from map(work, jobs)
        return
    # spawn, not fork: a forked torch can deadlock in its thread pools.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=use_threads, initargs=(threads,)) as pool:
        futures: list[Future] = [pool.submit(work, job) for job in jobs]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _attempt(job: Job, body: Callable[[Outcome], None]) -> Outcome:
    """Run one file's work: its LicodecError becomes the outcome's error, its LicodecWarnings
    the outcome's warnings (printed by the parent process, in order)."""
    outcome, began = Outcome(job), time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LicodecWarning)
        try:
            body(outcome)
        except LicodecError as e:
            outcome.error = str(e)
        except MemoryError:
            outcome.error = "out of memory (image too large?)"
        except BrokenPipeError:  # standard output's reader left: the command's SIGPIPE status, not this file's
            raise
        except OSError as e:  # the disk, not the file: ENOSPC, EIO, EACCES where it was not foreseen
            outcome.error = f"{e.filename}: {os_reason(e)}" if e.filename else os_reason(e)
    for warning in caught:
        if issubclass(warning.category, LicodecWarning):
            outcome.warnings.append(str(warning.message))
        else:  # not ours: pass it on as it came
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    outcome.seconds = time.perf_counter() - began
    return outcome


@dataclass(frozen=True)
class EncodeSettings:
    quality: float
    model: str
    device: str
    force: bool
    target: object | None = None  # a rate_control.Target, or None for a fixed quality
    keep_metadata: bool = True  # ICC profile and EXIF
    effort: int = 0  # licodec.effort
    show_progress: bool = False  # a bar over the refinement iterations on stderr (one file, in-process)
    best_effort: bool = False  # a rate target out of reach: write the nearest file and warn, not fail


def encode_file(settings: EncodeSettings, job: Job) -> Outcome:
    def body(outcome: Outcome) -> None:
        check_output(job.target, settings.force)
        if job.source == "-":
            data = read_input("-")
            outcome.bytes_in, image = len(data), open_image(io.BytesIO(data))
        else:  # opened by name, so that its errors name the file
            image = open_image(job.source)
            outcome.bytes_in = os.path.getsize(job.source)
        with _refinement_bar(settings.show_progress and settings.effort > 0) as progress:
            lic, quality = _encode_image(settings, image, outcome, progress)
        write_output(job.target, settings.force, lambda f: f.write(lic))
        outcome.bytes_out, outcome.pixels = len(lic), image.width * image.height
        outcome.detail = f"quality {quality:g}, {8 * len(lic) / outcome.pixels:.4f} bpp"

    return _attempt(job, body)


def _encode_image(settings: EncodeSettings, image, outcome: Outcome,
                  progress: Callable[[int, int], None] | None) -> tuple[bytes, float]:
    """The .lic bytes and the quality coded; a note (or a warning) when it is not the one asked."""
    from licodec import api  # torch: only once the input is known to be good

    if settings.target is None:
        lic = api.encode(image, quality=settings.quality, model=settings.model, device=settings.device,
                         keep_metadata=settings.keep_metadata, effort=settings.effort, progress=progress)
        quality = container.quantize_quality(float(settings.quality))  # what api.encode coded
        if quality != float(settings.quality):
            outcome.notes.append(f"coded at quality {quality:g} (qualities are steps of 1/32)")
        return lic, quality
    result = api.encode_to_target(image, settings.target, settings.model, settings.device,
                                  settings.keep_metadata, settings.effort, progress)
    if result.met:
        outcome.notes.append(f"coded at quality {result.quality:g}")
    elif settings.best_effort:
        outcome.warnings.append(f"coded at quality {result.quality:g}: {_unmet(settings.target, result)}")
    else:  # a script that caps a size must not see success: nothing written, exit 1
        raise LicodecError(f"{settings.target.describe()} is out of reach: {_unmet(settings.target, result)} "
                           "(--best-effort writes that file)")
    return result.data, result.quality


def _unmet(target, result) -> str:
    """What the model reaches instead of an unmet target (the nearest end of its range)."""
    if target.kind == "psnr":
        return f"this model reaches at most {result.measured:.2f} dB on this image (quality {result.quality:g})"
    return f"the smallest file this model makes of it is {result.measured:.0f} bytes (quality {result.quality:g})"


@contextmanager
def _refinement_bar(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a tqdm bar on stderr, or None when not shown."""
    if not show:
        yield None
        return
    from tqdm import tqdm

    with tqdm(file=sys.stderr, unit="it", desc="refining", leave=False) as bar:
        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.reset(total)
            bar.n = done
            bar.refresh()
        yield progress


@dataclass(frozen=True)
class DecodeSettings:
    image_format: str | None  # None: from each output's extension
    quality: int | None  # for lossy output formats
    model: str | None
    device: str
    force: bool
    max_pixels: int | None = None  # None: container.pixel_limit's default


def decode_file(settings: DecodeSettings, job: Job) -> Outcome:
    def body(outcome: Outcome) -> None:
        image_format = settings.image_format or output_format(job.target)
        check_output(job.target, settings.force)
        data = read_input(job.source)
        outcome.bytes_in = len(data)
        # Damaged, crafted or too large files fail fast, before torch and the model load.
        header, stream, digests = container.unpack(data)
        container.check_pixels(header, settings.max_pixels)
        info = weights.find_by_id(header.model_id, [weights.resolve(settings.model)] if settings.model else [])
        latent_stream.precheck(stream, header.height, header.width, weights.read_z_tables(info), digests.z)
        from licodec import api

        image = api.decode(data, model=settings.model, device=settings.device, max_pixels=settings.max_pixels)
        if image_format in LOSSY_FORMATS:
            outcome.warnings.append(f"{image_format} output re-compresses the decoded image"
                                    + ("" if settings.quality is None else f" (quality {settings.quality})"))
        if image.mode.endswith("A") and image_format in FORMATS_WITHOUT_ALPHA:
            outcome.warnings.append(f"{image_format} has no alpha channel: transparency dropped")
            image = image.convert(image.mode[:-1])
        buffer = io.BytesIO()
        save_image(image, buffer, image_format, settings.quality)
        write_output(job.target, settings.force, lambda f: f.write(buffer.getvalue()))
        outcome.bytes_out, outcome.pixels = len(buffer.getvalue()), image.width * image.height
        outcome.detail = f"{image.width}x{image.height} {image_format}"

    return _attempt(job, body)


def summary(verb: str, outcomes: list[Outcome], seconds: float) -> str:
    done = [o for o in outcomes if o.error is None]
    pixels = sum(o.pixels for o in done)
    bits = 8 * sum(o.bytes_out if verb == "encoded" else o.bytes_in for o in done)
    rate = f", {bits / pixels:.4f} bpp" if pixels else ""
    failed = len(outcomes) - len(done)
    return (f"{verb} {len(done)} of {len(outcomes)} files{f' ({failed} failed)' if failed else ''}: "
            f"{sum(o.bytes_in for o in done)} bytes in, {sum(o.bytes_out for o in done)} bytes out{rate}, "
            f"{seconds:.1f} s")
