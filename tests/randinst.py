"""Seeded generator of tiny random instance folders (tests only).

Every instance is small enough for the brute-force oracle in ``reference.py``
(at most 5 plants and 3 non-default software stacks; with single sourcing at
most 3 plants, 1 non-default stack and 3 (model, market) pairs).  Across seeds
the instances exercise every feature of the format: wildcard tariffs at all
specificity levels, cif and fob, domestic and export flows, several plants in
one country (so an export channel aggregates them), default and non-default
software stacks with bans, export channels, line capacities, plants_kept,
min_jobs_cut, keep/close/free statuses, min_units, customs_value != price,
discounting, single sourcing, missing freight lanes, CSV and inline tables, and
some infeasible instances.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from helpers import write_instance

__all__ = ["generate", "WILDCARD"]

WILDCARD = "*"
COUNTRIES = ["JP", "US", "MX", "CN", "GB"]
POWERTRAINS = ["BEV", "PHEV", "HEV", "ICE"]


def _pick_tariffs(rng: random.Random, origins: list[str], markets: list[str], powertrains: list[str]) -> list[dict]:
    """Tariff rows at mixed specificity, never two equally specific rows matching one triple.

    A candidate row is kept only if, for every (origin, market, powertrain)
    triple of the instance, no other kept row of the same specificity matches
    that triple too (stricter than the rule, which only concerns existing flows).
    """
    universe = list(itertools.product(origins, markets, powertrains))
    keys = ("origin", "market", "powertrain")
    pools = {"origin": origins + ["DE"], "market": markets, "powertrain": powertrains}
    rows: list[dict] = []

    def matches(row: dict, triple: tuple[str, str, str]) -> bool:
        return all(row[k] in (WILDCARD, val) for k, val in zip(keys, triple))

    def level(row: dict) -> int:
        return sum(row[k] != WILDCARD for k in keys)

    for _ in range(rng.randint(0, 6)):
        n_specific = rng.choice([0, 1, 1, 2, 2, 3])
        specific_keys = set(rng.sample(keys, n_specific))
        cand = {k: (rng.choice(pools[k]) if k in specific_keys else WILDCARD) for k in keys}
        clash = any(
            level(r) == level(cand) and matches(r, t) and matches(cand, t)
            for r in rows
            for t in universe
        ) or any(level(r) == level(cand) and all(r[k] == cand[k] for k in keys) for r in rows)
        if clash:
            continue
        cand["ad_valorem"] = rng.choice([0.0, 0.1, 0.25, 0.5])
        if rng.random() < 0.5:
            cand["specific"] = rng.choice([0, 3, 10])
        rows.append(cand)
    return rows


def generate(seed: int, folder: Path, single_sourcing: bool | None = None) -> Path:
    """Write a random tiny instance to ``folder`` and return the folder."""
    rng = random.Random(seed)
    ss = rng.random() < 0.3 if single_sourcing is None else single_sourcing

    # plants: repeated countries on purpose so export channels aggregate
    n_plants = rng.randint(2, 3) if ss else rng.randint(2, 5)
    plant_countries = [rng.choice(COUNTRIES[:3]) for _ in range(n_plants)]
    plants = []
    for i, c in enumerate(plant_countries):
        rec = {
            "plant": f"P{i + 1}",
            "country": c,
            "capacity": rng.randint(10, 80),
            "fixed_cost": rng.choice([0, 100, 250, 400]),
            "closure_cost": rng.choice([0, 50, 300]),
            "headcount": rng.choice([0, 100, 250, 1000]),
        }
        r = rng.random()
        if r < 0.08:
            rec["status"] = "keep"
        elif r < 0.16:
            rec["status"] = "close"
        elif r < 0.4:
            rec["status"] = "free"
        if rng.random() < 0.3:
            rec["region"] = "R" + c
        plants.append(rec)

    n_models = rng.randint(1, 3) if not ss else rng.randint(1, 2)
    models = [{"model": f"V{j + 1}", "powertrain": rng.choice(POWERTRAINS)} for j in range(n_models)]
    if rng.random() < 0.5:
        models[0]["segment"] = "C-SUV"
    pts = sorted({m["powertrain"] for m in models})

    production = []
    for p in plants:
        chosen = [m for m in models if rng.random() < 0.75] or [rng.choice(models)]
        for m in chosen:
            rec = {"plant": p["plant"], "model": m["model"], "unit_cost": rng.randint(20, 80)}
            if rng.random() < 0.35:
                rec["capacity"] = rng.randint(5, 40)
            production.append(rec)

    # software: default stacks + at most 3 (1 with single sourcing) non-default ones
    software = []
    budget = 1 if ss else 3
    for m in models:
        if rng.random() < 0.4:
            continue  # implicit "default" stack
        origin = rng.choice(["CN", "JP", "US"])
        software.append({"model": m["model"], "stack": f"{m['model']}-{origin}", "origin": origin,
                         "dev_cost": rng.choice([0, 500]), "unit_cost": rng.randint(0, 5), "default": True})
        for o in rng.sample([x for x in ["CN", "JP", "US", "GB"] if x != origin], rng.randint(0, 2)):
            if budget == 0:
                break
            budget -= 1
            software.append({"model": m["model"], "stack": f"{m['model']}-{o}", "origin": o,
                             "dev_cost": rng.choice([0, 200, 800]), "unit_cost": rng.randint(0, 8),
                             "default": False})
    origins = sorted({s["origin"] for s in software}) or ["CN"]

    n_markets = rng.randint(2, 4)
    markets = []
    for k in range(n_markets):
        rec = {"market": f"M{k + 1}", "country": rng.choice(COUNTRIES)}
        if rng.random() < 0.4:
            rec["banned_software_origins"] = ";".join(rng.sample(origins, rng.randint(1, len(origins))))
        markets.append(rec)

    demand = []
    for m in models:
        for mk in markets:
            if rng.random() < 0.25:
                continue
            price = rng.randint(80, 250)
            rec = {"model": m["model"], "market": mk["market"], "price": price, "max_units": rng.randint(5, 60)}
            if rng.random() < 0.4:
                rec["customs_value"] = round(price * rng.choice([0.5, 0.7, 0.9]), 1)
            demand.append(rec)
    if ss:
        demand = demand[:3]
    if not demand:
        demand = [{"model": models[0]["model"], "market": markets[0]["market"], "price": 150, "max_units": 10}]

    freight = [
        {"plant": p["plant"], "market": mk["market"], "unit_cost": rng.randint(0, 30)}
        for p in plants
        for mk in markets
        if rng.random() < 0.8
    ]

    # min_units only where some flow can exist (else the instance is trivially infeasible)
    lanes = {(f["plant"], f["market"]) for f in freight}
    banned = {mk["market"]: set(mk.get("banned_software_origins", "").split(";")) for mk in markets}
    stack_origins = {m["model"]: [s["origin"] for s in software if s["model"] == m["model"]] or [None]
                     for m in models}
    servable = {
        (pr["model"], mk)
        for pr in production
        for mk in banned
        if (pr["plant"], mk) in lanes and any(o not in banned[mk] for o in stack_origins[pr["model"]])
    }
    for rec in demand:
        if (rec["model"], rec["market"]) in servable and rng.random() < 0.15:
            rec["min_units"] = rng.randint(1, rec["max_units"] // 2 + 1)

    tariffs = _pick_tariffs(rng, sorted(set(plant_countries)), [m["market"] for m in markets], pts)
    channels = [
        {"origin": c, "capacity": rng.randint(5, 80), "unit_fee": rng.choice([0, 2, 7])}
        for c in sorted(set(plant_countries))
        if rng.random() < 0.5
    ]

    cfg: dict = {}
    # occasionally force infeasibility: more demand than capacity, or more jobs cut than exist
    if rng.random() < 0.06:
        demand[0]["min_units"] = demand[0]["max_units"] = sum(p["capacity"] for p in plants) + 1
    elif rng.random() < 0.04:
        cfg["min_jobs_cut"] = sum(p["headcount"] for p in plants) + 1
    if rng.random() < 0.5:
        cfg["name"] = f"rand-{seed}"
        cfg["currency"] = "EUR"
    if rng.random() < 0.7:
        cfg["horizon_years"] = rng.randint(1, 8)
    if rng.random() < 0.6:
        cfg["discount_rate"] = rng.choice([0.0, 0.05, 0.1])
    if rng.random() < 0.7:
        cfg["duty_basis"] = rng.choice(["cif", "fob"])
    if rng.random() < 0.35:
        lo = rng.randint(0, n_plants - 1)
        hi = rng.randint(max(lo, 1), n_plants)
        cfg["plants_kept"] = rng.choice([{"min": lo, "max": hi}, {"min": lo}, {"max": hi}])
    if "min_jobs_cut" not in cfg and rng.random() < 0.3:
        total = sum(p["headcount"] for p in plants)
        cfg["min_jobs_cut"] = rng.choice([0, total // 4, total // 2])
    if ss or rng.random() < 0.3:
        cfg["single_sourcing"] = ss

    tables = {
        "plants": plants,
        "models": models,
        "production": production,
        "markets": markets,
        "demand": demand,
        "freight": freight,
    }
    if software:
        tables["software"] = software
    if tariffs or rng.random() < 0.2:
        tables["tariffs"] = tariffs or [{"origin": "DE", "market": WILDCARD, "powertrain": WILDCARD,
                                         "ad_valorem": 0.9}]
    if channels:
        tables["export_channels"] = channels
    if rng.random() < 0.3:
        for rec in tables["plants"]:
            rec["note"] = "generated"

    inline, as_csv = {}, {}
    for name, records in tables.items():
        if rng.random() < 0.5:
            as_csv[name] = records
        else:
            # inline records omit absent optional keys (heterogeneous records)
            inline[name] = [{k: v for k, v in r.items() if v is not None} for r in records]
    cfg["tables"] = inline
    return write_instance(folder, cfg, as_csv)
