"""Solve outcomes: infeasible, time limit with and without an incumbent, optimal.

The contract: ``res.status`` is one of optimal / feasible / infeasible /
unbounded / time_limit / error; ``res.objective`` is None without a solution;
``res.gap`` is reported with one; result tables raise ``NoSolutionError``
when there is no solution.  Infeasible instances are also confirmed infeasible
by the brute-force oracle, so the engine is not merely failing.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference  # noqa: E402
from helpers import write_instance  # noqa: E402

import optimizer  # noqa: E402

ALLOWED = {"optimal", "feasible", "infeasible", "unbounded", "time_limit", "error"}
TABLES = ("plants", "flows", "sales", "software", "breakdown")


def _status(res) -> str:
    return str(getattr(res.status, "value", res.status))


def small(**extra) -> dict:
    """Two JP plants (capacity 10 each, headcount 100 and 200), one domestic market."""
    tables = {
        "plants": [
            {"plant": "P1", "country": "JP", "capacity": 10, "fixed_cost": 10, "closure_cost": 0, "headcount": 100},
            {"plant": "P2", "country": "JP", "capacity": 10, "fixed_cost": 10, "closure_cost": 0, "headcount": 200},
        ],
        "models": [{"model": "V1", "powertrain": "BEV"}],
        "production": [{"plant": "P1", "model": "V1", "unit_cost": 60, "capacity": 8},
                       {"plant": "P2", "model": "V1", "unit_cost": 60}],
        "markets": [{"market": "M1", "country": "JP"}, {"market": "M2", "country": "US"}],
        "demand": [{"model": "V1", "market": "M1", "price": 100, "max_units": 15},
                   {"model": "V1", "market": "M2", "price": 100, "max_units": 5}],
        "freight": [{"plant": "P1", "market": "M1", "unit_cost": 5}, {"plant": "P2", "market": "M1", "unit_cost": 5}],
    }
    tables.update(extra.pop("tables", {}))
    return {**extra, "tables": tables}


def assert_no_solution(res) -> None:
    assert res.objective is None
    for name in TABLES:
        with pytest.raises(optimizer.NoSolutionError):
            getattr(res, name)


# --------------------------------------------------------------------------- #
# Infeasible
# --------------------------------------------------------------------------- #
def _demand(min_m1: float = 0, min_m2: float = 0, max_m1: float = 15) -> list[dict]:
    return [{"model": "V1", "market": "M1", "price": 100, "max_units": max_m1, "min_units": min_m1},
            {"model": "V1", "market": "M2", "price": 100, "max_units": 5, "min_units": min_m2}]


INFEASIBLE_CASES = {
    # total capacity 10 + 10 = 20 < min_units 21
    "min_units_above_total_capacity": small(tables={"demand": _demand(min_m1=21, max_m1=30)}),
    # total headcount 100 + 200 = 300 < 301
    "min_jobs_cut_above_headcount": small(min_jobs_cut=301),
    # P2 forced closed, so at most 1 plant can be kept
    "plants_kept_min_above_open_plants": small(
        plants_kept={"min": 2},
        tables={"plants": [
            {"plant": "P1", "country": "JP", "capacity": 10, "fixed_cost": 10, "closure_cost": 0, "headcount": 1},
            {"plant": "P2", "country": "JP", "capacity": 10, "fixed_cost": 10, "closure_cost": 0, "headcount": 1,
             "status": "close"},
        ]},
    ),
    # jobs cut >= 200 needs P2 closed; then P1 alone (line capacity 8) cannot deliver min 9
    "jobs_and_line_capacity": small(min_jobs_cut=200, tables={"demand": _demand(min_m1=9)}),
    # M2 has no freight lane at all, so its min_units can never be met
    "min_units_without_any_flow": small(tables={"demand": _demand(min_m2=1)}),
    # plants_kept max 0 while some demand must be served
    "plants_kept_max_zero_with_min_units": small(plants_kept={"max": 0}, tables={"demand": _demand(min_m1=1)}),
}


@pytest.mark.parametrize("case", sorted(INFEASIBLE_CASES))
def test_infeasible(tmp_path, case):
    folder = write_instance(tmp_path / case, INFEASIBLE_CASES[case])
    assert reference.solve(folder) == ("infeasible", None)
    res = optimizer.solve(folder, mip_gap=1e-9)
    assert _status(res) == "infeasible"
    assert_no_solution(res)


def test_feasible_twin_of_infeasible_cases(tmp_path):
    # sanity check of the cases above: the base instance is feasible, and its optimum by hand is
    # P1: 8 units (line cap) + P2: 7 units to M1 (max 15) at margin 35, minus fixed 2 x 10
    folder = write_instance(tmp_path / "ok", small())
    expected = 15 * (100 - 60 - 5) - 2 * 10
    assert reference.solve(folder) == ("optimal", pytest.approx(expected))
    res = optimizer.solve(folder, mip_gap=1e-9)
    assert _status(res) == "optimal"
    assert res.objective == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- #
# Optimal: bound and gap
# --------------------------------------------------------------------------- #
def test_optimal_reports_bound_and_gap(tmp_path):
    res = optimizer.solve(write_instance(tmp_path / "ok", small()), mip_gap=1e-9)
    assert _status(res) == "optimal"
    assert res.gap is not None and 0 <= res.gap <= 1e-6
    assert res.bound == pytest.approx(res.objective, rel=1e-6, abs=1e-6)
    for name in TABLES:
        assert len(getattr(res, name)) > 0


def test_status_set_is_the_contract():
    assert {s.value for s in optimizer.Status} == ALLOWED


def test_no_solution_error_is_an_optimizer_error():
    assert issubclass(optimizer.NoSolutionError, optimizer.OptimizerError)


# --------------------------------------------------------------------------- #
# Time limits on a harder instance
# --------------------------------------------------------------------------- #
def harder_instance(folder: Path, n_plants: int = 60, n_markets: int = 200, seed: int = 1) -> Path:
    """Random Euclidean CFLP (multi-sourcing) that HiGHS cannot prove optimal within a second."""
    rng = random.Random(seed)
    px = [(rng.random(), rng.random()) for _ in range(n_plants)]
    mx = [(rng.random(), rng.random()) for _ in range(n_markets)]
    dem = [rng.randint(5, 35) for _ in range(n_markets)]
    avg_cap = 3 * sum(dem) // n_plants
    plants = [{"plant": f"P{i}", "country": "US", "capacity": rng.randint(avg_cap // 2, 3 * avg_cap // 2),
               "fixed_cost": rng.randint(500, 1500), "closure_cost": 0, "headcount": 0} for i in range(n_plants)]
    markets = [{"market": f"M{j}", "country": "US"} for j in range(n_markets)]
    demand = [{"model": "V", "market": f"M{j}", "price": 0, "min_units": d, "max_units": d} for j, d in enumerate(dem)]
    freight = [{"plant": f"P{i}", "market": f"M{j}",
                "unit_cost": round(100 * ((px[i][0] - mx[j][0]) ** 2 + (px[i][1] - mx[j][1]) ** 2) ** 0.5, 2)}
               for i in range(n_plants) for j in range(n_markets)]
    production = [{"plant": p["plant"], "model": "V", "unit_cost": 0} for p in plants]
    cfg = {"tables": {"models": [{"model": "V", "powertrain": "ICE"}]}}
    return write_instance(folder, cfg, {"plants": plants, "markets": markets, "demand": demand,
                                        "freight": freight, "production": production})


@pytest.fixture(scope="module")
def hard_instance(tmp_path_factory) -> Path:
    return harder_instance(tmp_path_factory.mktemp("hard") / "cflp")


def test_time_limit_without_incumbent(hard_instance):
    res = optimizer.solve(hard_instance, time_limit=0.0)
    status = _status(res)
    assert status in ALLOWED
    assert status in {"time_limit", "feasible"}
    if status == "time_limit":
        assert_no_solution(res)
        assert res.gap is None


def test_time_limit_with_incumbent(hard_instance):
    for limit in (1.0, 3.0, 10.0):  # a slow machine may need longer to find the first plan
        res = optimizer.solve(hard_instance, time_limit=limit)
        status = _status(res)
        assert status in {"feasible", "optimal", "time_limit"}
        if status != "time_limit":
            break
    assert status in {"feasible", "optimal"}, f"no plan within {limit} s: {status}"
    assert res.objective is not None and res.objective < 0  # price 0: the NPV is minus the cost
    assert res.gap is not None and res.gap >= 0
    assert res.bound is not None and res.bound >= res.objective - 1e-6 * abs(res.objective)
    if status == "feasible":
        assert res.gap > 0
    # a feasible plan has tables, and every customer is fully served (min = max = demand)
    assert float(res.sales["unmet"].abs().max()) == pytest.approx(0.0, abs=1e-6)
    assert res.kpis["plants_kept"] >= 1
