"""Scenarios: named overrides applied to a validated base instance (optimizer.scenarios)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import optimizer
from optimizer.errors import InstanceValidationError
from optimizer.studies.scenarios import (
    apply_scenario,
    build_scenario,
    load_scenarios,
    parse_scenarios,
    resolve_chain,
    solve_scenario,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
NISSAN = ROOT / "instances" / "nissan_2026_v1"


@pytest.fixture(scope="module")
def tiny() -> optimizer.Instance:
    return optimizer.load(TINY)


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> optimizer.Instance:
    from optimizer.bench.generate import generate

    d = tmp_path_factory.mktemp("gen") / "g"
    generate(d, plants=8, models=3, markets=10, seed=1)
    return optimizer.load(d)


def apply(inst: optimizer.Instance, **scenarios: dict) -> dict:
    cat = parse_scenarios(scenarios, where="test.yaml")
    return {n: apply_scenario(inst, n, cat) for n in scenarios}


def messages(exc: pytest.ExceptionInfo) -> str:
    return "\n".join(str(p) for p in exc.value.problems)


# --- operations ---------------------------------------------------------------------------------------------------


def test_set_scale_add_and_the_base_is_not_mutated(tiny: optimizer.Instance) -> None:
    before = {n: t.copy() for n, t in tiny.tables.items()}
    a = apply(tiny, s={"changes": [
        {"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}},
        {"table": "tariffs", "where": {"origin": "CN"}, "add": {"ad_valorem": 0.25}},
        {"table": "plants", "where": {"plant": "A"}, "set": {"fixed_cost": 10, "status": "keep"}},
    ]})["s"]
    new = a.instance.tables
    assert new["demand"].set_index("market").loc["TH", "max_units"] == 25
    assert new["demand"].set_index("market").loc["JP", "max_units"] == 80
    t = new["tariffs"].set_index(["origin", "market"])
    assert t.loc[("CN", "JP"), "ad_valorem"] == pytest.approx(0.45)
    assert t.loc[("*", "TH"), "ad_valorem"] == pytest.approx(0.1)
    p = new["plants"].set_index("plant")
    assert p.loc["A", "fixed_cost"] == 10 and p.loc["A", "status"] == "keep"
    assert new["plants"]["fixed_cost"].dtype == float  # re-typed like a loaded table
    for n, t0 in before.items():  # the base instance is untouched
        pd_equal(tiny.tables[n], t0)
    assert a.changes == (
        "demand[market=TH].max_units (x 0.5): 50 -> 25 (1 row)",
        "tariffs[origin=CN].ad_valorem (+0.25): 0.2 -> 0.45 (1 row)",
        "plants[plant=A].fixed_cost (= 10): 1000 -> 10 (1 row)",
        "plants[plant=A].status (= keep): free -> keep (1 row)",
    )
    assert a.instance.path == tiny.path and a.instance.rows["plants"].tolist() == tiny.rows["plants"].tolist()


def pd_equal(a, b) -> None:
    import pandas.testing as pdt

    pdt.assert_frame_equal(a, b)


def test_scenario_solve_equals_a_solve_of_the_edited_instance(tiny: optimizer.Instance) -> None:
    res, applied = solve_scenario(tiny, {"changes": [{"table": "demand", "where": {"market": "JP"},
                                                      "scale": {"max_units": 0.5, "price": 1.1}}]})
    d = tiny.tables["demand"].copy()
    d.loc[d["market"] == "JP", "max_units"] *= 0.5
    d.loc[d["market"] == "JP", "price"] *= 1.1
    ref = optimizer.solve(tiny.replace(tables={**tiny.tables, "demand": d}))
    assert res.status == "optimal" and res.objective == pytest.approx(ref.objective, rel=1e-9)
    assert len(applied.changes) == 2


def test_join_filters_list_values_and_list_columns(gen: optimizer.Instance) -> None:
    regions = sorted(set(gen.tables["markets"]["region"]))
    a = apply(gen, s={"changes": [
        {"table": "tariffs", "where": {"market.region": regions[0]}, "add": {"ad_valorem": 0.2}},
        {"table": "markets", "where": {"region": regions[:2]}, "add": {"banned_software_origins": ["CN", "RU"]}},
        {"table": "demand", "where": {"market.country": "JP", "model.powertrain": ["ICE", "PHEV"]},
         "scale": {"max_units": 0.7}},
        {"table": "freight", "where": {"plant.country": "MX"}, "scale": {"unit_cost": 2}},
    ]})["s"]
    old, new = gen.tables, a.instance.tables
    region_of = dict(zip(old["markets"]["market"], old["markets"]["region"]))
    in_region = old["tariffs"]["market"].map(region_of) == regions[0]
    assert in_region.any()
    assert (new["tariffs"]["ad_valorem"][in_region] == old["tariffs"]["ad_valorem"][in_region] + 0.2).all()
    assert (new["tariffs"]["ad_valorem"][~in_region] == old["tariffs"]["ad_valorem"][~in_region]).all()
    star = old["tariffs"]["market"] == "*"
    assert (new["tariffs"]["ad_valorem"][star] == old["tariffs"]["ad_valorem"][star]).all()  # wildcards never join
    for m, bans0, bans1, r in zip(old["markets"]["market"], old["markets"]["banned_software_origins"],
                                  new["markets"]["banned_software_origins"], old["markets"]["region"]):
        assert set(bans1) == (set(bans0) | {"CN", "RU"} if r in regions[:2] else set(bans0)), m
    jp = old["demand"]["market"].map(dict(zip(old["markets"]["market"], old["markets"]["country"]))) == "JP"
    assert new["demand"]["max_units"][jp].tolist() == pytest.approx((old["demand"]["max_units"][jp] * 0.7).tolist())
    mx = old["freight"]["plant"].map(dict(zip(old["plants"]["plant"], old["plants"]["country"]))) == "MX"
    assert new["freight"]["unit_cost"][mx].tolist() == pytest.approx((old["freight"]["unit_cost"][mx] * 2).tolist())
    res = optimizer.solve(build_scenario(a), threads=1)
    assert res.status == "optimal"


def test_list_column_filter_matches_membership(gen: optimizer.Instance) -> None:
    banned = gen.tables["markets"]["banned_software_origins"].map(lambda t: "CN" in t)
    assert banned.any()
    a = apply(gen, s={"changes": [{"table": "markets", "where": {"banned_software_origins": "CN"},
                                   "set": {"banned_software_origins": ""}}]})["s"]
    assert a.instance.tables["markets"]["banned_software_origins"][banned].map(len).eq(0).all()
    assert f"({int(banned.sum())} rows)" in a.changes[0] or f"({int(banned.sum())} row)" in a.changes[0]


def test_add_rows_and_remove(tiny: optimizer.Instance) -> None:
    a = apply(tiny, s={"changes": [
        {"table": "tariffs", "where": {"market": "TH"}, "remove": True},
        {"table": "tariffs", "add_rows": [{"origin": "CN", "market": "TH", "powertrain": "*", "ad_valorem": 0.3}]},
    ]})["s"]
    t = a.instance.tables["tariffs"]
    assert len(t) == 2 and set(zip(t["origin"], t["market"])) == {("CN", "JP"), ("CN", "TH")}
    assert t["specific"].tolist() == [0.0, 0.0]  # the default is filled in for the added row
    assert a.changes[0] == "tariffs[market=TH]: removed 1 row(s)"


def test_settings_are_merged_and_validated(tiny: optimizer.Instance) -> None:
    a = apply(tiny, s={"settings": {"plants_kept": {"min": 1}, "solver": {"time_limit_s": 5, "threads": 2},
                                    "discount_rate": 0.05, "horizon_years": 3}})["s"]
    s = a.instance.settings
    assert (s.plants_kept.min, s.plants_kept.max) == (1, 1)  # max kept from the base
    assert s.solver.time_limit_s == 5 and s.solver.mip_rel_gap == tiny.settings.solver.mip_rel_gap
    assert a.threads_set and s.discount_rate == 0.05 and s.horizon_years == 3
    assert "settings.plants_kept.min: (empty) -> 1" in a.changes
    with pytest.raises(InstanceValidationError) as exc:
        apply(tiny, s={"settings": {"discount_rate": 2}})
    assert "discount_rate" in messages(exc) and "scenario 's'" in messages(exc)
    with pytest.raises(InstanceValidationError) as exc:
        apply(tiny, s={"settings": {"currency": "EUR"}})
    assert "cannot be changed" in messages(exc)


def test_precedence_extends_then_own_settings_then_changes_then_overrides(tiny: optimizer.Instance) -> None:
    cat = parse_scenarios({
        "parent": {"settings": {"min_jobs_cut": 10, "horizon_years": 2},
                   "changes": [{"table": "demand", "where": {"market": "TH"}, "set": {"max_units": 40}}]},
        "child": {"extends": "parent", "settings": {"horizon_years": 3},
                  "changes": [{"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]},
    })
    assert [s.name for s in resolve_chain("child", cat)] == ["parent", "child"]
    a = apply_scenario(tiny, "child", cat, overrides={"horizon_years": 4})
    assert a.instance.settings.min_jobs_cut.min == 10 and a.instance.settings.horizon_years == 4
    assert a.instance.tables["demand"].set_index("market").loc["TH", "max_units"] == 20  # set 40, then x 0.5
    assert a.changes[0].startswith("(from parent) ")
    assert not a.changes[-2].startswith("(from")


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "text"), [
    ({"table": "tarifs", "add": {"ad_valorem": 0.1}}, "unknown table 'tarifs'"),
    ({"table": "tariffs", "add": {"advalorem": 0.1}}, "unknown column 'advalorem'"),
    ({"table": "tariffs", "where": {"orign": "CN"}, "add": {"ad_valorem": 0.1}}, "unknown column 'orign'"),
    ({"table": "tariffs", "where": {"origin": "XX"}, "add": {"ad_valorem": 0.1}}, "value 'XX' does not occur"),
    ({"table": "tariffs", "where": {"market.region": "EU"}, "add": {"ad_valorem": 0.1}}, "value 'EU' does not occur"),
    ({"table": "tariffs", "where": {"plant.country": "JP"}, "add": {"ad_valorem": 0.1}}, "joins supported on tariffs"),
    ({"table": "tariffs", "where": {"origin": "CN", "market": "TH"}, "add": {"ad_valorem": 0.1}}, "selects no row"),
    ({"table": "tariffs", "where": {"origin": "CN"}, "add": {"market": "X"}}, "key column"),
    ({"table": "tariffs", "where": {"origin": "CN"}, "scale": {"note": 2}}, "not numeric"),
    ({"table": "tariffs", "where": {"origin": "CN"}, "add": {"ad_valorem": "lots"}}, "not a number"),
    ({"table": "tariffs", "where": {"origin": "CN"}, "set": {"ad_valorem": -1}}, "must be >= 0"),
    ({"table": "plants", "where": {"plant": "A"}, "set": {"status": "shut"}}, "'shut' is not allowed"),
    ({"table": "markets", "where": {"country": False}, "set": {"region": "X"}}, "Quote the value"),
    ({"table": "tariffs", "where": {"origin": "CN"}, "set": {"ad_valorem": 0.1}, "add": {"ad_valorem": 0.1}},
     "changed twice"),
    ({"table": "tariffs"}, "no operation"),
    ({"table": "tariffs", "add_rows": [{"origin": "CN", "market": "JP", "powertrain": "BEV", "ad_valorem": 0.1}]},
     "duplicate key"),
    ({"table": "freight", "add_rows": [{"plant": "Z", "market": "JP", "unit_cost": 1}]}, "unknown plant 'Z'"),
])
def test_bad_changes_are_input_errors_naming_the_scenario(tiny: optimizer.Instance, change: dict, text: str) -> None:
    with pytest.raises(InstanceValidationError) as exc:
        apply(tiny, bad={"changes": [{"table": "demand", "where": {"market": "JP"}, "scale": {"price": 1}}, change]})
    msg = messages(exc)
    assert text in msg
    assert "scenario 'bad'" in msg and "test.yaml" in msg


def test_same_field_twice_in_one_scenario(tiny: optimizer.Instance) -> None:
    with pytest.raises(InstanceValidationError) as exc:
        apply(tiny, twice={"changes": [
            {"table": "tariffs", "where": {"origin": "CN"}, "add": {"ad_valorem": 0.1}},
            {"table": "tariffs", "where": {"market": "JP"}, "set": {"ad_valorem": 0.5}},
        ]})
    p = exc.value.problems[0]
    assert "already changed by change #1" in p.message and p.column == "scenarios.twice.changes[2].set.ad_valorem"
    # a scenario that extends another may change the same value again
    cat = parse_scenarios({"a": {"changes": [{"table": "tariffs", "where": {"origin": "CN"}, "add": {"ad_valorem": 0.1}}]},
                           "b": {"extends": "a", "changes": [
                               {"table": "tariffs", "where": {"origin": "CN"}, "add": {"ad_valorem": 0.1}}]}})
    t = apply_scenario(tiny, "b", cat).instance.tables["tariffs"].set_index("origin")
    assert t.loc["CN", "ad_valorem"] == pytest.approx(0.4)


def test_structure_errors() -> None:
    with pytest.raises(InstanceValidationError) as exc:
        parse_scenarios({"base": {}, "x": {"extends": "nope"}, "z": {"colour": 1}, "y": {"settings": {"tables": {}}}})
    msg = messages(exc)
    assert "reserved" in msg and "extends unknown scenario 'nope'" in msg and "unknown key 'colour'" in msg
    assert "setting 'tables' cannot be changed" in msg
    cat = parse_scenarios({"a": {"extends": "b"}, "b": {"extends": "a"}})
    with pytest.raises(InstanceValidationError, match="cycle"):
        resolve_chain("a", cat)
    with pytest.raises(InstanceValidationError, match="unknown scenario 'zz'"):
        resolve_chain("zz", cat)


def test_fix_software(gen: optimizer.Instance) -> None:
    sw = gen.tables["software"]
    alt = sw[~sw["default"].astype(bool)].iloc[0]
    key = (alt["model"], alt["stack"])
    for developed in (True, False):
        a = apply(gen, s={"fix_software": [{"model": key[0], "stack": key[1], "developed": developed}]})["s"]
        assert a.fix_software == {key: developed}
        res = optimizer.solve(build_scenario(a), threads=1)
        row = res.software.set_index(["model", "stack"]).loc[key]
        assert bool(row["developed"]) is developed
    dflt = sw[sw["default"].astype(bool)].iloc[0]
    with pytest.raises(InstanceValidationError, match="default stack"):
        apply(gen, s={"fix_software": [{"model": dflt["model"], "stack": dflt["stack"], "developed": False}]})


# --- files --------------------------------------------------------------------------------------------------------


def test_scenarios_file_and_inline_scenarios(tmp_path: Path) -> None:
    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    cfg = yaml.safe_load((d / "instance.yaml").read_text())
    cfg["scenarios"] = {"inline_one": {"settings": {"min_jobs_cut": 1}}}
    (d / "instance.yaml").write_text(yaml.safe_dump(cfg))
    (d / "scenarios.yaml").write_text("scenarios:\n  from_file:\n    changes:\n"
                                      "      - {table: demand, where: {market: TH}, scale: {max_units: 0.5}}\n")
    cat = load_scenarios(d)
    assert set(cat) == {"inline_one", "from_file"}
    assert cat["from_file"].where.endswith("scenarios.yaml")
    (d / "other.yaml").write_text("scenarios:\n  inline_one: {}\n")
    with pytest.raises(InstanceValidationError, match="also defined in instance.yaml"):
        load_scenarios(d, d / "other.yaml")
    (d / "other.yaml").write_text("scenarios:\n  a: {}\n  a: {}\n")
    with pytest.raises(optimizer.InstanceError, match="duplicate key 'a'"):
        load_scenarios(d, d / "other.yaml")


@pytest.mark.skipif(not (NISSAN / "scenarios.yaml").is_file(), reason="nissan_2026_v1 not present")
def test_nissan_scenario_file_applies() -> None:
    inst = optimizer.load(NISSAN)
    cat = load_scenarios(inst)
    assert len(cat) >= 6
    for name in cat:
        assert cat[name].description, name
        a = apply_scenario(inst, name, cat)
        assert a.changes, name
    eu = apply_scenario(inst, "eu_duty_up", cat)
    assert eu.changes[0] == "tariffs[origin=CN, market.region=EU].ad_valorem (+0.2): 0.307/0.1 -> 0.507/0.3 (2 rows)"


def test_added_rows_take_part_in_later_changes(tiny: optimizer.Instance) -> None:
    a = apply(tiny, s={"changes": [
        {"table": "markets", "add_rows": [{"market": "XX", "country": "XX", "banned_software_origins": ["CN", "RU"]}]},
        {"table": "markets", "where": {"market": "XX"}, "add": {"banned_software_origins": "US"}},
    ]})["s"]
    m = a.instance.tables["markets"].set_index("market")
    assert m.loc["XX", "banned_software_origins"] == ("CN", "RU", "US") and m.loc["XX", "region"] == ""
    assert a.changes[-1] == "markets[market=XX].banned_software_origins (+ US): CN;RU -> CN;RU;US (1 row)"
