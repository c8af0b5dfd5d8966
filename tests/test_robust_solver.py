"""Issue 8, item 2: every HiGHS return code is checked; numbers HiGHS cannot hold are refused.

Each test here failed on the code before the fix: passModel's error was ignored and the
empty model it left was reported "optimal"; setOptionValue errors were dropped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from click.testing import CliRunner

import optimizer
from optimizer.cli import main
from optimizer.errors import InstanceValidationError, InvalidOptionError, SolverCallError
from optimizer.solver import highs as hs
from optimizer.solver.highs import SolveOptions, Status, Termination

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
KEEP_B = 2340.0  # tiny's optimum, worked by hand in instances/tiny/README


def _tiny(tmp_path: Path) -> Path:
    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    return d


def _edit_csv(path: Path, row: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_check_call_raises_on_error_and_passes_ok() -> None:
    h = highspy.Highs()
    with pytest.raises(SolverCallError, match="option nope"):
        hs.check_call(h.setOptionValue("nope", 1), "option nope")
    hs.check_call(h.setOptionValue("output_flag", False), "option output_flag")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"seed": 2**32}, "seed must be an integer from 0 to 2147483647"),
    ({"threads": 2000}, "threads must be an integer from 1 to 256"),
    ({"mip_gap": 2.0}, "mip_gap"),
    ({"time_limit": -1.0}, "time_limit"),
])
def test_options_out_of_range_are_refused_before_the_solve(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidOptionError, match=match):
        optimizer.solve(TINY, **kwargs)


def test_apply_options_refuses_unknown_highs_option() -> None:
    h = highspy.Highs()
    with pytest.raises(InvalidOptionError, match="no_such_option"):
        hs.apply_options(h, SolveOptions(highs_options={"no_such_option": 1}))
    with pytest.raises(InvalidOptionError, match="random_seed"):
        hs.apply_options(h, SolveOptions(highs_options={"random_seed": 2**32}))


@pytest.mark.parametrize(("args", "match"), [
    (["--seed", str(2**32)], "--seed"),
    (["--threads", "2000"], "--threads"),
])
def test_cli_options_out_of_range_exit_2(args: list[str], match: str) -> None:
    r = CliRunner().invoke(main, ["solve", str(TINY), *args])
    assert r.exit_code == 2 and match in r.output


def test_matrix_value_too_large_is_error_not_optimal() -> None:
    """A coefficient of 1e16 (HiGHS refuses >= 1e15): before, the refused model was solved as empty, 'optimal'."""
    built = optimizer.build(TINY)
    m = built.model
    m.huge = pyo.Constraint(expr=1e16 * m.z["A"] + 1e16 * m.z["B"] <= 2e16)
    res = optimizer.solve(built)
    assert res.status is Status.ERROR
    assert "cannot represent" in res.message and "1e+16" in res.message


def test_passmodel_error_is_reported_even_without_the_precheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hs, "check_representable", lambda *a, **k: None)
    built = optimizer.build(TINY)
    m = built.model
    m.huge = pyo.Constraint(expr=1e16 * m.z["A"] <= 1e16)
    res = optimizer.solve(built)
    assert res.status is Status.ERROR and res.report.termination is Termination.ERROR
    assert "passModel" in res.message
    assert res.objective is None


def test_bound_at_highs_infinity_is_error() -> None:
    """A finite bound of 1e20 is read by HiGHS as 'no bound': refused rather than silently dropped."""
    built = optimizer.build(TINY)
    m = built.model
    m.big = pyo.Constraint(expr=m.z["A"] + m.z["B"] >= -1e21)
    res = optimizer.solve(built)
    assert res.status is Status.ERROR and "constraint bound" in res.message


def test_check_representable_names_the_number() -> None:
    z = np.zeros(1)
    assert hs.check_representable(z, z, np.ones(1), z, z, np.array([1e15])) is not None
    assert hs.check_representable(z, z, np.ones(1), z, z, np.array([1e14])) is None
    assert "NaN" in hs.check_representable(np.array([np.nan]), z, np.ones(1), z, z, np.ones(1))


def test_truly_empty_model_is_optimal_with_its_constant() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.x.fix(1)
    m.o = pyo.Objective(expr=m.x + 1, sense=pyo.maximize)
    rep = hs.solve_direct(m, SolveOptions())
    assert rep.status is Status.OPTIMAL and rep.objective == pytest.approx(2.0)


def test_error_report_always_has_a_message() -> None:
    rep = hs.error_report("")
    assert rep.status is Status.ERROR and rep.message


@pytest.mark.parametrize(("table", "row", "column", "value"), [
    ("plants.csv", 2, "capacity", "1e16"),
    ("plants.csv", 2, "headcount", "1e16"),
    ("plants.csv", 2, "closure_cost", "1e20"),
    ("demand.csv", 2, "price", "1e300"),
    ("demand.csv", 2, "max_units", "1e16"),
])
def test_numbers_beyond_the_solver_are_input_errors(tmp_path: Path, table: str, row: int, column: str,
                                                     value: str) -> None:
    d = _tiny(tmp_path)
    _edit_csv(d / table, row, column, value)
    with pytest.raises(InstanceValidationError) as ei:
        optimizer.solve(d)
    (p,) = ei.value.problems
    assert p.where == table and p.column == column and p.row == row
    assert "1e+12" in p.message and "HiGHS" in p.message


@pytest.mark.parametrize(("text", "key"), [
    ("plants_kept: {min: 100000000000000000000}\n", "plants_kept.min"),
    ("min_jobs_cut: 1.0e20\n", "min_jobs_cut"),
    ("solver: {seed: 4294967296}\n", "solver.seed"),
    ("solver: {threads: 2000}\n", "solver.threads"),
])
def test_settings_beyond_the_solver_exit_2(tmp_path: Path, text: str, key: str) -> None:
    d = _tiny(tmp_path)
    y = (d / "instance.yaml").read_text().replace("plants_kept: {max: 1}\n", "")
    (d / "instance.yaml").write_text(y + text)
    r = CliRunner().invoke(main, ["solve", str(d)])
    assert r.exit_code == 2, r.output
    assert key in r.output and "instance.yaml" in r.output


def test_a_capacity_just_below_the_limit_still_solves(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _edit_csv(d / "plants.csv", 2, "capacity", "1e12")
    res = optimizer.solve(d, mip_gap=1e-9)
    assert res.status is Status.OPTIMAL and res.objective == pytest.approx(KEEP_B)
