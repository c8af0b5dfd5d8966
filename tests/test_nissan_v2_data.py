"""Consistency checks of the multi-year (v2) Nissan case, instances/nissan_2026.

These tests read the files with pandas and yaml only (no engine import; the solve and the
README comparison are checked in tests/test_nissan_case.py) and check the rules of shared/spec/model-v2.md that the data must
satisfy: year ranges, tariff specificity per year, plant columns, reachable plant rules,
feasible commitments, scenario sets that keep the plan shared, and sourcing.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

CASE = Path(__file__).resolve().parents[1] / "instances" / "nissan_2026"

# key columns of the tables that may carry from_year/to_year (spec section 2)
KEYS = {
    "demand": ["model", "market"],
    "freight": ["plant", "market"],
    "production": ["plant", "model"],
    "tariffs": ["origin", "market", "powertrain"],
    "tariff_quotas": ["origin", "market", "powertrain"],
    "export_channels": ["origin"],
    "bans": ["market", "kind", "origin"],
}
# columns a scenario in a set may not change, and tables whose rows it may not add or remove
FROZEN = {"plants": {"status", "earliest_closure", "closure_year", "headcount", "jobs_cut"},
          "software": {"default", "available_from"}}
RHD = {"TH", "ID", "MY", "AU", "NZ", "GB", "ZA", "JP", "IN"}


@pytest.fixture(scope="module")
def inst() -> dict:
    return yaml.safe_load((CASE / "instance.yaml").read_text())


@pytest.fixture(scope="module")
def tables(inst: dict) -> dict[str, pd.DataFrame]:
    out = {}
    for name, path in inst["tables"].items():
        assert (CASE / path).is_file(), f"table {name}: {path} missing"
        out[name] = pd.read_csv(CASE / path, dtype=str, keep_default_na=False)
    return out


@pytest.fixture(scope="module")
def scen() -> dict:
    return yaml.safe_load((CASE / "scenarios.yaml").read_text())


@pytest.fixture(scope="module")
def years(inst: dict) -> list[int]:
    return list(range(inst["periods"]["first"], inst["periods"]["last"] + 1))


def _year(v: str) -> int | None:
    return int(float(v)) if str(v).strip() != "" else None


def _applies(row: pd.Series, y: int) -> bool:
    lo, hi = _year(row.get("from_year", "")), _year(row.get("to_year", ""))
    return (lo is None or lo <= y) and (hi is None or y <= hi)


# ------------------------------------------------------------------ settings


def test_settings_are_v2(inst: dict) -> None:
    assert inst["periods"] == {"first": 2026, "last": 2035}
    assert "horizon_years" not in inst  # an input error beside periods
    assert inst["currency"] == "USD"
    assert 0 < inst["discount_rate"] < 0.2
    assert isinstance(inst["tail_years"], int) and inst["tail_years"] >= 0
    for rule_key in ("plants_kept", "capacity_kept"):
        rules = inst[rule_key]
        assert isinstance(rules, list) and rules
        for r in rules:
            assert {"countries", "exclude_countries"} & set(r) != {"countries", "exclude_countries"}
            assert r.get("exclude_countries") == ["CN"]
    assert any(r["max"] == 10 for r in inst["plants_kept"])
    assert any(r["max"] == 2_500_000 for r in inst["capacity_kept"])


# ------------------------------------------------------------------ sources


def test_every_row_sourced_and_ids_exist(inst: dict, tables: dict[str, pd.DataFrame]) -> None:
    ids = {s["id"] for s in inst["sources"]}
    assert len(ids) == len(inst["sources"]), "duplicate source id"
    for s in inst["sources"]:
        assert s.get("title"), s
    for name, df in tables.items():
        assert "source" in df.columns, f"{name} has no source column"
        for i, src in enumerate(df["source"]):
            assert src.strip(), f"{name} row {i + 2}: empty source"
            cited = set(re.findall(r"\bS\d+\b", src))
            assert cited or "assumption" in src, f"{name} row {i + 2}: neither a source id nor 'assumption'"
            assert cited <= ids, f"{name} row {i + 2}: unknown source ids {sorted(cited - ids)}"


def test_scenario_source_ids_exist(inst: dict, scen: dict) -> None:
    ids = {s["id"] for s in inst["sources"]}
    for name, sc in scen["scenarios"].items():
        assert set(sc.get("sources", [])) <= ids, name
        for ch in sc.get("changes", []):
            for row in ch.get("add_rows", []):
                cited = set(re.findall(r"\bS\d+\b", str(row.get("source", ""))))
                assert cited <= ids, (name, row)


# ------------------------------------------------------------------ year ranges


@pytest.mark.parametrize("table", sorted(KEYS))
def test_no_overlapping_year_ranges(tables: dict[str, pd.DataFrame], table: str) -> None:
    df = tables[table]
    for key, grp in df.groupby(KEYS[table]):
        spans = []
        for _, r in grp.iterrows():
            lo, hi = _year(r.get("from_year", "")), _year(r.get("to_year", ""))
            lo = -10**9 if lo is None else lo
            hi = 10**9 if hi is None else hi
            assert lo <= hi, (table, key, lo, hi)
            spans.append((lo, hi))
        spans.sort()
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 < b0, f"{table} {key}: year ranges overlap ({a0}-{a1}, {b0}-{b1})"


def _most_specific(df: pd.DataFrame, o: str, m: str, p: str, y: int) -> list[int]:
    best, rows = -1, []
    for i, keys, lo, hi in _rule_rows(df):
        if (lo is not None and y < lo) or (hi is not None and y > hi):
            continue
        if any(k != "*" and k != v for k, v in zip(keys, (o, m, p))):
            continue
        spec = sum(k != "*" for k in keys)
        if spec > best:
            best, rows = spec, [i]
        elif spec == best:
            rows.append(i)
    return rows


def _rule_rows(df: pd.DataFrame) -> list[tuple]:
    return [(i, (r["origin"], r["market"], r["powertrain"]), _year(r.get("from_year", "")), _year(r.get("to_year", "")))
            for i, r in df.iterrows()]


@pytest.mark.parametrize("table", ["tariffs", "tariff_quotas"])
def test_one_most_specific_row_per_year(tables: dict[str, pd.DataFrame], years: list[int], table: str) -> None:
    df = tables[table]
    origins = set(tables["plants"]["country"])
    markets = set(tables["markets"]["market"])
    powertrains = set(tables["models"]["powertrain"])
    df = df.copy()
    cached = _rule_rows(df)
    for o, m, p in itertools.product(sorted(origins), sorted(markets), sorted(powertrains)):
        relevant = df.loc[[i for i, k, _, _ in cached if k[1] in ("*", m)]]
        for y in years:
            rows = _most_specific(relevant, o, m, p, y)
            assert len(rows) <= 1, f"{table}: rows {[r + 2 for r in rows]} tie for ({o}, {m}, {p}) in {y}"


def test_quota_rates_below_tariff(tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    q, t = tables["tariff_quotas"], tables["tariffs"]
    for _, r in q.iterrows():
        assert float(r["quota"]) > 0 and 0 <= float(r["ad_valorem"]) < 3
        p = r["powertrain"] if r["powertrain"] != "*" else "BEV"
        y = next(y for y in years if _applies(r, y))
        rows = _most_specific(t, r["origin"], r["market"], p, y)
        assert rows and float(t.loc[rows[0], "ad_valorem"]) > float(r["ad_valorem"]), dict(r)


def test_canada_quota_rises_and_no_canadian_ban(tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    q = tables["tariff_quotas"]
    ca = q[q["market"] == "CA"]
    per_year = [sum(float(r["quota"]) for _, r in ca.iterrows() if _applies(r, y)) for y in years]
    assert all(v > 0 for v in per_year) and per_year == sorted(per_year)
    bans = tables["bans"]
    assert set(bans["kind"]) <= {"software", "plant"}
    assert not (bans["market"] == "CA").any(), "Canada has no connected-vehicle ban (only a scenario)"
    us = bans[bans["market"] == "US"]
    assert {(r["kind"], r["origin"], _year(r["from_year"])) for _, r in us.iterrows()} >= {
        ("software", "CN", 2027), ("plant", "CN", 2030)}


# ------------------------------------------------------------------ plants


def test_plant_columns(tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    pl = tables["plants"]
    assert pl["plant"].is_unique
    for _, r in pl.iterrows():
        cy, ec = _year(r["closure_year"]), _year(r["earliest_closure"])
        assert not (r["status"] and cy is not None), f"{r['plant']}: status and closure_year"
        assert r["status"] in ("", "free", "keep", "close")
        if cy is not None and ec is not None:
            assert cy >= ec, f"{r['plant']}: closure_year before earliest_closure"
        if r["status"] == "close" and ec is not None:
            assert ec <= years[0], f"{r['plant']}: close with a later earliest_closure"
        if cy is not None:
            assert years[0] <= cy <= years[-1], f"{r['plant']}: closure_year outside the periods"
        e = float(r["equity_share"])
        assert 0 < e <= 1
        assert 0 <= int(r["jobs_cut"]) <= int(r["headcount"])
        assert int(r["capacity"]) > 0 and float(r["fixed_cost"]) >= 0
    # the announced timeline
    cy = dict(zip(pl["plant"], pl["closure_year"]))
    assert {k: _year(cy[k]) for k in ("CIVAC", "COMPAS", "Rosslyn", "Shonan", "Oppama")} == {
        "CIVAC": 2026, "COMPAS": 2026, "Rosslyn": 2026, "Shonan": 2027, "Oppama": 2028}
    eq = dict(zip(pl["plant"], pl["equity_share"].astype(float)))
    assert eq["DFN_Huadu"] == eq["ZN_Zhengzhou"] == eq["COMPAS"] == 0.5
    rosslyn = pl.set_index("plant").loc["Rosslyn"]
    assert float(rosslyn["closure_cost"]) < 0 and int(rosslyn["jobs_cut"]) < int(rosslyn["headcount"])
    assert (pl["country"] != "CN").sum() == 17  # Nissan's 17 plants outside China


def _open_states(pl: pd.DataFrame, y: int) -> tuple[pd.Series, pd.Series]:
    """(forced open in y, possibly open in y) per plant, from status / closure_year / earliest_closure."""
    forced, possible = [], []
    for _, r in pl.iterrows():
        cy, ec = _year(r["closure_year"]), _year(r["earliest_closure"])
        closed = r["status"] == "close" or (cy is not None and cy <= y)
        must = r["status"] == "keep" or (cy is not None and y < cy) or (ec is not None and y < ec)
        possible.append(not closed)
        forced.append(must and not closed)
    return pd.Series(forced, index=pl.index), pd.Series(possible, index=pl.index)


def _check_rules(inst: dict, pl: pd.DataFrame, years: list[int]) -> None:
    for key, col in (("plants_kept", None), ("capacity_kept", "capacity")):
        for rule in inst[key]:
            sel = ~pl["country"].isin(rule.get("exclude_countries", []))
            if "countries" in rule:
                sel = pl["country"].isin(rule["countries"])
            for y in years:
                if y < rule.get("from_year", years[-1]):
                    continue
                forced, possible = _open_states(pl, y)
                val = (lambda m: int(m.sum())) if col is None else (lambda m: int(pl.loc[m, col].astype(int).sum()))
                lo, hi = val(forced & sel), val(possible & sel)
                if "max" in rule:
                    assert lo <= rule["max"], f"{key} max {rule['max']} unreachable in {y}: {lo} forced open"
                if "min" in rule:
                    assert hi >= rule["min"], f"{key} min {rule['min']} unreachable in {y}"


def test_plant_rules_reachable(inst: dict, tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    _check_rules(inst, tables["plants"], years)


def test_nissans_announced_plan_meets_the_rules(inst: dict, tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    """Nissan's plan (announced closures, every other plant open) satisfies 10 plants and 2.5 m."""
    pl = tables["plants"]
    for y in years:
        _, possible = _open_states(pl, y)
        non_cn = possible & (pl["country"] != "CN")
        for rule in inst["plants_kept"]:
            if y >= rule["from_year"]:
                assert int(non_cn.sum()) <= rule["max"], y
        for rule in inst["capacity_kept"]:
            if y >= rule["from_year"]:
                assert int(pl.loc[non_cn, "capacity"].astype(int).sum()) <= rule["max"], y
    _, possible = _open_states(pl, 2028)
    assert int((possible & (pl["country"] != "CN")).sum()) == 10


def test_commitments_feasible_every_year(tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    """Each min_units > 0 can be served in each year by plants that may be open, with a lane,
    not banned, and the plants' capacity covers the commitments they can serve."""
    pl = tables["plants"].set_index("plant")
    prod, fr, dem, bans = tables["production"], tables["freight"], tables["demand"], tables["bans"]
    ptype = dict(zip(tables["models"]["model"], tables["models"]["powertrain"]))
    for y in years:
        _, possible = _open_states(tables["plants"], y)
        open_plants = set(tables["plants"].loc[possible, "plant"])
        need: dict[str, float] = {}
        for _, d in dem.iterrows():
            mn = float(d["min_units"] or 0)
            if mn <= 0 or not _applies(d, y):
                continue
            assert float(d["max_units"]) >= mn
            makers = {r["plant"] for _, r in prod.iterrows()
                      if r["model"] == d["model"] and _applies(r, y) and r["plant"] in open_plants}
            lanes = {r["plant"] for _, r in fr.iterrows() if r["market"] == d["market"] and _applies(r, y)}
            banned = {r["origin"] for _, r in bans.iterrows()
                      if r["market"] == d["market"] and r["kind"] == "plant" and _applies(r, y)}
            ok = {p for p in makers & lanes if pl.loc[p, "country"] not in banned}
            assert ok, f"{d['model']}/{d['market']} min_units {mn} cannot be served in {y}"
            assert ptype[d["model"]]
            key = ",".join(sorted(ok))
            need[key] = need.get(key, 0.0) + mn
        for key, mn in need.items():
            cap = sum(int(pl.loc[p, "capacity"]) for p in key.split(","))
            assert cap >= mn, (y, key, mn)


def test_references(tables: dict[str, pd.DataFrame]) -> None:
    plants = set(tables["plants"]["plant"])
    models = set(tables["models"]["model"])
    markets = set(tables["markets"]["market"])
    assert set(tables["production"]["plant"]) <= plants
    assert set(tables["production"]["model"]) <= models
    assert set(tables["freight"]["plant"]) <= plants
    assert set(tables["freight"]["market"]) <= markets
    assert set(tables["demand"]["model"]) <= models
    assert set(tables["demand"]["market"]) <= markets
    assert set(tables["software"]["model"]) <= models
    assert set(tables["bans"]["market"]) <= markets
    for t in ("tariffs", "tariff_quotas"):
        assert set(tables[t]["market"]) <= markets | {"*"}
    for _, s in tables["software"].iterrows():
        if s["default"].lower() == "true":
            assert not s["available_from"], "available_from on a default stack"
    for _, d in tables["demand"].iterrows():
        assert float(d["price"]) > 0 and float(d["min_units"] or 0) <= float(d["max_units"])


def test_no_chinese_sedans_in_rhd_markets_and_n7_china_margin(tables: dict[str, pd.DataFrame]) -> None:
    dem = tables["demand"]
    assert not ((dem["model"].isin(["N7", "N6"])) & (dem["market"].isin(RHD))).any()
    n7cn = dem[(dem["model"] == "N7") & (dem["market"] == "CN")].iloc[0]
    prod = tables["production"]
    cost = float(prod[(prod["plant"] == "DFN_Huadu") & (prod["model"] == "N7")]["unit_cost"].iloc[0])
    fr = tables["freight"]
    ship = float(fr[(fr["plant"] == "DFN_Huadu") & (fr["market"] == "CN")]["unit_cost"].iloc[0])
    assert float(n7cn["price"]) - cost - ship <= 100  # near zero or negative (sold below cost)


def test_us_reshoring_options(tables: dict[str, pd.DataFrame]) -> None:
    prod = tables["production"]
    pairs = set(zip(prod["plant"], prod["model"]))
    assert {("Canton", "SENTRA"), ("Canton", "KICKS"), ("Smyrna", "SENTRA"), ("Smyrna", "KICKS")} <= pairs


# ------------------------------------------------------------------ scenarios


def _resolve(scen: dict, name: str) -> list[dict]:
    """The scenario and its extends chain, root first."""
    chain, seen = [], set()
    while name:
        assert name in scen["scenarios"], f"unknown scenario {name}"
        assert name not in seen, f"extends cycle at {name}"
        seen.add(name)
        chain.append(scen["scenarios"][name])
        name = scen["scenarios"][name].get("extends")
    return chain[::-1]


def test_scenarios_well_formed(scen: dict, tables: dict[str, pd.DataFrame]) -> None:
    joins = {"production": {"plant": "plants", "model": "models"}, "freight": {"plant": "plants", "market": "markets"},
             "software": {"model": "models"}, "demand": {"model": "models", "market": "markets"},
             "tariffs": {"market": "markets"}}
    ops = {"set", "scale", "add", "add_rows", "remove"}
    for name, sc in scen["scenarios"].items():
        assert name != "base"
        assert sc.get("description"), name
        _resolve(scen, name)
        for ch in sc.get("changes", []):
            table = ch["table"]
            assert table in tables, (name, table)
            df = tables[table]
            assert len(ops & set(ch)) == 1, (name, ch)
            for col, val in ch.get("where", {}).items():
                vals = val if isinstance(val, list) else [val]
                if "." in col:
                    ref, rcol = col.split(".", 1)
                    target = tables[joins[table][ref]]
                    assert rcol in target.columns, (name, col)
                    present = set(target[rcol])
                else:
                    assert col in df.columns, (name, col)
                    present = set(df[col])
                assert {str(v) for v in vals} <= present, f"{name}: filter {col}={vals} matches no row"
            for op in ("set", "scale", "add"):
                for col in ch.get(op, {}):
                    assert col in df.columns, (name, op, col)
            for row in ch.get("add_rows", []):
                assert set(row) <= set(df.columns), (name, set(row) - set(df.columns))


def test_scenario_sets(scen: dict) -> None:
    sets = scen["scenario_sets"]
    assert {"tariff_risk", "ai_software_rules"} <= set(sets) and len(sets) >= 3
    assert sets["tariff_risk"]["criterion"] == "expected"
    assert sets["ai_software_rules"]["criterion"] in ("worst_case", "max_regret")
    for sname, s in sets.items():
        assert s["criterion"] in ("expected", "worst_case", "max_regret")
        weights = s["scenarios"]
        assert len(weights) >= 2
        if s["criterion"] == "expected":
            assert all(w >= 0 for w in weights.values())
            assert abs(sum(weights.values()) - 1) < 1e-9, sname
        for name in weights:
            if name == "base":
                continue
            for sc in _resolve(scen, name):
                assert "settings" not in sc and "fix_software" not in sc, (sname, name)
                for ch in sc.get("changes", []):
                    if ch["table"] in FROZEN:
                        assert "add_rows" not in ch and "remove" not in ch, (sname, name)
                        for op in ("set", "scale", "add"):
                            assert not (set(ch.get(op, {})) & FROZEN[ch["table"]]), (sname, name, ch)


def test_strategy_scenarios_present(scen: dict) -> None:
    need = {"keep_oppama", "sell_oppama_land_value", "delay_closures_1y", "free_announced_closures",
            "canada_quota_share_up", "canada_quota_share_down", "mexico_duty_up", "ai_ban_spreads",
            "china_price_war", "yen_strong_20", "demand_down_10"}
    assert need <= set(scen["scenarios"])


def test_closure_scenarios_keep_rules_reachable(inst: dict, scen: dict, tables: dict[str, pd.DataFrame], years: list[int]) -> None:
    """keep_oppama, delay_closures_1y and free_announced_closures leave the plant rules reachable."""
    for name in ("keep_oppama", "delay_closures_1y", "free_announced_closures"):
        pl = tables["plants"].copy()
        settings = dict(inst)
        for sc in _resolve(scen, name):
            settings.update(sc.get("settings", {}))
            for ch in sc.get("changes", []):
                if ch["table"] != "plants":
                    continue
                sel = pl["plant"].isin(ch["where"]["plant"] if isinstance(ch["where"]["plant"], list) else [ch["where"]["plant"]])
                for col, v in ch.get("set", {}).items():
                    pl.loc[sel, col] = "" if v is None else str(v)
                for col, v in ch.get("add", {}).items():
                    pl.loc[sel, col] = [str(int(float(x)) + v) if x != "" else "" for x in pl.loc[sel, col]]
        for _, r in pl.iterrows():
            assert not (r["status"] and r["closure_year"]), (name, r["plant"])
        _check_rules(settings, pl, years)


# ------------------------------------------------------------------ README


def test_readme_has_comparison_skeleton(tables: dict[str, pd.DataFrame]) -> None:
    text = (CASE / "README.md").read_text()
    assert "## Model decisions vs Nissan's announced decisions" in text
    section = text.split("## Model decisions vs Nissan's announced decisions", 1)[1]
    for plant in tables["plants"]["plant"]:
        assert f"| {plant} |" in section, plant
