"""The `licodec` subcommands for making and measuring models: train, distill, export, eval,
bench. Parsing only, as in licodec.cli, which registers them; the work is in licodec.training
and licodec.evaluation, imported inside each command (torch with them).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from licodec.cli_params import complete_files
from licodec.errors import LicodecError
from licodec.files import read_input, write_output
from licodec.weights import SHIPPED


@click.command()
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


@click.command(name="eval")
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
    try:
        from licodec.evaluation.evaluate import DEFAULT_ANCHORS, evaluate as run, parse_efforts, parse_qualities
    except ModuleNotFoundError as e:
        if (e.name or "").startswith("licodec"):
            raise
        raise LicodecError(f"licodec eval needs {e.name}, from the eval extra: "
                           "pip install 'licodec[eval]'") from None

    torch_threads()
    table = run(Path(dataset), models, parse_qualities(quality), tuple(b for b in baselines.split(",") if b),
                Path(anchors) if anchors else None, anchor_names or DEFAULT_ANCHORS, reference, Path(output),
                jobs, lambda line: click.echo(line, err=True), parse_efforts(efforts))
    click.echo(table)


@click.command()
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
        click.option("--arch", default=None, help="architecture: teacher, student, fast, feds-teacher, feds-student"),
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
        click.option("--anneal-at", type=click.IntRange(min=0), default=None, metavar="STEP",
                     help="divide the learning rates by 10 from this step on, instead of after 85 % of --steps "
                          "(a leg that stops before --steps still anneals)"),
        click.option("--anneal-minutes", type=float, default=None, metavar="M",
                     help="run the last M minutes of --minutes at the learning rates ÷ 10: a wall-clock leg "
                          "ends annealed"),
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
        click.option("--init-ema", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="start the moving average from these weights (a previous leg's weights-ema), "
                          "so that legs begun with --init carry it on"),
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
    from licodec.training.options import TrainOptions
    from licodec.training.train import DERIVED_ARCH, train as run

    if options["arch"] is None:
        if not derive_student:
            raise LicodecError("--arch is required (or --derive-student with distill)")
        options["arch"] = DERIVED_ARCH
    paths = {name: Path(value) if (value := options.pop(name)) else None for name in ("val", "init", "init_ema")}
    data = [Path(d) for d in options.pop("data")]
    weights = run(TrainOptions(data=data[0], extra_data=tuple(data[1:]), out=Path(options.pop("out")), strategy=strategy,
                               teacher=teacher, derive_student=derive_student, **paths, **options))
    click.echo(f"wrote {weights}")


def _feds_weights(ctx: click.Context, param: click.Parameter, text: str | None) -> tuple[float, ...] | None:
    """--feds-weights A,B,G as three numbers, or a usage error."""
    if text is None:
        return None
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: three numbers, e.g. 1,0.5,0") from None
    if len(weights) != 3 or min(weights) < 0:
        raise click.BadParameter(f"{text!r}: three weights of 0 or more (output, feature, latent)")
    return weights


@click.command()
@_training_options
def train(**options) -> None:
    """Rate-distortion training of one variable-rate model; writes OUT/weights.safetensors."""
    _run_training(**options)


@click.command()
@click.option("--teacher", required=True, metavar="WEIGHTS",
              help="the frozen teacher: a licodec .safetensors file, or compressai:ARCH:PATH for a CompressAI "
                   "checkpoint (bmshj2018-hyperprior, mbt2018-mean, mbt2018; FEDS only)")
@click.option("--strategy", type=click.Choice(["feds", "smodi", "plain"]), default="feds", show_default=True,
              help="feds: output + feature + entropy-ranked latent distillation in three phases; "
                   "smodi: stage-wise modular distillation into the frozen teacher, then end to end; "
                   "plain: the same student and steps without the teacher (the control)")
@click.option("--derive-student", is_flag=True,
              help="start the student from the teacher's weights (KDIC): with --arch, that architecture pruned "
                   "from them (each layer's channels that send the most energy downstream); without, a config "
                   "derived from the teacher's (fewer blocks, smaller FFN and slice transforms; same interfaces)")
@click.option("--feds-weights", default=None, metavar="A,B,G", callback=_feds_weights,
              help="FEDS's weights of the output, feature and latent terms (default 1,0.5,0.5); a 0 leaves a term "
                   "out, for ablations")
@_training_options
def distill(**options) -> None:
    """Train a student from a frozen teacher; writes OUT/weights.safetensors."""
    _run_training(**options)


RESEARCH_COMMANDS = (train, distill, export, evaluate, bench)
