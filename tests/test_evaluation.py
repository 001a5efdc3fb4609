"""`licodec eval` and `licodec bench` on two tiny images: the results schema, BD-rates that are
right by construction, and a missing encoder that is skipped with a message."""
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from licodec import bdrate
from licodec.cli import main
from licodec.evaluation import codecs, rd

from conftest import kodak_image

ROOT = Path(__file__).parent.parent
SCHEMA_KEYS = {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}


@pytest.fixture
def two_images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, left in enumerate((100, 450)):  # 176×176 crops: small, yet large enough for MS-SSIM's 5 scales
        kodak_image(23).crop((left, 150, left + 176, 326)).save(folder / f"kodim{i:02d}.png")
    return folder


def _curve(bpp, psnr):
    return {"name": "x", "results": {"bpp": bpp, "psnr-rgb": psnr}}


def test_bd_rate_of_a_curve_against_itself_is_zero():
    curve = _curve([0.1, 0.2, 0.4, 0.8], [27.0, 29.5, 32.0, 34.5])
    result = bdrate.compare(curve, curve)
    assert abs(result["bd_rate"]) < 1e-9 and abs(result["bd_quality"]) < 1e-9 and result["overlap"] == 1.0


def test_bd_rate_of_rates_scaled_by_0_9_is_minus_ten_percent():
    curve = _curve([0.1, 0.2, 0.4, 0.8], [27.0, 29.5, 32.0, 34.5])
    cheaper = _curve([0.9 * b for b in curve["results"]["bpp"]], curve["results"]["psnr-rgb"])
    assert bdrate.compare(curve, cheaper)["bd_rate"] == pytest.approx(-10.0, abs=0.5)
    assert bdrate.compare(cheaper, curve)["bd_rate"] == pytest.approx(100 / 9, abs=0.5)


def test_curves_that_share_no_quality_range_have_no_bd_rate():
    assert bdrate.compare(_curve([0.1, 0.2, 0.4], [20.0, 22.0, 24.0]), _curve([1.0, 2.0, 3.0], [30.0, 32.0, 34.0])) is None


def test_a_curve_whose_quality_does_not_rise_with_rate_has_no_bd_rate():
    rising = _curve([0.1, 0.2, 0.4, 0.8], [27.0, 29.5, 32.0, 34.5])
    plateau = _curve([0.1, 0.2, 0.4, 0.8], [27.0, 29.5, 29.5, 34.5])
    assert bdrate.compare(rising, plateau) is None and bdrate.compare(plateau, rising) is None


def test_ms_ssim_in_db():
    curve = {"results": {"bpp": [0.1, 0.2], "ms-ssim-rgb": [0.9, 0.99]}}
    assert bdrate.distortion(curve, "ms-ssim-db") == pytest.approx([10.0, 20.0])


def test_eval_writes_schema_json_tables_and_plots_and_skips_a_missing_encoder(two_images, tmp_path, tiny_weights,
                                                                           monkeypatch):
    real_missing = codecs._missing
    monkeypatch.setattr(codecs, "_missing", lambda name: "jxl-encoder-here is not installed" if name == "jxl"
                        else real_missing(name))
    out = tmp_path / "results"
    args = ["eval", str(two_images), "--model", "student", "--quality", "1,4,8", "--baselines", "jpeg,webp,jxl",
            "--reference", "jpeg", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "skipping jxl: jxl-encoder-here is not installed" in result.output
    for name in ("licodec-student", "jpeg", "webp"):
        curve = json.loads((out / f"{name}.json").read_text())
        assert {"name", "description", "results"} <= set(curve) and set(curve["results"]) == SCHEMA_KEYS
        lengths = {len(v) for v in curve["results"].values()}
        assert lengths == {len(codecs.BASELINE_QUALITIES.get(name, (1, 4, 8)))}
        assert curve["results"]["bpp"] == sorted(curve["results"]["bpp"])
        assert all(0 < m <= 1 for m in curve["results"]["ms-ssim-rgb"])
        per_image = json.loads((out / "per-image" / f"{name}.json").read_text())
        assert len(per_image) == 2 * lengths.pop()
    assert not (out / "jxl.json").exists()
    rows = {r["codec"]: r for r in json.loads((out / "bd-rate.json").read_text())["rows"]}
    assert set(rows) == {"licodec-student", "webp"} and "| webp |" in (out / "bd-rate.md").read_text()
    assert (out / "rd-psnr.png").stat().st_size > 1000 and (out / "rd-ms-ssim.png").stat().st_size > 1000
    cached = sorted((out / "cache").rglob("*.json"))
    assert len(cached) == 2 * (3 + 8 + 7)
    first = (out / "licodec-student.json").read_text()
    again = CliRunner().invoke(main, args)  # resumes from the cache: nothing re-measured, same numbers
    assert again.exit_code == 0 and (out / "licodec-student.json").read_text() == first
    assert math.isfinite(rows["webp"]["psnr"]["bd_rate"])
    # A fresh clone has the results but not the cache: the committed per-image records are reused
    # where the weights are the same, and a model with other weights is measured anew.
    import shutil

    shutil.rmtree(out / "cache")
    monkeypatch.setattr(rd, "measure", lambda *a: pytest.fail("re-measured a committed result"))
    fresh = CliRunner().invoke(main, args)
    assert fresh.exit_code == 0, fresh.output
    assert "licodec-student: 6 measurements reused" in fresh.output
    assert (out / "licodec-student.json").read_text() == first
    (out / "licodec-student.json").write_text(first.replace('"content_hash": "', '"content_hash": "0'))
    shutil.rmtree(out / "cache")
    assert rd.seed_cache(codecs.learned("student", (1.0, 4.0, 8.0)), sorted(two_images.iterdir()), out) == 0
    # Results measured with g_a/g_s in another precision are measured anew too.
    (out / "licodec-student.json").write_text(first)
    monkeypatch.setenv("LICODEC_PRECISION", "bfloat16" if '"precision": "float32"' in first else "float32")
    assert rd.seed_cache(codecs.learned("student", (1.0, 4.0, 8.0)), sorted(two_images.iterdir()), out) == 0
    # And so are those measured with g_a/g_s on other kernels (fused or eager, licodec.models.fused).
    from licodec.models import fused

    monkeypatch.setenv("LICODEC_PRECISION", "float32" if '"precision": "float32"' in first else "bfloat16")
    assert rd.seed_cache(codecs.learned("student", (1.0, 4.0, 8.0)), sorted(two_images.iterdir()), out) > 0
    shutil.rmtree(out / "cache")
    real_kernels = fused.transform_kernels
    monkeypatch.setattr(fused, "transform_kernels", lambda: "eager" if '"kernels": "fused"' in first else "fused")
    assert rd.seed_cache(codecs.learned("student", (1.0, 4.0, 8.0)), sorted(two_images.iterdir()), out) == 0
    monkeypatch.setattr(fused, "transform_kernels", real_kernels)
    # And those from files of an older format (records without one are format 2's, before format 3).
    assert rd.seed_cache(codecs.learned("student", (1.0, 4.0, 8.0)), sorted(two_images.iterdir()), out) > 0
    shutil.rmtree(out / "cache")
    (out / "licodec-student.json").write_text(first.replace('"format": 3', '"format": 2'))
    assert '"format": 3' in first
    assert rd.seed_cache(codecs.learned("student", (1.0, 4.0, 8.0)), sorted(two_images.iterdir()), out) == 0


def test_eval_errors_are_one_line(two_images, tmp_path, tiny_weights):
    bad_quality = CliRunner().invoke(main, ["eval", str(two_images), "--quality", "x", "-o", str(tmp_path / "r")])
    assert bad_quality.exit_code == 1 and "--quality 'x'" in bad_quality.output
    no_reference = CliRunner().invoke(main, ["eval", str(two_images), "--model", "student", "--quality", "4",
                                             "--baselines", "", "-o", str(tmp_path / "r")])
    assert no_reference.exit_code == 1 and "reference 'vtm'" in no_reference.output



def test_eval_without_the_eval_extra_names_it(two_images, tmp_path, monkeypatch):
    import sys

    import licodec.evaluation

    for package, name in ((licodec, "bdrate"), (licodec.evaluation, "evaluate")):  # as if never imported
        monkeypatch.delitem(sys.modules, f"{package.__name__}.{name}", raising=False)
        monkeypatch.delattr(package, name, raising=False)
    monkeypatch.setitem(sys.modules, "bjontegaard", None)  # import fails as if not installed
    result = CliRunner().invoke(main, ["eval", str(two_images), "-o", str(tmp_path / "r")])
    assert result.exit_code == 1 and "pip install 'licodec[eval]'" in result.output
    assert "bjontegaard" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_bench_reports_parts_times_and_ratios(tmp_path, tiny_weights, photo, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a model given as a relative path names its files by the file name alone
    teacher = str((tiny_weights / "teacher.safetensors").relative_to(tmp_path))
    args = ["bench", "--image", str(photo), "--model", "student", "--model", teacher, "--sizes", "64x64",
            "--threads", "1", "--repeats", "1", "--baselines", "jpeg", "--compressai", "mbt2018-mean", "-o", str(tmp_path / "b")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b" / "bench.json").read_text())["sizes"]["64x64"]
    student = report["models"]["student"]
    parts = student["parameters"]
    assert parts["total"] == parts["g_a"] + parts["g_s"] + parts["hyperprior"] + parts["charm"]
    split = student["threads"]["1"]["encode"]
    assert split["total"] == pytest.approx(split["network"] + split["entropy"] + split["container_io"])
    assert split["entropy"] > 0 and student["macs_per_pixel"] > 0 and student["cli_decode"]["peak_rss_mb"] > 10
    assert f"{teacher} / student: parameters 1.00" in result.output.split("Ratios")[-1]
    recorded = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert recorded["import_torch"]["seconds"] > 0
    assert recorded["cpu_kind"] in ("AMX", "AVX-512 BF16", "no bfloat16 matrix instructions")
    assert f", {recorded['cpu_kind']})" in (tmp_path / "b" / "bench.md").read_text()  # which CPU kind ran it
    assert "cold CLI over `import torch`: encode +" in result.output.split("Ratios")[-1]


def test_readme_results_section_is_regenerated_from_the_results_files(tmp_path):
    from licodec.evaluation.readme import BEGIN, END, update

    (tmp_path / "roundtrip").mkdir()
    (tmp_path / "roundtrip" / "sweep.md").write_text("| model | q |\n|---|---|\n| student | 1 |\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n## Results\n\n{BEGIN}\nold hand-typed 99.9 dB\n{END}\n\n## Layout\n")
    update(readme, tmp_path)
    text = readme.read_text()
    assert "99.9" not in text and "| student | 1 |" in text
    assert text.startswith("# x\n\n## Results\n\n") and text.endswith(f"{END}\n\n## Layout\n")


def test_readme_shows_the_effort_subsets_with_the_commands_that_made_them(tmp_path):
    from licodec.evaluation.readme import section

    effort = tmp_path / "effort"
    (effort / "kodak").mkdir(parents=True)
    (effort / "kodak" / "effort.md").write_text("| effort | full Kodak |\n")
    (effort / "kodak-q8-equal-bpp").mkdir()
    (effort / "kodak-q8-equal-bpp" / "top-level.md").write_text("| effort | at equal bpp |\n")
    (effort / "kodak-q8-equal-bpp" / "COMMAND").write_text("licodec eval SUBSET --effort 4")
    text = section(tmp_path)
    assert text.index("full Kodak") < text.index("Made by `licodec eval SUBSET --effort 4`.") < text.index(
        "at equal bpp")
    assert "wikipedia photos" not in text  # no table, no heading


def test_readme_marks_figures_measured_with_an_earlier_shipped_file(tmp_path):
    from licodec.evaluation.readme import section

    def curve(name, weights, content_hash):
        meta = {"qualities": [1.0], "images": 1, "weights": weights, "content_hash": content_hash}
        results = {m: [1.0] for m in ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")}
        return json.dumps({"name": name, "meta": meta, "results": results})

    kodak = tmp_path / "kodak"
    kodak.mkdir()
    (kodak / "bd-rate.md").write_text("| codec | BD-rate |\n")
    (kodak / "licodec-student.json").write_text(curve("licodec-student", "student.safetensors", "aa" * 32))
    (kodak / "licodec-teacher.json").write_text(curve("licodec-teacher", "teacher.safetensors", "cc" * 32))
    (kodak / "licodec-mine.json").write_text(curve("licodec-mine", "mine.safetensors", "dd" * 32))
    shipped = {"student.safetensors": "bb" * 32, "teacher.safetensors": "cc" * 32}
    text = section(tmp_path, shipped)
    assert "**Measured with an earlier student** (model aaaaaaaa; the shipped student is now bbbbbbbb): " \
           "`licodec-student` shows" in text
    assert "earlier teacher" not in text and "earlier mine" not in text  # current, or not a shipped file
    assert "earlier" not in section(tmp_path, {**shipped, "student.safetensors": "aa" * 32})


def test_top_level_table_reads_an_effort_at_another_quality(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("effort_top_level", ROOT / "scripts" / "effort_top_level.py")
    top_level = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(top_level)

    def write(name, rows):
        (tmp_path / name).write_text(json.dumps([{"image": "a.png", "quality": q, "bpp": b, "psnr-rgb": p,
                                                  "encoding_time": 1.0} for q, b, p in rows]))

    write("licodec-student.json", [(8.0, 1.0, 33.0)])
    write("licodec-student-e4.json", [(8.0, 1.02, 33.6), (7.90625, 0.99, 33.55)])
    rows = top_level.table(top_level.records([tmp_path], 8.0, {4: 7.90625}), 8.0, {4: 7.90625}).splitlines()
    assert rows[0].startswith("q8; effort 4 at q7.90625 on 1 images")
    assert rows[-1] == "| 4 | 0.990 | 33.55 | +0.55 dB | -1.0 % | 1.0 |"
    assert top_level.effort_at("4=7.5") == (4, 7.5)


def test_effort_table_gives_each_efforts_saving_against_effort_zero(tmp_path):
    import json

    from licodec.evaluation.effort_table import table

    def curve(name, bpp, meta):
        psnr = [28.0, 30.0, 32.0, 34.0]
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"name": name, "meta": meta, "results": {"bpp": bpp, "psnr-rgb": psnr}}))
        records = [{"image": "a.png", "encoding_time": t} for t in (1.0, 3.0, 2.0)]
        (tmp_path / "per-image").mkdir(exist_ok=True)
        (tmp_path / "per-image" / f"{name}.json").write_text(json.dumps(records))

    curve("licodec-student", [0.2, 0.4, 0.8, 1.6], {})
    curve("licodec-student-e2", [0.18, 0.36, 0.72, 1.44], {"refinement": "50 iterations"})
    (tmp_path / "bd-rate.json").write_text(json.dumps({"reference": "vtm", "rows": [
        {"codec": "licodec-student", "psnr": {"bd_rate": 80.0}},
        {"codec": "licodec-student-e2", "psnr": {"bd_rate": 62.0}}]}))
    rows = table(tmp_path).splitlines()
    assert rows[2].startswith("| 0 | none") and "+80.00 %" in rows[2]
    assert rows[3].startswith("| 2 | 50 iterations | -10.00 % | +62.00 % | 1.440 / 34.00 | 2.0 |")


def test_readme_says_the_highest_psnr_each_model_reaches_per_test_set(tmp_path):
    from licodec.evaluation.readme import section

    kodak = tmp_path / "kodak"
    (kodak / "per-image").mkdir(parents=True)
    (kodak / "bd-rate.md").write_text("| codec | BD-rate |\n")
    meta = {"qualities": [1.0, 8.0], "images": 2}
    results = {"bpp": [0.2, 1.0], "psnr-rgb": [28.0, 33.5], "ms-ssim-rgb": [0.9, 0.99], "encoding_time": [0.1, 0.1],
               "decoding_time": [0.1, 0.1]}
    (kodak / "licodec-student.json").write_text(json.dumps({"name": "licodec-student", "meta": meta,
                                                            "results": results}))
    per_image = [{"image": f"{i}.png", "quality": q, "psnr-rgb": p} for i, (q, p) in
                 enumerate([(8.0, 31.0), (8.0, 36.0), (1.0, 40.0)])]
    (kodak / "per-image" / "licodec-student.json").write_text(json.dumps(per_image))
    assert "licodec-student: at most 33.50 dB on average, at q8 (per image 31.00 to 36.00 dB)" in section(tmp_path, {})
