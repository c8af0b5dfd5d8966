"""One tiny instance per constraint family, with the optimum worked out by hand.

Every test writes a small instance (inline records), computes the expected NPV
as an arithmetic expression from the spec (shared/spec/model.md), and checks
that BOTH the engine and the independent brute-force oracle (tests/reference.py)
reach it.  A few tests also check result-table figures from hand.

The registry at the bottom lists the spec's families; a family without a test,
or a build step of the engine that no family covers, fails loudly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference  # noqa: E402
from helpers import write_instance  # noqa: E402

import optimizer  # noqa: E402

FAMILY_TESTS: dict[str, str] = {}
"""family name -> test function covering it (filled by @family)."""


def family(*names: str):
    """Register the decorated test as covering the named constraint families."""

    def deco(fn):
        for n in names:
            FAMILY_TESTS[n] = fn.__name__
        return fn

    return deco


# --------------------------------------------------------------------------- #
# Builders for readable inline instances
# --------------------------------------------------------------------------- #
def plant(pid: str, country: str = "JP", capacity: float = 1000, fixed_cost: float = 0,
          closure_cost: float = 0, headcount: float = 0, **extra: object) -> dict:
    return {"plant": pid, "country": country, "capacity": capacity, "fixed_cost": fixed_cost,
            "closure_cost": closure_cost, "headcount": headcount, **extra}


def instance(plants, production, markets, demand, freight, models=None, **extra) -> dict:
    """instance.yaml content; ``extra`` holds top-level keys and optional tables."""
    optional_tables = ("software", "tariffs", "export_channels")
    tables = {
        "plants": plants,
        "models": models or [{"model": "V1", "powertrain": "BEV"}],
        "production": production,
        "markets": markets,
        "demand": demand,
        "freight": freight,
    }
    for name in optional_tables:
        if name in extra:
            tables[name] = extra.pop(name)
    return {**extra, "tables": tables}


def check(tmp_path: Path, cfg: dict, expected: float, **solve_kw):
    """Assert the oracle and the engine both reach the hand-computed NPV; return the engine result."""
    folder = write_instance(tmp_path / "inst", cfg)
    ref_status, ref_npv = reference.solve(folder)
    assert ref_status == "optimal"
    assert ref_npv == pytest.approx(expected, rel=1e-9, abs=1e-9), "oracle disagrees with hand calculation"
    res = optimizer.solve(folder, mip_gap=1e-9, **solve_kw)
    assert str(res.status) == "optimal"
    assert res.objective == pytest.approx(expected, rel=1e-6, abs=1e-6), "engine disagrees with hand calculation"
    return res


def units(res, **key) -> float:
    """Units on the flows matching ``key`` (e.g. plant="P1", market="M2")."""
    fl = res.flows
    mask = fl["units"] > -1
    for col, val in key.items():
        mask &= fl[col] == val
    return float(fl.loc[mask, "units"].sum())


def sales_row(res, model: str, market: str):
    s = res.sales
    row = s[(s["model"] == model) & (s["market"] == market)]
    assert len(row) == 1
    return row.iloc[0]


def breakdown_npv(res) -> dict[str, float]:
    bd = res.breakdown
    return dict(zip(bd["component"], bd["npv"].astype(float)))


def assert_breakdown_sums_to_npv(res, expected: float) -> None:
    parts = {k: v for k, v in breakdown_npv(res).items() if k != "npv"}
    assert sum(parts.values()) == pytest.approx(expected, rel=1e-6, abs=1e-6)


# One JP plant, one BEV model, one domestic JP market: margin 100 - 60 - 5 = 35.
def one_plant(capacity=100, fixed_cost=50, max_units=10, **extra) -> dict:
    return instance(
        plants=[plant("P1", capacity=capacity, fixed_cost=fixed_cost)],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 60}],
        markets=[{"market": "M1", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": max_units}],
        freight=[{"plant": "P1", "market": "M1", "unit_cost": 5}],
        **extra,
    )


# --------------------------------------------------------------------------- #
# Capacity and demand
# --------------------------------------------------------------------------- #
@family("plant_capacity")
def test_plant_capacity_limits_production(tmp_path):
    # capacity 6 < demand 10: sell 6 units at margin 35, pay the fixed cost once (H = 1)
    expected = 6 * (100 - 60 - 5) - 50
    res = check(tmp_path, one_plant(capacity=6), expected)
    assert units(res, plant="P1") == pytest.approx(6)
    row = sales_row(res, "V1", "M1")
    assert row["sold"] == pytest.approx(6)
    assert row["unmet"] == pytest.approx(10 - 6)
    assert_breakdown_sums_to_npv(res, expected)


@family("line_capacity")
def test_line_capacity_limits_one_model_only(tmp_path):
    # V1 (margin 100-60-5 = 35) has a line limit of 4; V2 (margin 80-55-5 = 20) has no line limit
    cfg = instance(
        models=[{"model": "V1", "powertrain": "BEV"}, {"model": "V2", "powertrain": "ICE"}],
        plants=[plant("P1", capacity=100, fixed_cost=50)],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 60, "capacity": 4},
                    {"plant": "P1", "model": "V2", "unit_cost": 55}],
        markets=[{"market": "M1", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10},
                {"model": "V2", "market": "M1", "price": 80, "max_units": 3}],
        freight=[{"plant": "P1", "market": "M1", "unit_cost": 5}],
    )
    expected = 4 * 35 + 3 * 20 - 50
    res = check(tmp_path, cfg, expected)
    assert units(res, model="V1") == pytest.approx(4)
    assert units(res, model="V2") == pytest.approx(3)


@family("demand")
def test_demand_min_forces_loss_making_sales_and_max_caps_sales(tmp_path):
    # M1: margin 35, max 10 -> sell 10.  M2: price 50 -> margin 50-60-5 = -15, but min 3 must be sold.
    cfg = instance(
        plants=[plant("P1", capacity=100, fixed_cost=50)],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 60}],
        markets=[{"market": "M1", "country": "JP"}, {"market": "M2", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10},
                {"model": "V1", "market": "M2", "price": 50, "max_units": 10, "min_units": 3}],
        freight=[{"plant": "P1", "market": "M1", "unit_cost": 5}, {"plant": "P1", "market": "M2", "unit_cost": 5}],
    )
    expected = 10 * 35 + 3 * (50 - 60 - 5) - 50
    res = check(tmp_path, cfg, expected)
    assert sales_row(res, "V1", "M2")["sold"] == pytest.approx(3)
    assert sales_row(res, "V1", "M2")["unmet"] == pytest.approx(10 - 3)
    assert sales_row(res, "V1", "M1")["unmet"] == pytest.approx(0)


@family("lanes")
def test_flows_need_production_and_freight_lane(tmp_path):
    # P2 has a cheap lane to M1 but cannot build V1; P1 builds V1 but has no lane to M2.
    cfg = instance(
        plants=[plant("P1", capacity=100), plant("P2", capacity=100)],
        models=[{"model": "V1", "powertrain": "BEV"}, {"model": "V2", "powertrain": "BEV"}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 60},
                    {"plant": "P2", "model": "V2", "unit_cost": 10}],
        markets=[{"market": "M1", "country": "JP"}, {"market": "M2", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10},
                {"model": "V1", "market": "M2", "price": 500, "max_units": 10},
                {"model": "V2", "market": "M1", "price": 30, "max_units": 7}],
        freight=[{"plant": "P1", "market": "M1", "unit_cost": 5}, {"plant": "P2", "market": "M1", "unit_cost": 1},
                 {"plant": "P2", "market": "M2", "unit_cost": 1}],
    )
    # V1 only P1 -> M1 (35 each); V1 in M2 is unreachable; V2 only P2 -> M1 (30 - 10 - 1 = 19 each)
    expected = 10 * 35 + 7 * 19
    res = check(tmp_path, cfg, expected)
    assert sales_row(res, "V1", "M2")["unmet"] == pytest.approx(10)


# --------------------------------------------------------------------------- #
# Software
# --------------------------------------------------------------------------- #
def software_case(dev_cost_us: float) -> dict:
    """CN plant; V1 has default stack 'cn' (origin CN) and optional 'us' (origin US);
    V2 has no software rows (implicit default stack, never banned).  Market US bans CN."""
    return instance(
        horizon_years=2,
        models=[{"model": "V1", "powertrain": "BEV"}, {"model": "V2", "powertrain": "BEV"}],
        plants=[plant("P1", country="CN", capacity=100)],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 50},
                    {"plant": "P1", "model": "V2", "unit_cost": 50}],
        software=[
            {"model": "V1", "stack": "cn", "origin": "CN", "dev_cost": 999, "unit_cost": 1, "default": True},
            {"model": "V1", "stack": "us", "origin": "US", "dev_cost": dev_cost_us, "unit_cost": 3,
             "default": False},
        ],
        markets=[{"market": "US", "country": "US", "banned_software_origins": "CN"},
                 {"market": "CN", "country": "CN"}],
        demand=[{"model": "V1", "market": "US", "price": 100, "max_units": 10},
                {"model": "V1", "market": "CN", "price": 80, "max_units": 10},
                {"model": "V2", "market": "US", "price": 70, "max_units": 2}],
        freight=[{"plant": "P1", "market": "US", "unit_cost": 5}, {"plant": "P1", "market": "CN", "unit_cost": 5}],
    )


@family("software_ban", "development_cost")
def test_software_ban_pays_for_development(tmp_path):
    # A = 2 (H = 2, r = 0); the dev cost of the default stack (999) is never charged.
    # V1 in CN with the default stack: 80-50-5-1 = 24 x 10; V1 in US needs 'us': 100-50-5-3 = 42 x 10;
    # V2 in US (implicit stack, not banned): 70-50-5 = 15 x 2; development 100 is one-off (not x A).
    expected = 2 * (10 * 24 + 10 * 42 + 2 * 15) - 100
    res = check(tmp_path, software_case(dev_cost_us=100), expected)
    sw = res.software
    us = sw[(sw["model"] == "V1") & (sw["stack"] == "us")].iloc[0]
    assert bool(us["developed"])
    assert units(res, model="V1", stack="us", market="US") == pytest.approx(10)
    assert units(res, model="V1", stack="cn", market="US") == pytest.approx(0)  # banned
    assert_breakdown_sums_to_npv(res, expected)


@family("software_ban")
def test_software_development_not_worth_it(tmp_path):
    # development 900 > A * 420 = 840 -> do not develop; V1 stays out of US
    expected = 2 * (10 * 24 + 2 * 15)
    res = check(tmp_path, software_case(dev_cost_us=900), expected)
    assert sales_row(res, "V1", "US")["sold"] == pytest.approx(0)


# --------------------------------------------------------------------------- #
# Trade: export channels, tariffs, domestic flows
# --------------------------------------------------------------------------- #
@family("export_channel")
def test_export_channel_aggregates_plants_of_one_country(tmp_path):
    # Two CN plants (10 each); channel CN: 12 units/yr, fee 2.  Export margin 100-50-5-2 = 43,
    # domestic CN margin 60-50-5 = 5 (no fee, not counted in the channel).
    cfg = instance(
        plants=[plant("P1", country="CN", capacity=10), plant("P2", country="CN", capacity=10)],
        production=[{"plant": p, "model": "V1", "unit_cost": 50} for p in ("P1", "P2")],
        markets=[{"market": "US", "country": "US"}, {"market": "CN", "country": "CN"}],
        demand=[{"model": "V1", "market": "US", "price": 100, "max_units": 20},
                {"model": "V1", "market": "CN", "price": 60, "max_units": 20}],
        freight=[{"plant": p, "market": mk, "unit_cost": 5} for p in ("P1", "P2") for mk in ("US", "CN")],
        export_channels=[{"origin": "CN", "capacity": 12, "unit_fee": 2}],
    )
    expected = 12 * 43 + (20 - 12) * 5
    res = check(tmp_path, cfg, expected)
    assert units(res, market="US") == pytest.approx(12)
    assert abs(breakdown_npv(res)["channel_fees"]) == pytest.approx(12 * 2)


def tariff_case(duty_basis: str | None, customs_value: float | None) -> dict:
    """CN plant -> US market: price 100, unit cost 50, freight 10, tariff 25 % + 3 per unit."""
    dem = {"model": "V1", "market": "US", "price": 100, "max_units": 10}
    if customs_value is not None:
        dem["customs_value"] = customs_value
    extra = {} if duty_basis is None else {"duty_basis": duty_basis}
    return instance(
        plants=[plant("P1", country="CN")],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 50}],
        markets=[{"market": "US", "country": "US"}],
        demand=[dem],
        freight=[{"plant": "P1", "market": "US", "unit_cost": 10}],
        tariffs=[{"origin": "CN", "market": "US", "powertrain": "BEV", "ad_valorem": 0.25, "specific": 3}],
        **extra,
    )


@family("tariff_cif_fob", "tariff_specific")
@pytest.mark.parametrize(
    ("basis", "expected"),
    [
        ("cif", 10 * (100 - 50 - 10 - (0.25 * (80 + 10) + 3))),  # duty on customs value + freight
        ("fob", 10 * (100 - 50 - 10 - (0.25 * 80 + 3))),  # duty on customs value only
        (None, 10 * (100 - 50 - 10 - (0.25 * (80 + 10) + 3))),  # default basis is cif
    ],
)
def test_duty_basis(tmp_path, basis, expected):
    res = check(tmp_path, tariff_case(basis, customs_value=80), expected)
    duty = 0.25 * 80 + 3 + (0.25 * 10 if basis != "fob" else 0)
    assert abs(breakdown_npv(res)["duties"]) == pytest.approx(10 * duty)


@family("customs_value_default")
def test_customs_value_defaults_to_price(tmp_path):
    # fob, no customs_value: duty = 0.25 * 100 + 3 = 28
    expected = 10 * (100 - 50 - 10 - (0.25 * 100 + 3))
    check(tmp_path, tariff_case("fob", customs_value=None), expected)


@family("tariff_wildcard")
def test_most_specific_tariff_row_wins(tmp_path):
    # CN plant serves M1, M2 (country US) with V1 (BEV) and V2 (ICE); MX plant serves M3.
    # price 100, no costs, freight 0, one unit each; customs value = price.
    cfg = instance(
        models=[{"model": "V1", "powertrain": "BEV"}, {"model": "V2", "powertrain": "ICE"}],
        plants=[plant("CN1", country="CN"), plant("MX1", country="MX")],
        production=[{"plant": "CN1", "model": "V1", "unit_cost": 0}, {"plant": "CN1", "model": "V2", "unit_cost": 0},
                    {"plant": "MX1", "model": "V1", "unit_cost": 0}],
        markets=[{"market": "M1", "country": "US"}, {"market": "M2", "country": "US"},
                 {"market": "M3", "country": "US"}],
        demand=[{"model": v, "market": mk, "price": 100, "max_units": 1} for v in ("V1", "V2") for mk in ("M1", "M2")]
        + [{"model": "V1", "market": "M3", "price": 100, "max_units": 1}],
        freight=[{"plant": "CN1", "market": "M1", "unit_cost": 0}, {"plant": "CN1", "market": "M2", "unit_cost": 0},
                 {"plant": "MX1", "market": "M3", "unit_cost": 0}],
        tariffs=[
            {"origin": "*", "market": "*", "powertrain": "*", "ad_valorem": 0.5},
            {"origin": "CN", "market": "*", "powertrain": "*", "ad_valorem": 0.4},
            {"origin": "CN", "market": "M1", "powertrain": "*", "ad_valorem": 0.3},
            {"origin": "CN", "market": "M1", "powertrain": "BEV", "ad_valorem": 0.1},
        ],
    )
    expected = (
        100 * (1 - 0.1)  # CN -> M1, BEV: (CN, M1, BEV)
        + 100 * (1 - 0.3)  # CN -> M1, ICE: (CN, M1, *)
        + 100 * (1 - 0.4)  # CN -> M2, BEV: (CN, *, *)
        + 100 * (1 - 0.4)  # CN -> M2, ICE: (CN, *, *)
        + 100 * (1 - 0.5)  # MX -> M3, BEV: (*, *, *)
    )
    check(tmp_path, cfg, expected)


@family("tariff_no_match")
def test_no_matching_tariff_row_means_no_duty(tmp_path):
    # only a CN tariff exists; the MX plant's exports pay nothing (margin 100 - 50 - 10 = 40)
    cfg = instance(
        plants=[plant("P1", country="MX")],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 50}],
        markets=[{"market": "US", "country": "US"}],
        demand=[{"model": "V1", "market": "US", "price": 100, "max_units": 10}],
        freight=[{"plant": "P1", "market": "US", "unit_cost": 10}],
        tariffs=[{"origin": "CN", "market": "*", "powertrain": "*", "ad_valorem": 0.9, "specific": 50}],
    )
    check(tmp_path, cfg, 10 * (100 - 50 - 10))


@family("domestic")
def test_domestic_flow_pays_no_duty_no_fee_and_skips_channel(tmp_path):
    # JP plant, JP market (domestic) and US market; a 50 % tariff on everything and a JP channel
    # of capacity 0 with a fee of 9: exports are impossible, domestic sales are untouched.
    cfg = one_plant(
        tariffs=[{"origin": "*", "market": "*", "powertrain": "*", "ad_valorem": 0.5, "specific": 7}],
        export_channels=[{"origin": "JP", "capacity": 0, "unit_fee": 9}],
    )
    cfg["tables"]["markets"].append({"market": "US", "country": "US"})
    cfg["tables"]["demand"].append({"model": "V1", "market": "US", "price": 300, "max_units": 10})
    cfg["tables"]["freight"].append({"plant": "P1", "market": "US", "unit_cost": 5})
    expected = 10 * (100 - 60 - 5) - 50
    res = check(tmp_path, cfg, expected)
    assert sales_row(res, "V1", "US")["sold"] == pytest.approx(0)


@family("domestic")
def test_domestic_vs_export_margin(tmp_path):
    # Same instance with an open channel (capacity 100, fee 9): export margin
    # 300 - 60 - 5 - (0.5 * (300 + 5) + 7) - 9 = 66.5 per unit, domestic 35.
    cfg = one_plant(
        capacity=15,
        tariffs=[{"origin": "*", "market": "*", "powertrain": "*", "ad_valorem": 0.5, "specific": 7}],
        export_channels=[{"origin": "JP", "capacity": 100, "unit_fee": 9}],
    )
    cfg["tables"]["markets"].append({"market": "US", "country": "US"})
    cfg["tables"]["demand"].append({"model": "V1", "market": "US", "price": 300, "max_units": 10})
    cfg["tables"]["freight"].append({"plant": "P1", "market": "US", "unit_cost": 5})
    expected = 10 * (300 - 60 - 5 - (0.5 * (300 + 5) + 7) - 9) + (15 - 10) * 35 - 50
    res = check(tmp_path, cfg, expected)
    assert units(res, market="US") == pytest.approx(10)
    assert units(res, market="M1") == pytest.approx(5)


# --------------------------------------------------------------------------- #
# Plants: kept bounds, status, jobs, closure, annuity
# --------------------------------------------------------------------------- #
def three_plants(**extra) -> dict:
    """Three JP plants of capacity 10 (fixed 100 / 50 / 200, headcount 100 / 300 / 50), margin 35,
    demand 25.  Kept sets: {P1,P2}: 20*35-150 = 550; {P1,P2,P3}: 25*35-350 = 525;
    {P2,P3}: 20*35-250 = 450; {P1,P3}: 20*35-300 = 400; {P2}: 300; {P1}: 250; {P3}: 150."""
    statuses = extra.pop("statuses", {})
    plants = [
        plant(p, capacity=10, fixed_cost=f, headcount=h, **({"status": statuses[p]} if p in statuses else {}))
        for p, f, h in (("P1", 100, 100), ("P2", 50, 300), ("P3", 200, 50))
    ]
    return instance(
        plants=plants,
        production=[{"plant": p, "model": "V1", "unit_cost": 60} for p in ("P1", "P2", "P3")],
        markets=[{"market": "M1", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 25}],
        freight=[{"plant": p, "market": "M1", "unit_cost": 5} for p in ("P1", "P2", "P3")],
        **extra,
    )


@family("plants_kept")
@pytest.mark.parametrize(
    ("kept", "expected", "n_kept"),
    [
        (None, 20 * 35 - (100 + 50), 2),  # free choice: {P1, P2}
        ({"max": 1}, 10 * 35 - 50, 1),  # {P2}
        ({"min": 3}, 25 * 35 - (100 + 50 + 200), 3),  # all three
        ({"min": 1, "max": 1}, 10 * 35 - 50, 1),
    ],
)
def test_plants_kept_bounds(tmp_path, kept, expected, n_kept):
    cfg = three_plants(**({} if kept is None else {"plants_kept": kept}))
    res = check(tmp_path, cfg, expected)
    assert res.kpis["plants_kept"] == n_kept
    assert int(res.plants["kept"].sum()) == n_kept


@family("status")
def test_forced_keep_and_close(tmp_path):
    # P2 (the best) is forced closed and P3 (the worst) forced open: best is {P1, P3} = 400
    cfg = three_plants(statuses={"P2": "close", "P3": "keep", "P1": "free"})
    expected = 20 * 35 - (100 + 200)
    res = check(tmp_path, cfg, expected)
    kept = dict(zip(res.plants["plant"], res.plants["kept"].astype(bool)))
    assert kept == {"P1": True, "P2": False, "P3": True}
    assert units(res, plant="P2") == pytest.approx(0)


@family("min_jobs_cut")
def test_min_jobs_cut(tmp_path):
    # >= 350 jobs cut: closing {P2, P3} (350) keeps P1 -> 10*35-100 = 250;
    # closing {P1, P2} (400) keeps P3 -> 150.  Best 250 with 350 jobs cut.
    cfg = three_plants(min_jobs_cut=350)
    expected = 10 * 35 - 100
    res = check(tmp_path, cfg, expected)
    assert res.kpis["jobs_cut"] == pytest.approx(300 + 50)
    assert float(res.plants["jobs_cut"].sum()) == pytest.approx(350)


@family("closure_cost")
def test_closure_cost_is_one_off(tmp_path):
    # H = 2, r = 0 -> A = 2.  P2 (fixed 400, closure 120) is not worth keeping:
    # keep P1 only: 2*(10*35-50) - 120 = 480; keep both: 2*(10*35-450) = -200; keep P2 only: 2*(350-400)-0 < 0.
    cfg = instance(
        horizon_years=2,
        plants=[plant("P1", capacity=10, fixed_cost=50), plant("P2", capacity=10, fixed_cost=400, closure_cost=120)],
        production=[{"plant": p, "model": "V1", "unit_cost": 60} for p in ("P1", "P2")],
        markets=[{"market": "M1", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10}],
        freight=[{"plant": p, "market": "M1", "unit_cost": 5} for p in ("P1", "P2")],
    )
    expected = 2 * (10 * 35 - 50) - 120
    res = check(tmp_path, cfg, expected)
    assert abs(breakdown_npv(res)["closure"]) == pytest.approx(120)
    assert abs(breakdown_npv(res)["fixed"]) == pytest.approx(2 * 50)
    assert_breakdown_sums_to_npv(res, expected)


@family("annuity")
@pytest.mark.parametrize(
    ("horizon", "rate", "annuity"),
    [
        (3, 0.1, 1 / 1.1 + 1 / 1.1**2 + 1 / 1.1**3),
        (5, 0.0, 5.0),
        (1, 0.08, 1 / 1.08),
    ],
)
def test_annuity_factor(tmp_path, horizon, rate, annuity):
    expected = annuity * (10 * 35 - 50)
    check(tmp_path, one_plant(horizon_years=horizon, discount_rate=rate), expected)


# --------------------------------------------------------------------------- #
# Single sourcing
# --------------------------------------------------------------------------- #
@family("single_sourcing")
@pytest.mark.parametrize(
    ("single", "expected"),
    [
        # both plants serve both pairs: A 6 x 9 + B 6 x 8 (demand 14 > capacity 12)
        (False, 6 * 9 + 6 * 8 - 20),
        # one plant per (model, market): M1 <- A (6 x 9), M2 <- B (4 x 8) beats M1 <- B, M2 <- A (6x8 + 4x9 = 84)
        (True, 6 * 9 + 4 * 8 - 20),
    ],
)
def test_single_sourcing(tmp_path, single, expected):
    cfg = instance(
        single_sourcing=single,
        models=[{"model": "V1", "powertrain": "ICE"}],
        plants=[plant("A", capacity=6, fixed_cost=10), plant("B", capacity=6, fixed_cost=10)],
        production=[{"plant": "A", "model": "V1", "unit_cost": 1}, {"plant": "B", "model": "V1", "unit_cost": 2}],
        markets=[{"market": "M1", "country": "JP"}, {"market": "M2", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 10, "max_units": 10},
                {"model": "V1", "market": "M2", "price": 10, "max_units": 4}],
        freight=[{"plant": p, "market": mk, "unit_cost": 0} for p in ("A", "B") for mk in ("M1", "M2")],
    )
    res = check(tmp_path, cfg, expected)
    if single:
        fl = res.flows[res.flows["units"] > 1e-6]
        assert (fl.groupby(["model", "market"])["plant"].nunique() <= 1).all()


@family("valid_inequality")
def test_valid_inequality_does_not_cut_the_optimum(tmp_path):
    # x_f <= max_units z_p is redundant for integer z; with and without it the optimum is 550
    expected = 20 * 35 - (100 + 50)
    for flag in (True, False):
        check(tmp_path / str(flag), three_plants(), expected, build_options=optimizer.BuildOptions(valid_inequalities=flag))


# --------------------------------------------------------------------------- #
# Input details that change the optimum
# --------------------------------------------------------------------------- #
def export_case(**tables) -> dict:
    """CN plant, BEV models V1 and V2 (unit cost 50), US market (freight 5), price 100, 10 units each."""
    base = instance(
        models=[{"model": "V1", "powertrain": "BEV"}, {"model": "V2", "powertrain": "BEV"}],
        plants=[plant("P1", country="CN")],
        production=[{"plant": "P1", "model": v, "unit_cost": 50} for v in ("V1", "V2")],
        markets=[{"market": "US", "country": "US"}],
        demand=[{"model": v, "market": "US", "price": 100, "max_units": 10} for v in ("V1", "V2")],
        freight=[{"plant": "P1", "market": "US", "unit_cost": 5}],
    )
    base["tables"].update(tables)
    return base


def test_stacks_are_per_model_and_a_default_is_optional(tmp_path):
    # both models only have a non-default stack named "us": developed separately.
    # V1: 10 x 45 - 100 = 350 (worth it); V2: 10 x 45 = 450 < 1000 (not developed)
    cfg = export_case(software=[
        {"model": "V1", "stack": "us", "origin": "US", "dev_cost": 100, "unit_cost": 0, "default": False},
        {"model": "V2", "stack": "us", "origin": "US", "dev_cost": 1000, "unit_cost": 0, "default": False},
    ])
    res = check(tmp_path, cfg, 10 * 45 - 100)
    assert sales_row(res, "V2", "US")["sold"] == pytest.approx(0)


def test_ban_list_is_semicolon_separated_with_spaces(tmp_path):
    # "CN; JP" bans both origins: neither model can be sold, NPV 0
    cfg = export_case(software=[
        {"model": "V1", "stack": "jp", "origin": "JP", "dev_cost": 0, "unit_cost": 0, "default": True},
        {"model": "V2", "stack": "cn", "origin": "CN", "dev_cost": 0, "unit_cost": 0, "default": True},
    ])
    cfg["tables"]["markets"][0]["banned_software_origins"] = "CN; JP"
    check(tmp_path, cfg, 0.0)


def test_customs_value_zero_is_not_missing(tmp_path):
    # cif, 50 % on everything: V1 declares 0 -> duty 0.5 * (0 + 5) = 2.5, margin 42.5;
    # V2 has no customs value -> price: duty 0.5 * (100 + 5) = 52.5, margin -7.5 -> not sold
    cfg = export_case(tariffs=[{"origin": "*", "market": "*", "powertrain": "*", "ad_valorem": 0.5}])
    cfg["tables"]["demand"][0]["customs_value"] = 0
    check(tmp_path, cfg, 10 * (100 - 50 - 5 - 2.5))


def test_csv_tables_empty_cells_take_defaults_and_NA_is_a_country(tmp_path):
    # Country "NA" (Namibia) on both sides: domestic, so the 50 % tariff does not apply.
    # Empty cells: status -> free, line capacity -> no limit, min_units -> 0, customs_value -> price.
    csv_tables = {
        "plants": [{"plant": "P1", "country": "NA", "capacity": 100, "fixed_cost": 0, "closure_cost": 0,
                    "headcount": 0, "status": None}],
        "production": [{"plant": "P1", "model": "V1", "unit_cost": 50, "capacity": None},
                       {"plant": "P1", "model": "V2", "unit_cost": 50, "capacity": 4}],
        "markets": [{"market": "M", "country": "NA", "banned_software_origins": None}],
        "demand": [{"model": v, "market": "M", "price": 100, "max_units": 10, "min_units": None,
                    "customs_value": None} for v in ("V1", "V2")],
        "freight": [{"plant": "P1", "market": "M", "unit_cost": 5}],
        "tariffs": [{"origin": "*", "market": "*", "powertrain": "*", "ad_valorem": 0.5, "specific": None}],
    }
    cfg = {"tables": {"models": [{"model": "V1", "powertrain": "BEV"}, {"model": "V2", "powertrain": "BEV"}]}}
    folder = write_instance(tmp_path / "inst", cfg, csv_tables)
    expected = 10 * 45 + 4 * 45  # V2 limited by its line capacity 4
    assert reference.solve(folder) == ("optimal", pytest.approx(expected))
    res = optimizer.solve(folder, mip_gap=1e-9)
    assert res.objective == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #
# --------------------------------------------------------------------------- #
# v2 families: the hand-calculated cases of tests/v2_cases.py (arithmetic there)
# --------------------------------------------------------------------------- #
import v2_cases  # noqa: E402


def _v2_case(name: str):
    from optimizer.data.instance import from_dict

    cfg, npv, _ = v2_cases.CASES[name]
    res = optimizer.solve(from_dict(cfg), mip_gap=1e-9)
    assert res.objective == pytest.approx(npv, rel=1e-9, abs=1e-9)
    assert_breakdown_sums_to_npv(res, npv)
    return res


@family("closure_order")
def test_v2_closure_timing_trade_off():
    res = _v2_case("closure_timing")
    assert res.plan["closures"] == {"P1": 2027}


@family("tariff_quota")
def test_v2_quota_split_between_two_plants():
    res = _v2_case("quota_split")
    fl = res.flows
    assert fl["in_quota"].sum() == pytest.approx(8)


@family("tail_years")
def test_v2_tail_years_change_the_decision():
    _v2_case("tail_none")
    _v2_case("tail_changes_decision")


@family("co2_cap")
def test_v2_co2_cap_moves_production():
    _v2_case("co2_cap_moves_production")


@family("development_order")
def test_v2_stack_available_only_from_year_two():
    res = _v2_case("stack_available_from")
    assert all(y is None or y >= 2027 for y in res.plan["developments"].values())


@family("plant_rules_v2")
def test_v2_country_selector_and_jobs_by_year():
    _v2_case("country_selector")
    _v2_case("jobs_rule_by_year")


@family("bans_v2")
def test_v2_ban_starting_mid_plan():
    _v2_case("bans_mid_plan")


@family("equity_share")
def test_v2_equity_share_changes_the_decision():
    _v2_case("equity_share")


@family("negative_closure_cost")
def test_v2_negative_closure_cost_is_sale_proceeds():
    _v2_case("negative_closure_cost")


SPEC_FAMILIES = [
    "plant_capacity", "line_capacity", "demand", "lanes", "software_ban", "development_cost",
    "export_channel", "tariff_cif_fob", "tariff_specific", "tariff_wildcard", "tariff_no_match",
    "customs_value_default", "domestic", "plants_kept", "status", "min_jobs_cut", "closure_cost",
    "annuity", "single_sourcing", "valid_inequality",
]
"""The constraint and objective families of shared/spec/model.md that need their own test."""

STEP_FAMILIES = {
    "add_plant_variables": "status",
    "add_flow_variables": "plant_capacity",
    "add_software_variables": "software_ban",
    "add_single_sourcing_variables": "single_sourcing",
    "add_plant_capacity_constraints": "plant_capacity",
    "add_line_capacity_constraints": "line_capacity",
    "add_demand_constraints": "demand",
    "add_software_constraints": "software_ban",
    "add_export_channel_constraints": "export_channel",
    "add_plant_rules": "plants_kept",
    "add_jobs_constraints": "min_jobs_cut",
    "add_single_sourcing_constraints": "single_sourcing",
    "add_valid_inequalities": "valid_inequality",
    "add_flow_costs": "annuity",
    "add_quota_variables": "tariff_quota",
    "add_quota_constraints": "tariff_quota",
    "add_closure_order_constraints": "closure_order",
    "add_development_order_constraints": "development_order",
    "add_co2_caps": "co2_cap",
    "add_plant_costs": "closure_cost",
    "add_development_costs": "software_ban",
}
"""Engine build step -> the family test that exercises it."""


def test_every_spec_family_has_a_test():
    missing = [f for f in SPEC_FAMILIES if f not in FAMILY_TESTS]
    assert not missing, f"constraint families without a test: {missing}"
    for name in FAMILY_TESTS.values():
        assert callable(globals().get(name)), name


def test_every_engine_build_step_is_covered():
    import optimizer.models.network_design as nd
    steps = getattr(nd, "STEPS", None)
    if steps is None:
        pytest.skip("optimizer.models.network_design.STEPS not found: the engine has no build-step registry")
    uncovered = [s.__name__ for s in steps if STEP_FAMILIES.get(s.__name__) not in FAMILY_TESTS]
    assert not uncovered, (
        f"build steps with no family test: {uncovered}; add a tiny hand-computed test to "
        "tests/test_families.py and map the step in STEP_FAMILIES"
    )


def test_csc_arrays_equal_scipys_matrix() -> None:
    """Blocks.csc (numpy alone) gives the CSC scipy makes of the same triplets: duplicates summed, zeros
    dropped, rows sorted in each column; on a hand case with both and on random every-feature instances."""
    import sys
    from pathlib import Path

    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import randinst_v2

    import optimizer
    from optimizer.data.instance import from_dict
    from optimizer.models import Blocks

    mb = Blocks(name="hand")
    mb.add_vars("v", pd.DataFrame({"k": range(3)}), 0.0, 1.0, False, "")
    # (0,2) twice (summed to 3), (1,1) + (1,1) cancelling to 0 (dropped), rows out of order in column 0
    mb.add_cons("c", pd.DataFrame({"k": range(3)}), np.array([2, 0, 0, 1, 1, 0]), np.array([0, 2, 2, 1, 1, 0]),
                np.array([5.0, 1.0, 2.0, 4.0, -4.0, 7.0]), -np.inf, 1.0, "")
    sorted_mb = Blocks(name="runs")  # columns in ascending runs, rows increasing in each: the merge path
    sorted_mb.add_vars("v", pd.DataFrame({"k": range(3)}), 0.0, 1.0, False, "")
    sorted_mb.add_cons("c", pd.DataFrame({"k": range(2)}), np.array([0, 0, 1, 1, 1]), np.array([0, 2, 0, 1, 2]),
                       np.array([1.0, 2.0, 3.0, 0.0, 4.0]), -np.inf, 1.0, "")
    c, _, _ = sorted_mb.csc()
    assert c.indptr.tolist() == [0, 2, 2, 4] and c.indices.tolist() == [0, 1, 0, 1] and c.data.tolist() == [1, 3, 2, 4]
    built = [optimizer.build(from_dict(randinst_v2.generate(s))) for s in range(12)]
    import scipy.sparse as sp

    for blocks in [mb, sorted_mb] + [b.blocks for b in built]:
        rows, cols, vals, lo, hi = blocks._triplets()
        a = sp.coo_matrix((vals, (rows, cols)), shape=(blocks.n_rows, blocks.n_cols)).tocsc()
        a.sum_duplicates()
        a.eliminate_zeros()
        c, lo2, hi2 = blocks.csc()
        assert np.array_equal(a.indptr, c.indptr) and np.array_equal(a.indices, c.indices)
        assert np.array_equal(a.data, c.data) and c.shape == a.shape and c.nnz == a.nnz
        assert np.array_equal(lo, lo2) and np.array_equal(hi, hi2)
    c, _, _ = mb.csc()
    assert c.indptr.tolist() == [0, 2, 2, 3] and c.indices.tolist() == [0, 2, 0] and c.data.tolist() == [7.0, 5.0, 3.0]
