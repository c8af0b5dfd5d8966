"""Seeded generator of tiny random v2 instances, as dicts (tests only, no engine imports).

``generate(seed)`` returns an instance dict (instance.yaml shape, inline
tables) small enough for ``reference_v2``: at most 4 plants, 4 years and 2
non-default software stacks (single sourcing: at most 3 plants, 3 years, 1
non-default stack).  Across seeds the instances use every v2 feature: periods
with tails and discounting, rows with from_year/to_year (split ranges, gaps,
rows starting mid-plan), tariffs and tariff-rate quotas with wildcards and
year-dependent rates, bans of both kinds starting mid-plan, plant rules in v1
and list form with countries/exclude_countries selectors and from_year /
by_year, capacity_kept, CO2 on production and freight with a price and caps,
equity shares, jobs_cut, negative closure costs, earliest_closure,
closure_year, statuses, available_from, export channels, line capacities,
single sourcing; also steady-state (no periods) instances with the v2 columns
the spec allows there, and some infeasible instances.

Every instance is valid per the spec's input rules: no two rows of one key
with overlapping year ranges, no two equally specific tariff (or quota) rows
matching one (origin, market, powertrain) in any year, closure_year >=
earliest_closure, no status beside closure_year, no status close beside a later
earliest_closure, available_from only on non-default stacks, by_year inside the
periods, year columns only with periods.

``generate_set(seed)`` returns a scenario-set case: a base instance and 2-3
scenarios that change only what section 8 allows a scenario of a set to change
(demand, prices, tariffs, quotas, freight, bans, the co2 columns), plus a
criterion and weights.

``features(inst)`` names the features one instance uses (for coverage tests).

``write(inst, folder, csv=...)`` writes an instance dict as a folder (tables
inline, or as CSV files), for code that reads folders.
"""

from __future__ import annotations

import copy
import itertools
import random
from pathlib import Path

__all__ = ["generate", "generate_set", "features", "write", "WILDCARD"]

WILDCARD = "*"
COUNTRIES = ["JP", "US", "MX", "CN"]
POWERTRAINS = ["BEV", "PHEV", "ICE"]
KEYS3 = ("origin", "market", "powertrain")


def _year_rows(rng: random.Random, rec: dict, years: list[int] | None, vary) -> list[dict]:
    """One record -> one or two rows of the same key with non-overlapping year ranges.

    Forms: open-ended; split at a cut year (the second row changed by ``vary``);
    split with a one-year gap (the key is absent that year); starting mid-plan;
    ending mid-plan.
    """
    if not years or len(years) < 2 or rng.random() < 0.45:
        return [dict(rec)]
    cut = rng.choice(years[1:])
    form = rng.choice(["split", "split", "gap", "late", "early"])
    first = dict(rec, to_year=cut - 1)
    second = vary(dict(rec, from_year=cut))
    if form == "split":
        return [first, second]
    if form == "gap":
        return [first, dict(second, from_year=cut + 1)] if cut + 1 <= years[-1] else [first]
    if form == "late":
        return [second]
    return [first]


def _pick_rule_rows(rng: random.Random, universe: list[tuple], pools: dict, n: int, extra) -> list[dict]:
    """Rows keyed by (origin, market, powertrain) at mixed specificity such that no two
    rows of one specificity both match any triple of the instance (in any year)."""
    rows: list[dict] = []

    def matches(row, triple):
        return all(row[k] in (WILDCARD, val) for k, val in zip(KEYS3, triple))

    def level(row):
        return sum(row[k] != WILDCARD for k in KEYS3)

    for _ in range(n):
        chosen = set(rng.sample(KEYS3, rng.choice([0, 1, 1, 2, 2, 3])))
        cand = {k: (rng.choice(pools[k]) if k in chosen else WILDCARD) for k in KEYS3}
        clash = any(level(r) == level(cand) and (all(r[k] == cand[k] for k in KEYS3)
                                                 or any(matches(r, t) and matches(cand, t) for t in universe))
                    for r in rows)
        if not clash:
            rows.append(dict(cand, **extra()))
    return rows


def _selector(rng: random.Random, countries: list[str]) -> dict:
    r = rng.random()
    if r < 0.35:
        return {"countries": rng.sample(countries, rng.randint(1, len(countries)))}
    if r < 0.6:
        return {"exclude_countries": rng.sample(countries, 1)}
    return {}


def generate(seed: int, single_sourcing: bool | None = None) -> dict:
    """A random tiny v2 instance dict for ``seed`` (deterministic)."""
    rng = random.Random(seed)
    ss = rng.random() < 0.2 if single_sourcing is None else single_sourcing
    has_periods = rng.random() < 0.85
    if has_periods:
        y1 = rng.choice([2026, 2030])
        n_years = rng.randint(1, 3) if ss else rng.choice([1, 2, 2, 3, 3, 4])
        years = list(range(y1, y1 + n_years))
    else:
        years = None

    # ---- plants -------------------------------------------------------------
    n_plants = rng.randint(2, 3) if ss else rng.randint(2, 4)
    plant_countries = [rng.choice(COUNTRIES[:3]) for _ in range(n_plants)]
    plants = []
    for i, c in enumerate(plant_countries):
        rec = {"plant": f"P{i + 1}", "country": c, "capacity": rng.randint(10, 60),
               "fixed_cost": rng.choice([0, 50, 150, 300]), "closure_cost": rng.choice([0, 40, 200, -100, -400]),
               "headcount": rng.choice([0, 100, 300, 1000])}
        if rng.random() < 0.3:
            rec["equity_share"] = rng.choice([0.25, 0.5, 1.0])
        if rng.random() < 0.3:
            rec["jobs_cut"] = round(rec["headcount"] * rng.choice([0.0, 0.5]))
        r = rng.random()
        if has_periods and r < 0.2:
            rec["closure_year"] = rng.choice(years + [years[0] - 1, years[-1] + 1])
            if rng.random() < 0.5:
                rec["status"] = "free"
            if rng.random() < 0.4:
                rec["earliest_closure"] = rng.choice([y for y in [years[0] - 1] + years if y <= rec["closure_year"]])
        elif r < 0.3:
            rec["status"] = "keep"
        elif r < 0.38:
            rec["status"] = "close"
        elif has_periods and r < 0.6:
            rec["earliest_closure"] = rng.choice(years[1:] + [years[-1] + 1] if len(years) > 1 else years)
        if rec.get("status") == "close" and "earliest_closure" in rec:
            del rec["earliest_closure"]
        plants.append(rec)

    n_models = rng.randint(1, 2)
    models = [{"model": f"V{j + 1}", "powertrain": rng.choice(POWERTRAINS)} for j in range(n_models)]
    pts = sorted({m["powertrain"] for m in models})

    def vary_cost(r):
        r["unit_cost"] = max(0, r["unit_cost"] + rng.choice([-15, 10, 25]))
        return r

    production = []
    for p in plants:
        for m in [m for m in models if rng.random() < 0.8] or [rng.choice(models)]:
            rec = {"plant": p["plant"], "model": m["model"], "unit_cost": rng.randint(20, 80)}
            if rng.random() < 0.3:
                rec["capacity"] = rng.randint(5, 30)
            if rng.random() < 0.4:
                rec["co2"] = rng.choice([0.5, 1, 2, 4])
            production += _year_rows(rng, rec, years, vary_cost)

    # ---- software: at most 2 (single sourcing: 1) non-default stacks --------
    software = []
    budget = 1 if ss else 2
    for m in models:
        if rng.random() < 0.35:
            continue  # implicit default stack
        origin = rng.choice(["CN", "JP", "US"])
        software.append({"model": m["model"], "stack": f"{m['model']}-{origin}", "origin": origin, "dev_cost": 0,
                         "unit_cost": rng.randint(0, 5), "default": True})
        for o in rng.sample([x for x in ["CN", "JP", "US"] if x != origin], rng.randint(0, 2)):
            if budget == 0:
                break
            budget -= 1
            rec = {"model": m["model"], "stack": f"{m['model']}-{o}", "origin": o,
                   "dev_cost": rng.choice([0, 100, 400]), "unit_cost": rng.randint(0, 8), "default": False}
            if has_periods and len(years) > 1 and rng.random() < 0.5:
                rec["available_from"] = rng.choice(years[1:])
            software.append(rec)
    origins = sorted({s["origin"] for s in software}) or ["CN"]

    # ---- markets, demand, freight --------------------------------------------
    markets = []
    for k in range(rng.randint(2, 3)):
        rec = {"market": f"M{k + 1}", "country": rng.choice(COUNTRIES + ["CA"])}
        if software and rng.random() < 0.25:
            rec["banned_software_origins"] = rng.choice(origins)
        markets.append(rec)
    market_ids = [m["market"] for m in markets]

    def vary_demand(r):
        r["max_units"] = max(0, r["max_units"] + rng.choice([-10, 5, 20]))
        r["price"] = r["price"] + rng.choice([-30, 20])
        return r

    demand = []
    for m in models:
        for mk in markets:
            if rng.random() < 0.2:
                continue
            price = rng.randint(90, 250)
            rec = {"model": m["model"], "market": mk["market"], "price": price, "max_units": rng.randint(5, 40)}
            if rng.random() < 0.3:
                rec["customs_value"] = round(price * rng.choice([0.5, 0.8]), 1)
            if rng.random() < 0.04:
                rec["min_units"] = rng.randint(1, 5)
            demand += _year_rows(rng, rec, years, vary_demand)
    if ss:
        keep = sorted({(r["model"], r["market"]) for r in demand})[:3]
        demand = [r for r in demand if (r["model"], r["market"]) in keep]
    if not demand:
        demand = [{"model": "V1", "market": "M1", "price": 150, "max_units": 10}]

    def vary_freight(r):
        r["unit_cost"] = r["unit_cost"] + rng.choice([5, 15])
        return r

    freight = []
    for p in plants:
        for mk in market_ids:
            if rng.random() < 0.8:
                rec = {"plant": p["plant"], "market": mk, "unit_cost": rng.randint(0, 25)}
                if rng.random() < 0.3:
                    rec["co2"] = rng.choice([0.2, 1])
                freight += _year_rows(rng, rec, years, vary_freight)

    # ---- tariffs and quotas (wildcards, year-dependent rates) ---------------
    universe = list(itertools.product(sorted(set(plant_countries)), market_ids, pts))
    pools = {"origin": sorted(set(plant_countries)) + ["DE"], "market": market_ids, "powertrain": pts}

    def tariff_extra():
        e = {"ad_valorem": rng.choice([0.0, 0.1, 0.25, 0.5, 1.0])}
        if rng.random() < 0.4:
            e["specific"] = rng.choice([0, 5, 15])
        return e

    def vary_rate(r):
        r["ad_valorem"] = rng.choice([0.0, 0.3, 0.6])
        return r

    tariffs = []
    for r in _pick_rule_rows(rng, universe, pools, rng.randint(0, 5), tariff_extra):
        tariffs += _year_rows(rng, r, years, vary_rate)

    def quota_extra():
        e = {"quota": rng.choice([0, 3, 8, 20]), "ad_valorem": rng.choice([0.0, 0.05, 0.6])}
        if rng.random() < 0.3:
            e["specific"] = rng.choice([0, 2])
        return e

    def vary_quota(r):
        r["quota"] = rng.choice([2, 10, 30])
        return r

    quotas = []
    if rng.random() < 0.6:
        for r in _pick_rule_rows(rng, universe, pools, rng.randint(1, 3), quota_extra):
            quotas += _year_rows(rng, r, years, vary_quota)

    # ---- bans of both kinds, often starting mid-plan -------------------------
    bans = []
    if rng.random() < 0.55:
        used = set()
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["software", "plant"])
            origin = rng.choice(origins if kind == "software" else sorted(set(plant_countries)))
            key = (rng.choice(market_ids), kind, origin)
            if key in used:
                continue
            used.add(key)
            rec = {"market": key[0], "kind": kind, "origin": origin}
            if has_periods and rng.random() < 0.75:
                rec["from_year"] = rng.choice(years)
                if rng.random() < 0.3:
                    rec["to_year"] = rng.choice([y for y in years if y >= rec["from_year"]])
            bans.append(rec)

    channels = []
    for c in sorted(set(plant_countries)):
        if rng.random() < 0.4:
            rec = {"origin": c, "capacity": rng.randint(5, 60), "unit_fee": rng.choice([0, 3, 8])}
            channels += _year_rows(rng, rec, years, lambda r: dict(r, capacity=r["capacity"] // 2))

    # ---- settings ------------------------------------------------------------
    cfg: dict = {"name": f"rand-v2-{seed}"}
    if has_periods:
        cfg["periods"] = {"first": years[0], "last": years[-1]}
        if rng.random() < 0.4:
            cfg["tail_years"] = rng.choice([1, 3, 10])
    elif rng.random() < 0.6:
        cfg["horizon_years"] = rng.randint(1, 6)
    if rng.random() < 0.5:
        cfg["discount_rate"] = rng.choice([0.05, 0.1])
    if rng.random() < 0.4:
        cfg["duty_basis"] = rng.choice(["cif", "fob"])
    countries = sorted(set(plant_countries))

    def year_or_none(key):
        return {key: rng.choice([years[0] - 1] + years + [years[-1] + 1])} if has_periods and rng.random() < 0.6 \
            else {}

    if rng.random() < 0.4:
        def kept_rule():
            lo = rng.randint(0, 1)
            hi = rng.randint(max(lo, 1), n_plants)
            return {**rng.choice([{"min": lo, "max": hi}, {"min": lo}, {"max": hi}]),
                    **year_or_none("from_year"), **_selector(rng, countries)}
        cfg["plants_kept"] = rng.choice([kept_rule(), [kept_rule() for _ in range(rng.randint(1, 2))],
                                         {"max": n_plants - 1}])
    if rng.random() < 0.25:
        total = sum(p["capacity"] for p in plants)
        cfg["capacity_kept"] = [{"max": int(total * rng.choice([0.5, 0.8])), **year_or_none("from_year"),
                                 **_selector(rng, countries)}]
    if rng.random() < 0.3:
        total = sum(p.get("jobs_cut", p["headcount"]) for p in plants
                    if p.get("status") != "keep" and "earliest_closure" not in p and "closure_year" not in p)
        target = rng.choice([0, total // 5, total // 5, total // 2])
        if has_periods:
            by = {"by_year": rng.choice(years)} if rng.random() < 0.6 else {}
            cfg["min_jobs_cut"] = rng.choice([target, {"min": target, **by, **_selector(rng, countries)},
                                              [{"min": target, **by}]])
        else:
            cfg["min_jobs_cut"] = rng.choice([target, {"min": target, **_selector(rng, countries)}])
    co2_used = any("co2" in r for r in production + freight)
    if co2_used and rng.random() < 0.6:
        cfg["co2_price"] = rng.choice([1, 5, 20])
    if co2_used and rng.random() < 0.5:
        rule = {"max": rng.choice([5, 20, 60])}
        if has_periods and rng.random() < 0.6:
            rule["from_year"] = rng.choice(years)
        cfg["co2_cap"] = rng.choice([rule, [rule]])
    if ss or rng.random() < 0.2:
        cfg["single_sourcing"] = ss

    # ---- occasionally infeasible -------------------------------------------
    u = rng.random()
    if u < 0.05:
        demand[0]["min_units"] = demand[0]["max_units"] = sum(p["capacity"] for p in plants) + 1
    elif u < 0.08:
        cfg["min_jobs_cut"] = sum(p.get("jobs_cut", p["headcount"]) for p in plants) + 1
    elif u < 0.11:
        cfg["plants_kept"] = {"min": n_plants + 1}

    tables = {"plants": plants, "models": models, "production": production, "markets": markets,
              "demand": demand, "freight": freight}
    if software:
        tables["software"] = software
    if tariffs:
        tables["tariffs"] = tariffs
    if quotas:
        tables["tariff_quotas"] = quotas
    if bans:
        tables["bans"] = bans
    if channels:
        tables["export_channels"] = channels
    cfg["tables"] = tables
    return cfg


# --------------------------------------------------------------------------- #
# Scenario sets (section 8)
# --------------------------------------------------------------------------- #
def _scenario(rng: random.Random, base: dict) -> dict:
    """A copy of ``base`` with changes section 8 allows in a scenario of a set."""
    s = copy.deepcopy(base)
    t = s["tables"]
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["demand", "price", "tariffs", "quotas", "freight", "bans", "co2", "remove_demand"])
        if op == "demand":
            f = rng.choice([0.3, 0.6, 1.5])
            for r in t["demand"]:
                r["max_units"] = round(r["max_units"] * f, 3)
        elif op == "price":
            for r in t["demand"]:
                if rng.random() < 0.6:
                    r["price"] = max(0, r["price"] + rng.choice([-40, -10, 30]))
        elif op == "tariffs":
            if "tariffs" in t:
                for r in t["tariffs"]:
                    r["ad_valorem"] = round(r["ad_valorem"] + rng.choice([0.0, 0.2, 0.5]), 3)
            else:
                origin = rng.choice(sorted({p["country"] for p in t["plants"]}))
                t["tariffs"] = [{"origin": origin, "market": WILDCARD, "powertrain": WILDCARD,
                                 "ad_valorem": rng.choice([0.2, 0.6])}]
        elif op == "quotas" and "tariff_quotas" in t:
            for r in t["tariff_quotas"]:
                r["quota"] = rng.choice([0, 5, 50])
        elif op == "freight":
            for r in t["freight"]:
                r["unit_cost"] = r["unit_cost"] + rng.choice([0, 10, 30])
        elif op == "bans":
            if t.get("bans") and rng.random() < 0.5:
                t["bans"] = t["bans"][1:] or []
                if not t["bans"]:
                    del t["bans"]
            else:
                used = {(b["market"], b["kind"], b["origin"]) for b in t.get("bans", [])}
                origin = rng.choice(sorted({p["country"] for p in t["plants"]}))
                key = (rng.choice([m["market"] for m in t["markets"]]), "plant", origin)
                if key not in used:
                    rec = {"market": key[0], "kind": "plant", "origin": origin}
                    if "periods" in s and rng.random() < 0.5:
                        rec["from_year"] = s["periods"]["last"]
                    t.setdefault("bans", []).append(rec)
        elif op == "co2":
            for r in t["production"]:
                r["co2"] = rng.choice([0, 1, 3])
        elif op == "remove_demand" and len(t["demand"]) > 1:
            t["demand"] = t["demand"][1:]
    return s


def generate_set(seed: int) -> dict:
    """A scenario-set case: {base, scenarios, criterion, weights}.

    The base instance has no single sourcing and at most 3 plants, so the set
    enumeration stays quick; weights sum to 1 (required for ``expected``) or,
    for the other criteria, sometimes not (then equal weights apply, 10.9).
    """
    rng = random.Random(10_000 + seed)
    base = generate(rng.randrange(10**6), single_sourcing=False)
    while len(base["tables"]["plants"]) > 3:
        base = generate(rng.randrange(10**6), single_sourcing=False)
    names = ["base", "s1", "s2", "s3"][: rng.randint(2, 4)]
    scenarios = {n: (copy.deepcopy(base) if n == "base" else _scenario(rng, base)) for n in names}
    criterion = rng.choice(["expected", "worst_case", "max_regret"])
    raw = [rng.randint(1, 5) for _ in names]
    weights = {n: x / sum(raw) for n, x in zip(names, raw)}
    if criterion != "expected" and rng.random() < 0.4:
        weights = rng.choice([None, {n: 1 for n in names}])
    return {"base": base, "scenarios": scenarios, "criterion": criterion, "weights": weights}


# --------------------------------------------------------------------------- #
# Coverage
# --------------------------------------------------------------------------- #
def features(inst: dict) -> set[str]:
    """Features of the format one instance dict uses (from the dict alone)."""
    t, f = inst["tables"], set()
    f.add("periods" if "periods" in inst else "steady_state")
    if "periods" in inst and inst["periods"]["last"] > inst["periods"]["first"]:
        f.add("multi_year")
    for key in ("tail_years", "discount_rate", "co2_price", "co2_cap", "capacity_kept", "plants_kept",
                "min_jobs_cut", "horizon_years"):
        if inst.get(key):
            f.add(key)
    if inst.get("single_sourcing"):
        f.add("single_sourcing")
    for name in ("demand", "freight", "production", "tariffs", "tariff_quotas", "export_channels", "bans"):
        rows = t.get(name, [])
        if rows:
            f.add(f"table_{name}")
        if any(r.get("from_year") is not None or r.get("to_year") is not None for r in rows):
            f.add(f"years_{name}")
    for r in t.get("tariff_quotas", []):
        if WILDCARD in (r["origin"], r["market"], r["powertrain"]):
            f.add("quota_wildcard")
    for r in t.get("bans", []):
        f.add(f"ban_{r['kind']}")
        if r.get("from_year") is not None and "periods" in inst and r["from_year"] > inst["periods"]["first"]:
            f.add(f"ban_{r['kind']}_mid_plan")
    for p in t["plants"]:
        for col in ("equity_share", "jobs_cut", "earliest_closure", "closure_year"):
            if p.get(col) is not None:
                f.add(col)
        if p["closure_cost"] < 0:
            f.add("negative_closure_cost")
        if p.get("status"):
            f.add(f"status_{p['status']}")
    if any(s.get("available_from") for s in t.get("software", [])):
        f.add("available_from")
    if any(not s["default"] for s in t.get("software", [])):
        f.add("nondefault_stack")
    if any(r.get("co2") for r in t["production"]):
        f.add("co2_production")
    if any(r.get("co2") for r in t["freight"]):
        f.add("co2_freight")
    for key in ("plants_kept", "capacity_kept", "min_jobs_cut"):
        v = inst.get(key)
        rules = v if isinstance(v, list) else [v] if isinstance(v, dict) else []
        for r in rules:
            if "countries" in r:
                f.add("selector_countries")
            if "exclude_countries" in r:
                f.add("selector_exclude")
            if "from_year" in r or "by_year" in r:
                f.add("rule_year")
        if isinstance(v, list):
            f.add("rule_list")
    return f


def write(inst: dict, folder: Path, csv: bool | list[str] = False) -> Path:
    """Write ``inst`` to ``folder/instance.yaml``; ``csv``: True (every table) or a list
    of table names written as CSV files, the others inline.  Returns the folder."""
    from helpers import write_instance  # tests/helpers.py (no engine imports)

    cfg = copy.deepcopy(inst)
    tables = cfg.pop("tables")
    names = list(tables) if csv is True else list(csv or [])
    cfg["tables"] = {k: v for k, v in tables.items() if k not in names}
    return write_instance(Path(folder), cfg, {k: tables[k] for k in names})
