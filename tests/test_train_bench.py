"""The training-speed benchmark times the real training step in a fresh process, and reports a
failed configuration in its row instead of stopping."""
import pytest

from licodec.evaluation.train_bench import Case, markdown, run, training_flops_per_crop


def test_the_benchmark_times_steps_and_reports_ratios_and_failures(train_folder):
    cases = [Case("student", "float32", False, 1, 1, 1), Case("student", "bfloat16", False, 1, 1, 1),
             Case("student", "float8", False, 1, 1, 1)]
    results = run(cases, train_folder, 64, steps=2, warmup=1, device="cpu", report=lambda line: None, profile=True)
    good, fast, broken = results["rows"]
    assert good["step_seconds"] > 0 and good["crops_per_second"] == 1 / good["step_seconds"]
    # approx: x / 1e12 * 1e12 need not give x back in floating point
    assert good["tflops"] * 1e12 == pytest.approx(results["flops_per_crop"]["student"] * good["crops_per_second"])
    assert "step_seconds" in fast and "unknown precision" in broken["error"]
    table = markdown(results)
    assert "| student | float32 | eager | 1 × 1 |" in table and "| 1.00 |" in table and "failed" in table
    assert "profile" not in good and "convolution" in fast["profile"] and "Where one step" in table
    assert set(results["peak"]) == {"matmul float32", "conv float32", "matmul bfloat16", "conv bfloat16"}
    assert f"{results['cpu']}, {results['cpu_kind']}," in table  # which CPU kind ran it
    assert "bfloat16 / float32 =" in table


def test_flops_per_crop_grow_with_the_crop_area():
    assert 3.9 < training_flops_per_crop("student", 128) / training_flops_per_crop("student", 64) < 4.1
