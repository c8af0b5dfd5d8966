"""The Python API: load, build (and extend), solve, results, MIP start, statuses.

Hand calculation for instances/tiny (H = 1, r = 0, at most one plant kept):
- keep B (CN): duty to JP (CN, JP, BEV) = 0.2 * (100 + 8) = 21.6, margin 100 - 40 - 8 - 21.6 = 30.4;
  duty to TH (*, TH, *) = 0.1 * (90 + 6) = 9.6, margin 90 - 40 - 6 - 9.6 = 34.4; capacity 100:
  TH 50 units first, JP 50: 50 * 34.4 + 50 * 30.4 = 3240; minus fixed 400, minus A's closure 500 = 2340.
- keep A (JP): JP domestic margin 35 * 80 = 2800; TH margin 90 - 60 - 10 - 0.1 * (90 + 10) = 10, 20 units = 200;
  3000 - 1000 - B's closure 2000 = 0.
- keep none: -500 - 2000 = -2500.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import optimizer
from optimizer.solver.highs import HIGHS_STATUS_MAP, Status, Termination, derive_status

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"
KEEP_B, KEEP_A = 2340.0, 0.0


def test_public_api_is_curated() -> None:
    assert sorted(optimizer.__all__) == sorted(set(optimizer.__all__))
    for name in optimizer.__all__:
        assert hasattr(optimizer, name), name
    for name in ("load", "solve", "build", "Result", "Status", "InstanceError", "NoSolutionError"):
        assert name in optimizer.__all__


def test_solve_path_hand_optimum() -> None:
    res = optimizer.solve(TINY, mip_gap=1e-9)
    assert res.status is Status.OPTIMAL
    assert res.objective == pytest.approx(KEEP_B, abs=1e-6)
    assert res.gap == pytest.approx(0.0, abs=1e-9)
    assert res.kpis["plants_kept"] == 1 and res.kpis["closed_plants"] == ["A"]
    assert res.kpis["jobs_cut"] == 50


def test_result_tables_match_hand_calculation() -> None:
    res = optimizer.solve(TINY)
    fl = res.flows.set_index("market")
    assert fl.loc["TH", "units"] == pytest.approx(50) and fl.loc["JP", "units"] == pytest.approx(50)
    assert fl.loc["JP", "duty"] == pytest.approx(21.6) and fl.loc["TH", "margin"] == pytest.approx(34.4)
    sales = res.sales.set_index("market")
    assert sales.loc["JP", "unmet"] == pytest.approx(30) and sales.loc["TH", "unmet"] == pytest.approx(0)
    plants = res.plants.set_index("plant")
    assert plants.loc["B", "utilisation"] == pytest.approx(1.0)
    assert plants.loc["A", "closure_cost"] == 500 and plants.loc["B", "fixed_cost_annual"] == 400
    bd = res.breakdown.set_index("component")["npv"]
    assert bd["revenue"] == pytest.approx(50 * 100 + 50 * 90)
    assert bd["duties"] == pytest.approx(-(50 * 21.6 + 50 * 9.6))
    assert bd["closure"] == pytest.approx(-500)
    assert bd.drop("npv").sum() == pytest.approx(res.objective)
    assert bd["npv"] == pytest.approx(res.objective)


def test_solve_instance_object_and_both_interfaces() -> None:
    inst = optimizer.load(TINY)
    assert isinstance(inst, optimizer.Instance)
    direct = optimizer.solve(inst, interface="direct")
    via_pyomo = optimizer.solve(inst, interface="pyomo")
    assert direct.objective == pytest.approx(KEEP_B)
    assert via_pyomo.objective == pytest.approx(KEEP_B)


def test_user_constraint_on_built_model() -> None:
    built = optimizer.build(TINY)
    built.model.no_b = __import__("pyomo.environ", fromlist=["Constraint"]).Constraint(expr=built.model.z["B"] == 0)
    res = optimizer.solve(built)
    assert res.objective == pytest.approx(KEEP_A, abs=1e-6)
    assert res.kpis["closed_plants"] == ["B"]


def test_flow_index_lookup() -> None:
    built = optimizer.build(TINY)
    f = built.flow_index("B", "V", "default", "TH")
    assert built.data.flows.loc[f, "duties"] == pytest.approx(9.6)
    with pytest.raises(KeyError):
        built.flow_index("B", "V", "default", "XX")
    assert not built.uses_pyomo
    m = built.model
    assert built.uses_pyomo and m.x["B", "V", "default", "TH"] is built._columns[built.blocks.vars["x"].offset + f]


def test_mip_start_from_plan_and_from_result() -> None:
    first = optimizer.solve(TINY)
    again = optimizer.solve(TINY, mip_start=first)
    assert again.objective == pytest.approx(KEEP_B)
    partial = optimizer.solve(TINY, mip_start={"A": True, "B": False})
    assert partial.objective == pytest.approx(KEEP_B)  # a (worse) start does not change the optimum
    with pytest.raises(ValueError, match="unknown plants"):
        optimizer.solve(TINY, mip_start={"Z": True})


def test_infeasible_has_no_tables(tmp_path: Path) -> None:
    text = (TINY / "instance.yaml").read_text().replace("plants_kept: {max: 1}", "plants_kept: {min: 3}")
    for f in TINY.glob("*.csv"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "instance.yaml").write_text(text)
    res = optimizer.solve(tmp_path)
    assert res.status is Status.INFEASIBLE and res.objective is None and res.gap is None
    with pytest.raises(optimizer.NoSolutionError):
        _ = res.flows
    with pytest.raises(optimizer.NoSolutionError):
        res.raise_for_status()
    assert res.kpis == {}


def test_write_outputs(tmp_path: Path) -> None:
    res = optimizer.solve(TINY)
    res.write(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in ("status", "objective", "bound", "gap", "plants_kept", "jobs_cut", "timings", "breakdown"):
        assert key in summary
    assert summary["status"] == "optimal" and summary["objective"] == pytest.approx(KEEP_B)
    assert set(summary["timings"]) >= {"load", "validate", "build", "transfer", "solve", "extract", "total"}
    for name in ("plants", "flows", "sales", "software", "breakdown"):
        assert (tmp_path / f"{name}.csv").is_file()


def test_every_highs_status_is_mapped() -> None:
    import highspy

    names = [n for n in dir(highspy.HighsModelStatus) if n.startswith("k")]
    assert names and set(names) <= set(HIGHS_STATUS_MAP)


@pytest.mark.parametrize(
    ("term", "has_sol", "expected"),
    [
        (Termination.OPTIMAL, True, Status.OPTIMAL),
        (Termination.INFEASIBLE, False, Status.INFEASIBLE),
        (Termination.INFEASIBLE_OR_UNBOUNDED, False, Status.INFEASIBLE),
        (Termination.UNBOUNDED, False, Status.UNBOUNDED),
        (Termination.TIME_LIMIT, True, Status.FEASIBLE),
        (Termination.TIME_LIMIT, False, Status.TIME_LIMIT),
        (Termination.ITERATION_LIMIT, False, Status.TIME_LIMIT),
        (Termination.INTERRUPTED, True, Status.FEASIBLE),
        (Termination.MEMORY_LIMIT, False, Status.ERROR),
        (Termination.ERROR, False, Status.ERROR),
        (Termination.OPTIMAL, False, Status.ERROR),
    ],
)
def test_status_derivation(term: Termination, has_sol: bool, expected: Status) -> None:
    assert derive_status(term, has_sol) is expected


@pytest.mark.parametrize("interface", ["direct", "pyomo"])
def test_thread_count_can_change_between_solves(interface: str) -> None:
    assert optimizer.solve(TINY, interface=interface).status is Status.OPTIMAL
    assert optimizer.solve(TINY, interface=interface, threads=1).status is Status.OPTIMAL
    assert optimizer.solve(TINY, interface=interface, threads=2).objective == pytest.approx(KEEP_B)


def test_valid_inequalities_auto_rule() -> None:
    from optimizer.models.network_design import VI_AUTO_MAX_FLOWS

    auto = optimizer.BuildOptions()
    assert auto.use_valid_inequalities(VI_AUTO_MAX_FLOWS) and not auto.use_valid_inequalities(VI_AUTO_MAX_FLOWS + 1)
    assert optimizer.BuildOptions(valid_inequalities=True).use_valid_inequalities(10**7)
    assert not optimizer.BuildOptions(valid_inequalities=False).use_valid_inequalities(1)
    on = optimizer.build(TINY)
    off = optimizer.build(TINY, optimizer.BuildOptions(valid_inequalities=False))
    assert "flow_open" in on.blocks.cons and "flow_open" not in off.blocks.cons
    assert optimizer.solve(off).objective == pytest.approx(KEEP_B)
