"""v2 input format (model-v2.md sections 1-7, 6b, 10): every new message names file/table, row, column and a fix.

Each test breaks a small valid instance in one way (inline records, as in test_validation.py) and
checks the problem list; the v1 forms of the plant rules must parse to the same rules.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import optimizer
from optimizer.data.instance import from_dict, load
from optimizer.data.schema import (
    CapacityKeptRule,
    Co2CapRule,
    JobsRule,
    PlantsKeptRule,
    RuleList,
    Settings,
    v1_bounds,
)
from optimizer.data.validate import ERROR_CHECKS, WARNING_CHECKS, validate
from optimizer.studies.scenarios import apply_scenario, parse_scenarios
from tests.helpers import base_instance, write_instance

PERIODS = {"first": 2026, "last": 2028}


def v2(**overrides: Any) -> dict:
    """base_instance with periods 2026..2028 and a second plant P2 in CN (no lanes)."""
    cfg = base_instance(periods=dict(PERIODS), **overrides)
    cfg["tables"]["plants"].append({"plant": "P2", "country": "CN", "capacity": 100, "fixed_cost": 10,
                                    "closure_cost": 0, "headcount": 5})
    return cfg


def problems(folder: Path) -> list[optimizer.Problem]:
    with pytest.raises(optimizer.InstanceError) as info:
        validate(load(folder))
    return info.value.problems


def one(folder: Path) -> optimizer.Problem:
    probs = problems(folder)
    assert len(probs) == 1, [str(p) for p in probs]
    return probs[0]


def warnings(folder: Path) -> list[optimizer.Problem]:
    return validate(load(folder))


def complete(p: optimizer.Problem) -> None:
    """The problem names a file and has a fix."""
    assert p.where and p.fix, str(p)


# --- settings: v1 forms and rule lists ------------------------------------------------------------------------------


def rules(key: str, value: Any) -> RuleList:
    return getattr(Settings.model_validate({key: value}), key)


def test_v1_plants_kept_forms_parse_to_one_rule() -> None:
    assert rules("plants_kept", {"min": 9, "max": 9}) == [PlantsKeptRule(min=9, max=9)]
    assert rules("plants_kept", 10) == [PlantsKeptRule(min=10, max=10)]
    assert rules("plants_kept", {"max": 11}) == [PlantsKeptRule(max=11)]
    assert rules("plants_kept", {}) == [] and rules("plants_kept", None) == []
    assert rules("plants_kept", {"min": None, "max": None}) == []
    assert Settings().plants_kept == [] and isinstance(Settings().plants_kept, RuleList)
    r = rules("plants_kept", {"min": 2, "max": 5})
    assert (r.min, r.max) == (2, 5) and v1_bounds(r) == (2, 5) and r.is_v1
    assert v1_bounds([]) == (None, None)


def test_rule_mapping_with_year_or_selector_is_one_rule() -> None:
    r = rules("plants_kept", {"max": 10, "from_year": 2028, "exclude_countries": ["CN"]})
    assert r == [PlantsKeptRule(max=10, from_year=2028, exclude_countries=["CN"])]
    assert r[0].selector == ("exclude_countries", ("CN",)) and not r.is_v1
    with pytest.raises(ValueError, match="iterate the rules"):
        _ = r.max  # the v1 reading refuses to ignore a v2 rule
    assert rules("plants_kept", {"max": 3, "countries": "JP"})[0].countries == ["JP"]  # one country as a string


def test_rule_lists_are_kept_as_given() -> None:
    given = [{"max": 10, "from_year": 2028, "exclude_countries": ["CN"]}, {"min": 12}]
    assert rules("plants_kept", given) == [PlantsKeptRule(**given[0]), PlantsKeptRule(min=12)]
    assert rules("capacity_kept", [{"max": 2.5e6, "from_year": 2028}]) == [CapacityKeptRule(max=2.5e6, from_year=2028)]
    assert rules("capacity_kept", 3e6) == [CapacityKeptRule(min=3e6, max=3e6)]


def test_v1_min_jobs_cut_forms() -> None:
    r = rules("min_jobs_cut", 20000)
    assert r == [JobsRule(min=20000)] and r.min == 20000
    assert rules("min_jobs_cut", None) == [] and rules("min_jobs_cut", None).min is None
    assert rules("min_jobs_cut", {"min": 20000, "by_year": 2027}) == [JobsRule(min=20000, by_year=2027)]
    assert rules("min_jobs_cut", [{"min": 1, "countries": ["JP"]}, {"min": 2}]) == [
        JobsRule(min=1, countries=["JP"]), JobsRule(min=2)]


def test_co2_settings() -> None:
    s = Settings.model_validate({"co2_price": 50, "co2_cap": {"max": 1000}})
    assert s.co2_price == 50 and s.co2_cap == [Co2CapRule(max=1000)]
    s = Settings.model_validate({"co2_cap": [{"max": 10, "from_year": 2027}, {"max": 20}]})
    assert [c.from_year for c in s.co2_cap] == [2027, None]
    assert Settings().co2_price == 0 and Settings().co2_cap == [] and Settings().tail_years == 0


def test_v1_instance_settings_round_trip_unchanged(tmp_path: Path) -> None:
    inst = load(write_instance(tmp_path, base_instance(plants_kept={"min": 1, "max": 1}, min_jobs_cut=0)))
    again = Settings.model_validate(inst.settings.model_dump())
    assert again.plants_kept == inst.settings.plants_kept and again.min_jobs_cut == inst.settings.min_jobs_cut
    assert validate(inst) == []


def test_min_jobs_cut_with_max(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(min_jobs_cut={"min": 1, "max": 3})))
    assert p.where == "instance.yaml" and p.column == "min_jobs_cut" and "no max" in p.message and "remove max" in p.message


def test_two_selectors(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(plants_kept=[{"max": 1}, {"max": 1, "countries": ["JP"],
                                                                 "exclude_countries": ["CN"]}])))
    assert p.column == "plants_kept[2]" and "at most one selector" in p.message


def test_rule_without_min_or_max(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(capacity_kept={"from_year": 2027})))
    assert p.column == "capacity_kept" and "min and/or max" in p.message


def test_rule_min_above_max_in_list(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(plants_kept=[{"min": 1}, {"min": 3, "max": 1}])))
    assert p.column == "plants_kept[2]" and "min (3) is greater than max (1)" in p.message


def test_unknown_rule_key_lists_allowed(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(plants_kept=[{"max": 1, "from": 2027}])))
    assert p.column == "plants_kept[1].from" and "unknown key" in p.message and "from_year" in p.fix


def test_periods_reversed(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(periods={"first": 2030, "last": 2026})))
    assert p.column == "periods" and "first (2030) is after last (2026)" in p.message


def test_too_many_periods(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(periods={"first": 2000, "last": 2150})))
    assert p.column == "periods" and "at most 100" in p.message


def test_periods_year_out_of_range(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(periods={"first": 26, "last": 2028})))
    assert p.column == "periods.first"


def test_negative_co2_price_and_cap(tmp_path: Path) -> None:
    probs = problems(write_instance(tmp_path, v2(co2_price=-1, co2_cap={"max": -5})))
    assert {p.column for p in probs} == {"co2_price", "co2_cap.max"}


def test_tail_years_range(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(tail_years=-1)))
    assert p.column == "tail_years"


# --- settings that need (or exclude) periods ------------------------------------------------------------------------


def test_horizon_years_with_periods(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(horizon_years=5)))
    assert (p.where, p.column) == ("instance.yaml", "horizon_years") and "periods" in p.message
    assert "Remove horizon_years" in p.fix


@pytest.mark.parametrize("value", [0, 5])
def test_tail_years_without_periods(tmp_path: Path, value: int) -> None:
    p = one(write_instance(tmp_path, base_instance(tail_years=value)))
    assert p.column == "tail_years" and "needs periods" in p.message and "periods:" in p.fix


@pytest.mark.parametrize(("key", "value", "column"), [
    ("plants_kept", {"max": 1, "from_year": 2027}, "plants_kept.from_year"),
    ("capacity_kept", [{"max": 1}, {"max": 5, "from_year": 2027}], "capacity_kept[2].from_year"),
    ("min_jobs_cut", {"min": 1, "by_year": 2027}, "min_jobs_cut.by_year"),
    ("co2_cap", {"max": 1, "from_year": 2027}, "co2_cap.from_year"),
])
def test_rule_years_without_periods(tmp_path: Path, key: str, value: Any, column: str) -> None:
    p = one(write_instance(tmp_path, base_instance(**{key: value})))
    assert p.where == "instance.yaml" and p.column == column and "needs periods" in p.message and p.fix


def test_by_year_outside_periods(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(min_jobs_cut={"min": 1, "by_year": 2030})))
    assert p.column == "min_jobs_cut.by_year" and "2030 is outside the periods 2026..2028" in p.message
    assert "2026 to 2028" in p.fix


def test_rule_from_year_before_and_after_periods(tmp_path: Path) -> None:
    ws = warnings(write_instance(tmp_path / "a", v2(plants_kept={"max": 2, "from_year": 2020})))
    assert ws == []  # before Y1: covers every year
    ws = warnings(write_instance(tmp_path / "b", v2(plants_kept=[{"max": 2}, {"max": 2, "from_year": 2031}],
                                                    co2_cap={"max": 1, "from_year": 2031})))
    assert {w.column for w in ws} == {"plants_kept[2].from_year", "co2_cap.from_year"}
    assert all("covers no year" in w.message and w.fix for w in ws)


def test_selector_unknown_country(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(plants_kept={"max": 1, "exclude_countries": ["CN", "XX"]})))
    assert p.column == "plants_kept.exclude_countries" and "'XX'" in p.message and "CN" not in p.message.split("names")[1]
    assert "CN, JP" in p.fix


def test_selector_unknown_country_jobs_rule(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, v2(min_jobs_cut=[{"min": 1}, {"min": 1, "countries": ["MX"]}])))
    assert p.column == "min_jobs_cut[2].countries" and "'MX'" in p.message


# --- table year columns ---------------------------------------------------------------------------------------------


def test_year_columns_are_float64_with_nan(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["freight"] = [{"plant": "P1", "market": "M1", "unit_cost": 5, "to_year": 2026},
                                {"plant": "P1", "market": "M1", "unit_cost": 6, "from_year": 2027}]
    inst = load(write_instance(tmp_path, cfg))
    fr = inst.tables["freight"]
    assert fr["from_year"].dtype == "float64" and fr["to_year"].dtype == "float64"
    assert math.isnan(fr.at[0, "from_year"]) and fr.at[1, "from_year"] == 2027
    assert validate(inst) == []
    pl = inst.tables["plants"]
    assert pl["closure_year"].dtype == "float64" and pl["closure_year"].isna().all()
    assert pl["equity_share"].tolist() == [1.0, 1.0] and pl["jobs_cut"].tolist() == [10.0, 5.0]  # = headcount
    assert inst.tables["production"]["co2"].tolist() == [0.0] and inst.tables["freight"]["co2"].tolist() == [0.0, 0.0]
    for name in ("bans", "tariff_quotas"):
        assert inst.tables[name].empty and inst.tables[name]["from_year"].dtype == "float64"


def test_year_without_periods(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["demand"]
    folder = write_instance(tmp_path, cfg, {"demand": [{"model": "V1", "market": "M1", "price": 100, "max_units": 10,
                                                        "from_year": 2027}]})
    p = one(folder)
    assert (p.where, p.table, p.row, p.column) == ("demand.csv", "demand", 2, "from_year")
    assert "no periods" in p.message and "periods:" in p.fix


@pytest.mark.parametrize(("table", "column", "value"), [
    ("plants", "closure_year", 2027), ("plants", "earliest_closure", 2027), ("production", "to_year", 2030),
])
def test_plant_and_production_years_without_periods(tmp_path: Path, table: str, column: str, value: int) -> None:
    cfg = base_instance()
    cfg["tables"][table][0][column] = value
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == (table, 1, column) and "no periods" in p.message


def test_available_from_without_periods(tmp_path: Path) -> None:
    cfg = base_instance(tables={"software": [
        {"model": "V1", "stack": "S0", "origin": "JP", "dev_cost": 0, "unit_cost": 0, "default": True},
        {"model": "V1", "stack": "S1", "origin": "US", "dev_cost": 5, "unit_cost": 0, "default": False,
         "available_from": 2027}]})
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("software", 2, "available_from") and "no periods" in p.message


def test_year_not_whole(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["demand"][0]["from_year"] = 2026.5
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("demand", 1, "from_year") and "not a whole year" in p.message


def test_year_out_of_range(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["demand"][0]["to_year"] = 20270
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "to_year" and "<= 2200" in p.message


def test_to_year_before_from_year(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["production"][0].update(from_year=2028, to_year=2027)
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("production", 1, "to_year")
    assert "to_year (2027) is before from_year (2028)" in p.message and p.fix


def test_overlapping_rows_name_both(tmp_path: Path) -> None:
    cfg = v2()
    del cfg["tables"]["freight"]
    folder = write_instance(tmp_path, cfg, {"freight": [
        {"plant": "P1", "market": "M1", "unit_cost": 5, "from_year": 2026, "to_year": 2027},
        {"plant": "P1", "market": "M1", "unit_cost": 6, "from_year": 2027, "to_year": None},
    ]})
    p = one(folder)
    assert (p.where, p.table, p.row, p.column) == ("freight.csv", "freight", 3, "from_year, to_year")
    assert "rows 2 and 3" in p.message and "both apply in 2027" in p.message
    assert "row 2 or row 3" in p.fix


def test_overlap_outside_the_periods_is_an_error(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["production"] = [
        {"plant": "P1", "model": "V1", "unit_cost": 60, "to_year": 2030},
        {"plant": "P1", "model": "V1", "unit_cost": 50, "from_year": 2030},
    ]
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "production" and "rows 1 and 2" in p.message and "2030" in p.message


def test_repeated_rows_without_years_are_duplicates(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["demand"].append(dict(cfg["tables"]["demand"][0]))
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "demand" and "duplicate key" in p.message and "[1, 2]" in p.message
    assert "from_year/to_year" in p.fix


def test_row_in_no_period_is_a_warning(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["demand"].append({"model": "V1", "market": "M1", "price": 1, "max_units": 1, "from_year": 2040})
    cfg["tables"]["demand"][0]["to_year"] = 2039
    (w,) = warnings(write_instance(tmp_path, cfg))
    assert (w.table, w.row, w.column) == ("demand", 2, "from_year") and "applies in no period" in w.message and w.fix


# --- plants over time -----------------------------------------------------------------------------------------------


def test_closure_year_with_status(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][0].update(status="keep", closure_year=2027)
    cfg["tables"]["plants"][1].update(status="free", closure_year=2027)  # free beside closure_year is fine (10.1)
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("plants", 1, "closure_year") and "status keep" in p.message
    assert "not both" in p.fix


def test_closure_year_with_status_close(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][1].update(status="close", closure_year=2026)
    p = one(write_instance(tmp_path, cfg))
    assert (p.row, p.column) == (2, "closure_year") and "status close" in p.message


def test_closure_year_before_earliest_closure(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][0].update(closure_year=2026, earliest_closure=2027)
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("plants", 1, "closure_year")
    assert "closure_year 2026 is before earliest_closure 2027" in p.message and p.fix


def test_status_close_with_later_earliest_closure(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][1].update(status="close", earliest_closure=2027)
    cfg["tables"]["plants"][0].update(status="close", earliest_closure=2026)  # = Y1: fine
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("plants", 2, "earliest_closure") and "status close" in p.message
    assert "closure_year 2027" in p.fix


def test_closure_year_after_the_periods_is_a_warning(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][0]["closure_year"] = 2031
    (w,) = warnings(write_instance(tmp_path, cfg))
    assert (w.table, w.row, w.column) == ("plants", 1, "closure_year") and "open in every year" in w.message


def test_equity_share_range(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][0]["equity_share"] = 0
    cfg["tables"]["plants"][1]["equity_share"] = 1.5
    probs = problems(write_instance(tmp_path, cfg))
    assert {(p.row, p.column) for p in probs} == {(1, "equity_share"), (2, "equity_share")}
    assert any("> 0" in p.message for p in probs) and any("<= 1" in p.message for p in probs)


def test_negative_closure_cost_and_jobs_cut(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][0].update(closure_cost=-100, jobs_cut=4, equity_share=0.5)
    inst = load(write_instance(tmp_path / "ok", cfg))
    assert inst.tables["plants"]["closure_cost"].tolist()[0] == -100
    assert inst.tables["plants"]["jobs_cut"].tolist() == [4.0, 5.0]
    cfg["tables"]["plants"][0]["jobs_cut"] = -1
    p = one(write_instance(tmp_path / "bad", cfg))
    assert p.column == "jobs_cut" and ">= 0" in p.message


def test_available_from_on_default_stack(tmp_path: Path) -> None:
    cfg = v2(tables={"software": [
        {"model": "V1", "stack": "S0", "origin": "JP", "dev_cost": 0, "unit_cost": 0, "default": True,
         "available_from": 2027}]})
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("software", 1, "available_from") and "default stack" in p.message
    assert "set default to false" in p.fix


def test_available_from_after_the_periods_is_a_warning(tmp_path: Path) -> None:
    cfg = v2(tables={"software": [
        {"model": "V1", "stack": "S0", "origin": "JP", "dev_cost": 0, "unit_cost": 0, "default": True},
        {"model": "V1", "stack": "S1", "origin": "US", "dev_cost": 0, "unit_cost": 0, "default": False,
         "available_from": 2029}]})
    (w,) = warnings(write_instance(tmp_path, cfg))
    assert (w.table, w.row, w.column) == ("software", 2, "available_from") and "never developed" in w.message


def test_co2_columns_non_negative(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["production"][0]["co2"] = -1
    cfg["tables"]["freight"][0]["co2"] = -0.5
    probs = problems(write_instance(tmp_path, cfg))
    assert {(p.table, p.column) for p in probs} == {("production", "co2"), ("freight", "co2")}


# --- bans and quotas ------------------------------------------------------------------------------------------------


def test_bans_kind_and_market(tmp_path: Path) -> None:
    cfg = v2(tables={"bans": [{"market": "M1", "kind": "hardware", "origin": "CN"},
                              {"market": "M1", "kind": "plant", "origin": "CN", "from_year": 2027}]})
    p = one(write_instance(tmp_path / "a", cfg))
    assert (p.table, p.row, p.column) == ("bans", 1, "kind") and "software, plant" in p.fix
    cfg = v2(tables={"bans": [{"market": "M9", "kind": "software", "origin": "CN"}]})
    p = one(write_instance(tmp_path / "b", cfg))
    assert (p.table, p.row, p.column) == ("bans", 1, "market") and "M9" in p.message and "M1" in p.fix


def test_bans_overlap(tmp_path: Path) -> None:
    cfg = v2(tables={"bans": [{"market": "M1", "kind": "software", "origin": "CN", "from_year": 2027},
                              {"market": "M1", "kind": "software", "origin": "CN", "from_year": 2028}]})
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "bans" and "rows 1 and 2" in p.message


def test_quota_columns(tmp_path: Path) -> None:
    cfg = v2(tables={"tariff_quotas": [{"origin": "CN", "market": "*", "powertrain": "BEV", "quota": -1,
                                        "ad_valorem": 0.061}]})
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("tariff_quotas", 1, "quota") and ">= 0" in p.message
    cfg = v2(tables={"tariff_quotas": [{"origin": "CN", "market": "M1", "powertrain": "EV", "quota": 1,
                                        "ad_valorem": 0.061}]})
    p = one(write_instance(tmp_path / "b", cfg))
    assert (p.table, p.column) == ("tariff_quotas", "powertrain")


def _two_markets(cfg: dict) -> dict:
    """P2 (CN) serves M2 (US) with V1 (BEV): the flow CN -> M2 exists."""
    cfg["tables"]["markets"].append({"market": "M2", "country": "US"})
    cfg["tables"]["production"].append({"plant": "P2", "model": "V1", "unit_cost": 50})
    cfg["tables"]["freight"].append({"plant": "P2", "market": "M2", "unit_cost": 5})
    cfg["tables"]["demand"].append({"model": "V1", "market": "M2", "price": 100, "max_units": 5})
    return cfg


@pytest.mark.parametrize("table", ["tariffs", "tariff_quotas"])
def test_equally_specific_rows_in_a_common_year(tmp_path: Path, table: str) -> None:
    extra = {"quota": 10} if table == "tariff_quotas" else {}
    cfg = _two_markets(v2(tables={table: [
        {"origin": "CN", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1, "to_year": 2027, **extra},
        {"origin": "*", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.2, "from_year": 2027, **extra},
    ]}))
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row) == (table, 1)
    assert "rows [1, 2] are equally specific and both match origin=CN, market=M2, powertrain=BEV in 2027." in p.message
    assert "do not overlap" in p.fix


def test_equally_specific_rows_in_different_years_are_fine(tmp_path: Path) -> None:
    cfg = _two_markets(v2(tables={"tariffs": [
        {"origin": "CN", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1, "to_year": 2026},
        {"origin": "*", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.2, "from_year": 2027},
    ]}))
    assert warnings(write_instance(tmp_path, cfg)) == []


def test_more_specific_row_resolves_the_tie_in_its_years(tmp_path: Path) -> None:
    rows = [
        {"origin": "CN", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1},
        {"origin": "*", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.2},
        {"origin": "CN", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.3, "from_year": 2027},
    ]
    p = one(write_instance(tmp_path / "a", _two_markets(v2(tables={"tariffs": rows}))))
    assert "in 2026." in p.message  # the specific row applies from 2027 only
    rows[2]["from_year"] = None
    assert warnings(write_instance(tmp_path / "b", _two_markets(v2(tables={"tariffs": rows})))) == []


def test_tie_on_a_flow_that_does_not_exist_in_that_year_is_fine(tmp_path: Path) -> None:
    cfg = _two_markets(v2(tables={"tariffs": [
        {"origin": "CN", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1},
        {"origin": "*", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.2},
    ]}))
    cfg["tables"]["freight"][-1]["to_year"] = 2026  # the lane CN -> M2 exists in 2026 only
    p = one(write_instance(tmp_path / "a", cfg))
    assert p.message.endswith("in 2026.")
    cfg["tables"]["bans"] = [{"market": "M2", "kind": "plant", "origin": "CN"}]  # and is banned
    assert warnings(write_instance(tmp_path / "b", cfg)) == []


def test_v1_tie_without_periods_names_no_year(tmp_path: Path) -> None:
    cfg = _two_markets(base_instance(tables={"tariffs": [
        {"origin": "CN", "market": "*", "powertrain": "*", "ad_valorem": 0.1},
        {"origin": "*", "market": "M2", "powertrain": "*", "ad_valorem": 0.2},
    ]}))
    cfg["tables"]["plants"].append({"plant": "P2", "country": "CN", "capacity": 1, "fixed_cost": 0,
                                    "closure_cost": 0, "headcount": 0})
    p = one(write_instance(tmp_path, cfg))
    assert p.message == "rows [1, 2] are equally specific and both match origin=CN, market=M2, powertrain=BEV."


# --- scenarios on rule lists and periods ----------------------------------------------------------------------------


def test_scenario_settings_on_rule_lists(tmp_path: Path) -> None:
    cfg = v2(plants_kept=[{"max": 2}, {"max": 1, "from_year": 2027, "exclude_countries": ["CN"]}])
    inst = optimizer.load(write_instance(tmp_path, cfg))
    cat = parse_scenarios({"a": {"settings": {"plants_kept": {"min": 1, "max": 1}}},
                           "b": {"settings": {"plants_kept": [{"max": 1, "countries": ["CN"]}], "tail_years": 5,
                                              "min_jobs_cut": 3}}})
    a = apply_scenario(inst, "a", cat)
    assert a.instance.settings.plants_kept == [PlantsKeptRule(min=1, max=1),
                                               PlantsKeptRule(max=1, from_year=2027, exclude_countries=["CN"])]
    assert "settings.plants_kept.min: (empty) -> 1" in a.changes
    assert "horizon_years" not in a.instance.settings.model_fields_set  # no false "horizon_years with periods"
    b = apply_scenario(inst, "b", cat)
    assert b.instance.settings.plants_kept == [PlantsKeptRule(max=1, countries=["CN"])]
    assert b.instance.settings.tail_years == 5 and b.instance.settings.min_jobs_cut == [JobsRule(min=3)]


def test_scenario_v1_settings_still_merge(tmp_path: Path) -> None:
    inst = optimizer.load(write_instance(tmp_path, base_instance(plants_kept={"max": 1})))
    a = apply_scenario(inst, {"settings": {"plants_kept": {"min": 1}}})
    assert (a.instance.settings.plants_kept.min, a.instance.settings.plants_kept.max) == (1, 1)
    b = apply_scenario(inst, {"settings": {"plants_kept": {"min": 9, "max": 9}}})
    assert b.instance.settings.plants_kept == [PlantsKeptRule(min=9, max=9)]


def test_scenario_moves_a_closure_year(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][0]["closure_year"] = 2027
    inst = optimizer.load(write_instance(tmp_path, cfg))
    a = apply_scenario(inst, {"changes": [{"table": "plants", "where": {"plant": "P1"}, "add": {"closure_year": 1}}]})
    assert a.instance.tables["plants"].set_index("plant").at["P1", "closure_year"] == 2028
    bad = {"changes": [{"table": "plants", "where": {"plant": "P1"}, "set": {"status": "keep"}}]}
    with pytest.raises(optimizer.InstanceError) as info:
        apply_scenario(inst, bad)
    assert any(p.column == "closure_year" for p in info.value.problems)


def test_checks_are_named() -> None:
    names = {c.__name__ for c in ERROR_CHECKS + WARNING_CHECKS}
    assert {"check_settings_years", "check_years_need_periods", "check_closure_timing", "check_available_from",
            "check_selectors", "check_ambiguous_rates", "warn_years"} <= names


def test_from_dict_inline(tmp_path: Path) -> None:
    inst = from_dict(v2(tables={"tariff_quotas": [{"origin": "CN", "market": "*", "powertrain": "*", "quota": 49000,
                                                    "ad_valorem": 0.061}]}))
    q = inst.tables["tariff_quotas"]
    assert q["specific"].tolist() == [0.0] and pd.isna(q.at[0, "from_year"])


def test_capacity_kept_unreachable_is_a_warning(tmp_path: Path) -> None:
    ws = warnings(write_instance(tmp_path, v2(capacity_kept={"min": 500, "countries": ["JP"]})))
    assert [w.column for w in ws] == ["capacity_kept.min"] and "capacity 100" in ws[0].message


def test_jobs_rule_uses_jobs_cut(tmp_path: Path) -> None:
    cfg = v2(min_jobs_cut={"min": 8, "countries": ["JP"]})
    cfg["tables"]["plants"][0]["jobs_cut"] = 6  # headcount 10, but only 6 jobs are lost
    (w,) = warnings(write_instance(tmp_path, cfg))
    assert w.column == "min_jobs_cut" and "(6)" in w.message


def test_scenario_changing_headcount_moves_the_jobs_cut_default(tmp_path: Path) -> None:
    cfg = v2()
    cfg["tables"]["plants"][1]["jobs_cut"] = 3  # given: stays
    inst = optimizer.load(write_instance(tmp_path, cfg))
    a = apply_scenario(inst, {"changes": [{"table": "plants", "set": {"headcount": 7}},
                                          {"table": "demand", "scale": {"price": 2}}]})
    pl = a.instance.tables["plants"]
    assert pl["headcount"].tolist() == [7.0, 7.0] and pl["jobs_cut"].tolist() == [7.0, 3.0]
    assert a.instance.tables["demand"]["customs_value"].tolist() == [100.0]  # as in v1: the value loaded
    b = apply_scenario(inst, {"changes": [{"table": "plants", "where": {"plant": "P1"}, "set": {"jobs_cut": 2}}]})
    assert b.instance.tables["plants"]["jobs_cut"].tolist() == [2.0, 3.0]


def test_tie_before_a_ban_starts_names_those_years(tmp_path: Path) -> None:
    cfg = _two_markets(v2(tables={"tariffs": [
        {"origin": "CN", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1},
        {"origin": "*", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.2},
    ], "bans": [{"market": "M2", "kind": "plant", "origin": "CN", "from_year": 2028}]}))
    p = one(write_instance(tmp_path, cfg))
    assert p.message.endswith("powertrain=BEV in 2026..2027.")


def test_scenario_null_bound_removes_the_plain_rule(tmp_path: Path) -> None:
    cfg = v2(plants_kept=[{"max": 2}, {"max": 1, "countries": ["JP"]}])
    inst = optimizer.load(write_instance(tmp_path, cfg))
    a = apply_scenario(inst, {"settings": {"plants_kept": {"max": None}}})
    assert a.instance.settings.plants_kept == [PlantsKeptRule(max=1, countries=["JP"])]
    assert "settings.plants_kept.max: 2 -> (empty)" in a.changes
