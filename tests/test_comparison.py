"""The distillation comparison's report: BD-rates against the teacher and the control, at the
same step and at the same CPU hours, from constructed validation records."""
import json

import pytest

from licodec.training.comparison import interpolate, plot, report_rows, summary, table, validations


def _val(rate_factor: float) -> dict:
    """A validation whose rates are the reference's × rate_factor at the same PSNRs."""
    return {f"q{i}": {"bpp": round(0.2 * i * rate_factor, 6), "psnr": 26.0 + i} for i in range(1, 9)}


def _log(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_a_plateau_is_cut_to_the_pareto_front():
    from licodec.bdrate import pareto_front

    plateau = {"results": {"bpp": [0.1, 0.2, 0.3, 0.4], "psnr-rgb": [20.0, 21.0, 20.9, 21.5]}}
    assert pareto_front(plateau)["results"] == {"bpp": [0.1, 0.2, 0.4], "psnr-rgb": [20.0, 21.0, 21.5]}


def test_interpolate_on_a_polyline():
    points = [(1.0, 10.0), (2.0, 20.0), (4.0, 0.0)]
    assert interpolate(points, 1.5) == pytest.approx(15.0) and interpolate(points, 3.0) == pytest.approx(10.0)
    assert interpolate(points, 0.5) is None and interpolate(points, 5.0) is None


def test_rows_compare_with_the_teacher_and_the_control_at_equal_steps_and_hours(tmp_path):
    teacher = {"val": _val(1.0)}
    _log(tmp_path / "plain.jsonl", [{"step": 1000, "batch": 8, "cpu_seconds": 3600, "val": _val(1.2)},
                                    {"step": 2000, "batch": 8, "cpu_seconds": 7200, "val": _val(1.1)}])
    _log(tmp_path / "feds.jsonl", [{"step": 1000, "batch": 8, "cpu_seconds": 7200, "val": _val(1.1)}])
    arms = {name: validations(tmp_path / f"{name}.jsonl") for name in ("plain", "feds")}
    rows = {(r["arm"], r["step"]): r for r in report_rows(teacher, arms, "plain")}
    feds = rows[("feds", 1000)]
    assert feds["crops"] == 8000 and feds["cpu_hours"] == 2.0
    assert feds["vs_teacher"] == pytest.approx(10.0, abs=0.01)  # 10 % more bits at every PSNR
    assert feds["psnr_vs_teacher"] < 0
    assert feds["vs_control_step"] == pytest.approx(100 * (1.1 / 1.2 - 1), abs=0.01)  # ahead per step
    assert feds["db_vs_control_step"] > 0
    assert feds["vs_control_hours"] == pytest.approx(0.0, abs=0.01)  # the control reached it in the same hours
    assert rows[("plain", 1000)]["vs_control_step"] == pytest.approx(0.0, abs=1e-6)
    assert "| feds | 1000 | 8.0 | 2.00 |" in table(list(rows.values()))
    assert "| feds | 1000 | 2.00 | +10.00 % |" in summary(list(rows.values()))
    plot(list(rows.values()), tmp_path / "comparison.png")
    assert (tmp_path / "comparison.png").stat().st_size > 0


def test_the_held_out_images_as_a_folder_are_those_training_leaves_out(train_folder, tmp_path):
    from licodec.training.comparison import link_holdout
    from licodec.training.data import split_holdout

    link_holdout(train_folder, 1, tmp_path / "held")
    held = sorted((tmp_path / "held").iterdir())
    assert [p.name for p in held] == [p.name for p in split_holdout(train_folder, 1)[1]]
    assert held[0].read_bytes() == (train_folder / held[0].name).read_bytes()
