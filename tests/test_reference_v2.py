"""The independent v2 oracle (``reference_v2``) against hand calculations, the v1 oracle and itself.

No engine imports: these tests check the yardstick the engine will be compared
with.  ``v2_cases`` holds tiny instances whose optimum was worked out by hand,
``randinst`` (v1) and ``randinst_v2`` make random instances.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import randinst  # noqa: E402
import randinst_v2  # noqa: E402
import reference  # noqa: E402
import reference_v2 as ref  # noqa: E402
import v2_cases  # noqa: E402


def approx(x):
    return pytest.approx(x, rel=1e-7, abs=1e-7)


def test_the_oracle_does_not_import_the_engine():
    text = (Path(__file__).parent / "reference_v2.py").read_text(encoding="utf-8")
    for word in ("import optimizer", "from optimizer", "import models", "from models"):
        assert word not in text


# --------------------------------------------------------------------------- #
# hand-calculated cases
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", sorted(v2_cases.CASES))
def test_hand_case(name):
    inst, npv, _ = v2_cases.CASES[name]
    res = ref.solve(inst)
    assert res.status == "optimal"
    assert res.npv == approx(npv)


def test_hand_case_plans():
    """Where the optimal plan is unique, the oracle reports it."""
    closures = {name: ref.solve(inst).plan.closures for name, (inst, _, _) in v2_cases.CASES.items()}
    assert closures["closure_timing"] == {"P1": 2027}
    assert closures["tail_none"] == {"P1": None}
    assert closures["tail_changes_decision"] == {"P1": 2026}
    assert closures["country_selector"] == {"P1": None, "P2": None, "P3": 2027}
    assert closures["jobs_rule_by_year"] == {"P1": None, "P2": 2026, "P3": 2026}
    assert closures["equity_share"] == {"P1": 2026, "P2": None, "P3": None}
    assert closures["negative_closure_cost"] == {"P1": 2027, "P2": 2027, "P3": 2027, "P4": 2026}
    res = ref.solve(v2_cases.CASES["stack_available_from"][0])
    assert res.plan.developments == {"V1/JPS": 2027} and len(res.optimal_plans) == 1


def _case(name):
    return copy.deepcopy(v2_cases.CASES[name][0])


def _without_selector(inst):
    del inst["plants_kept"][0]["exclude_countries"]
    return inst


def _jobs_counting_headcount(inst):
    del inst["tables"]["plants"][1]["jobs_cut"]
    return inst


def _always_available(inst):
    del inst["tables"]["software"][1]["available_from"]
    return inst


def _no_equity(inst):
    for p in inst["tables"]["plants"]:
        p.pop("equity_share", None)
    return inst


def _no_plant_ban(inst):
    inst["tables"]["bans"] = inst["tables"]["bans"][:1]
    return inst


def _no_cap(inst):
    del inst["co2_cap"]
    return inst


def _no_earliest_closure(inst):
    del inst["tables"]["plants"][1]["earliest_closure"]
    return inst


def _quota_row_per_market(inst):
    inst["tables"]["tariff_quotas"][0]["market"] = "M1"  # same pool (one market): same answer
    return inst


# The "(without X: ...)" remarks of v2_cases, so each case really depends on its feature.
COUNTERFACTUALS = {
    "country_selector": (_without_selector, 1700.0),
    "jobs_rule_by_year": (_jobs_counting_headcount, 1400.0),
    "stack_available_from": (_always_available, 900.0),
    "equity_share": (_no_equity, 1040.0),
    "bans_mid_plan": (_no_plant_ban, 950.0),
    "co2_cap_moves_production": (_no_cap, 960.0),
    "negative_closure_cost": (_no_earliest_closure, 750.0),
    "quota_split": (_quota_row_per_market, 610.0),
}


@pytest.mark.parametrize("name", sorted(COUNTERFACTUALS))
def test_hand_case_depends_on_its_feature(name):
    change, npv = COUNTERFACTUALS[name]
    assert ref.solve(change(_case(name))).npv == approx(npv)


@pytest.mark.parametrize("name", sorted(v2_cases.SET_CASES))
def test_hand_set_case(name):
    c = v2_cases.SET_CASES[name]
    res = ref.solve_set(c["base"], c["scenarios"], c["criterion"], c["weights"])
    assert res.status == "optimal"
    assert res.value == approx(c["value"])
    assert [p for p, y in res.plan.closures.items() if y is None] == [c["kept"]]
    assert res.npv == {s: approx(v) for s, v in c["npv"].items()}
    assert res.npv_star == {s: approx(v) for s, v in c["npv_star"].items()}
    assert res.regret == {s: approx(c["npv_star"][s] - c["npv"][s]) for s in c["npv"]}
    assert res.vss == approx(c["vss"])
    assert res.evpi == approx(c["evpi"])
    value, plan, npv, npv_star, regret, vss, evpi = res  # unpacks as the brief's 7-tuple
    assert (value, vss, evpi) == (res.value, res.vss, res.evpi)


def test_set_vss_is_null_when_the_base_plan_cannot_run():
    """10.9: trade_war bars MX-built cars in M1 and needs 5 units: keeping only P1 fails there.
    expected: P1 is not eligible; P2 400, P3 445 -> P3, value 445; NPV*_trade_war = 400
    (P2), so EVPI = 510 - 445 = 65; VSS is null."""
    c = copy.deepcopy(v2_cases.SET_CASES["expected"])
    war = c["scenarios"]["trade_war"]["tables"]
    war["bans"] = [{"market": "M1", "kind": "plant", "origin": "MX"}]
    war["demand"][0]["min_units"] = 5
    res = ref.solve_set(c["base"], c["scenarios"], "expected", c["weights"])
    assert res.value == approx(445.0) and res.evpi == approx(65.0)
    assert res.vss is None and res.vss_note


def test_set_input_errors():
    c = v2_cases.SET_CASES["expected"]
    with pytest.raises(ValueError):  # probabilities must sum to 1 for expected
        ref.solve_set(c["base"], c["scenarios"], "expected", {s: 1 for s in c["scenarios"]})
    bad = copy.deepcopy(c["scenarios"])
    bad["duty_up"]["tables"]["plants"][0]["status"] = "keep"  # section 8: plan columns are shared
    with pytest.raises(ValueError, match="duty_up"):
        ref.solve_set(c["base"], bad, "expected", c["weights"])
    bad = copy.deepcopy(c["scenarios"])
    bad["duty_up"]["plants_kept"] = {"max": 2}  # settings are shared
    with pytest.raises(ValueError, match="duty_up"):
        ref.solve_set(c["base"], bad, "worst_case", None)


# --------------------------------------------------------------------------- #
# input rules the enumeration relies on
# --------------------------------------------------------------------------- #
def _overlap(inst):
    inst["tables"]["demand"][1]["from_year"] = 2026
    return inst


def _status_and_closure_year(inst):
    inst["tables"]["plants"][2]["status"] = "keep"
    return inst


def _closure_before_earliest(inst):
    inst["tables"]["plants"][1]["closure_year"] = 2026
    return inst


def _horizon_with_periods(inst):
    inst["horizon_years"] = 3
    return inst


def _years_without_periods(inst):
    del inst["periods"]
    return inst


def _jobs_with_max(inst):
    inst["min_jobs_cut"]["max"] = 5
    return inst


def _two_selectors(inst):
    inst["plants_kept"][0]["countries"] = ["JP"]
    return inst


def _tie(inst):
    inst["tables"]["tariffs"].append({"origin": "*", "market": "M1", "powertrain": "BEV", "ad_valorem": 0.2})
    inst["tables"]["tariffs"].append({"origin": "CN", "market": "*", "powertrain": "BEV", "ad_valorem": 0.3})
    inst["tables"]["tariffs"].pop(0)
    return inst


INPUT_ERRORS = {
    "overlapping_years": ("closure_timing", _overlap),
    "status_with_closure_year": ("negative_closure_cost", _status_and_closure_year),
    "closure_year_before_earliest": ("negative_closure_cost", _closure_before_earliest),
    "horizon_with_periods": ("closure_timing", _horizon_with_periods),
    "year_columns_without_periods": ("closure_timing", _years_without_periods),
    "jobs_rule_with_max": ("jobs_rule_by_year", _jobs_with_max),
    "two_selectors": ("country_selector", _two_selectors),
    "equally_specific_tariffs": ("quota_split", _tie),
}


@pytest.mark.parametrize("name", sorted(INPUT_ERRORS))
def test_input_errors(name):
    case, change = INPUT_ERRORS[name]
    with pytest.raises(ValueError):
        ref.solve(change(_case(case)))


# --------------------------------------------------------------------------- #
# v1 instances: the v2 oracle is the v1 oracle
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", list(range(30)) + [100 + k for k in range(10)])
def test_v1_instances_agree_with_the_v1_oracle(tmp_path, seed):
    folder = randinst.generate(seed, tmp_path / f"s{seed}", single_sourcing=True if seed >= 100 else None)
    status, npv = reference.solve(folder)
    res = ref.solve(folder)
    assert res.status == status
    if npv is not None:
        assert res.npv == pytest.approx(npv, rel=1e-7, abs=1e-6)


# --------------------------------------------------------------------------- #
# random v2 instances
# --------------------------------------------------------------------------- #
V2_SEEDS = list(range(60))

REQUIRED_FEATURES = {
    "periods", "steady_state", "multi_year", "tail_years", "discount_rate", "co2_price", "co2_cap",
    "capacity_kept", "plants_kept", "min_jobs_cut", "single_sourcing", "quota_wildcard",
    "ban_software_mid_plan", "ban_plant_mid_plan", "equity_share", "jobs_cut", "earliest_closure", "closure_year",
    "negative_closure_cost", "status_keep", "status_close", "status_free", "available_from", "nondefault_stack",
    "co2_production", "co2_freight", "selector_countries", "selector_exclude", "rule_year", "rule_list",
    *(f"years_{t}" for t in ("demand", "freight", "production", "tariffs", "tariff_quotas", "export_channels",
                             "bans")),
}


def test_random_v2_instances_cover_every_feature():
    seen: set[str] = set()
    statuses = set()
    for seed in V2_SEEDS:
        inst = randinst_v2.generate(seed)
        seen |= randinst_v2.features(inst)
        statuses.add(ref.solve(inst).status)
    assert REQUIRED_FEATURES - seen == set()
    assert statuses == {"optimal", "infeasible"}


def test_random_v2_generator_is_deterministic():
    assert randinst_v2.generate(7) == randinst_v2.generate(7)
    assert randinst_v2.generate_set(3) == randinst_v2.generate_set(3)


@pytest.mark.parametrize("seed", V2_SEEDS)
def test_random_v2_instance_runs(seed):
    inst = randinst_v2.generate(seed)
    d = ref.load(inst)
    res = ref.solve(d)
    assert res.status in ("optimal", "infeasible")
    if res.status == "optimal":
        assert ref.plan_allowed(d, res.plan)
        assert ref.plan_npv(ref.load(inst), res.plan) == approx(res.npv)  # fresh data, no cache
        assert set(res.plan.closures) == {p["plant"] for p in inst["tables"]["plants"]}


@pytest.mark.parametrize("seed", range(0, 60, 4))
def test_random_v2_instance_read_from_csv_folder(tmp_path, seed):
    """The same instance as a dict, as an inline folder and as CSV files gives one answer."""
    inst = randinst_v2.generate(seed)
    a = ref.solve(inst)
    for csv in (False, True):
        b = ref.solve(randinst_v2.write(inst, tmp_path / f"csv{csv}", csv=csv))
        assert b.status == a.status
        if a.npv is not None:
            assert b.npv == approx(a.npv)


@pytest.mark.parametrize("seed", [s for s in V2_SEEDS if "periods" not in randinst_v2.generate(s)])
def test_steady_state_is_one_undiscounted_period(seed):
    """R1: without periods, with r = 0 and H = 1, the instance is its one-year plan."""
    inst = randinst_v2.generate(seed)
    inst.pop("horizon_years", None)
    inst.pop("discount_rate", None)
    one_year = copy.deepcopy(inst)
    one_year["periods"] = {"first": 2026, "last": 2026}
    a, b = ref.solve(inst), ref.solve(one_year)
    assert a.status == b.status
    if a.npv is not None:
        assert a.npv == approx(b.npv)


@pytest.mark.parametrize("seed", range(30))
def test_random_scenario_set_runs(seed):
    case = randinst_v2.generate_set(seed)
    names = list(case["scenarios"])
    res = ref.solve_set(case["base"], case["scenarios"], case["criterion"], case["weights"])
    star = {s: ref.solve(case["scenarios"][s]).npv for s in names}
    if res.status == "infeasible":
        return
    assert res.npv_star == {s: approx(v) for s, v in star.items()}
    w = res.weights
    assert sum(w.values()) == approx(1.0)
    expected = sum(w[s] * res.npv[s] for s in names)
    if case["criterion"] == "expected":
        assert res.value == approx(expected)
    elif case["criterion"] == "worst_case":
        assert res.value == approx(min(res.npv.values()))
    else:
        assert res.value == approx(max(res.regret.values()))
    assert all(r >= -1e-6 for r in res.regret.values())
    assert res.evpi == approx(sum(w[s] * star[s] for s in names) - expected)
    assert res.evpi >= -1e-6
    if case["criterion"] == "expected" and res.vss is not None:
        assert res.vss >= -1e-6
    # the criterion value is no worse than the plan optimal for the unchanged instance
    base_plan = ref.solve(case["base"]).plan
    base_npvs = {s: ref.plan_npv(ref.load(case["scenarios"][s]), base_plan) for s in names}
    if base_plan is not None and all(v is not None for v in base_npvs.values()):
        if case["criterion"] == "expected":
            assert res.value >= sum(w[s] * base_npvs[s] for s in names) - 1e-6
        elif case["criterion"] == "worst_case":
            assert res.value >= min(base_npvs.values()) - 1e-6
        else:
            assert res.value <= max(star[s] - base_npvs[s] for s in names) + 1e-6
