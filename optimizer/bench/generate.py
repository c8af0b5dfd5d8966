"""Synthetic network-design instances that exercise every feature of the model.

``generate(outdir, plants, models, markets, seed)`` writes an ordinary instance
folder (``instance.yaml`` + CSV tables) directly into ``outdir`` and returns it.
The output is a pure function of the arguments: every random draw comes from a
local ``numpy.random.default_rng`` fed by ``SeedSequence(seed)`` (one child
stream per component, so e.g. the lane draws do not depend on how many random
numbers the demand table consumed), and two calls with the same arguments write
byte-identical files.

What the instance contains (all vectorised with numpy, no loop over flows):

* several plant countries with several plants each (capacity, fixed and
  closure cost, headcount, region, lat/lon); a few plants ``keep``, a few
  ``close``, the rest ``free``;
* models with powertrain and segment; ``production`` for a random subset of
  (plant, model) pairs (``production_density``), a line capacity on some;
* markets (several per country, in plant and non-producing countries);
  ``demand`` for a subset of (model, market) pairs (``demand_density``), price,
  max_units, ``customs_value`` on some, ``min_units`` mostly 0 and positive on
  a few pairs (always satisfiable, see below);
* ``freight``: every domestic lane exists, a non-domestic lane exists with
  probability ``density`` (so missing lanes are common below 1); cost grows
  with great-circle distance;
* ``software``: a share of the models carry a default stack plus one or two
  alternative stacks of other origins (dev cost, unit cost); the others have
  the implicit default stack; some market countries ban software origins;
* ``tariffs`` at four specificity levels: ``(*, *, *)``, ``(*, market, *)``,
  per market either ``(origin, market, *)`` or ``(*, market, powertrain)``
  (never both, so two equally specific rows never match the same flow) and
  ``(origin, market, powertrain)``; some rows have a specific duty;
* ``export_channels`` (capacity, fee) for most plant countries;
* ``plants_kept`` bounds and ``min_jobs_cut``.

Feasibility is guaranteed by construction with a witness plan: a set K of
kept plants (all ``keep`` plants, no ``close`` plant) that satisfies the
``plants_kept`` bounds and whose closed plants' headcount meets
``min_jobs_cut``; every positive ``min_units`` is assigned to one domestic plant
in K that builds the model with a stack that is not banned there, and those
assignments use at most half of any plant or line capacity.  Domestic flows
pay no channel and no duty, so the witness satisfies every constraint (also
with ``single_sourcing``).

The number of flows (plant, model, stack, market) is computed exactly and
written to ``metadata.flows``; :func:`estimate_flows` returns it without
writing anything and :func:`density_for_flows` finds the lane density that
reaches a target size.  Rough size guide (defaults, density 0.7):
plants=200, models=50, markets=400 -> about 2 million flows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = ["generate", "estimate_flows", "density_for_flows", "DEFAULTS"]

# code, lat, lon, labour-cost factor, region, price factor
_PLANT_COUNTRIES = [
    ("JP", 36.0, 138.0, 1.00, "Asia", 1.00),
    ("US", 39.0, -98.0, 1.10, "North America", 1.15),
    ("MX", 23.0, -102.0, 0.75, "North America", 0.95),
    ("CN", 35.0, 105.0, 0.72, "Asia", 0.90),
    ("GB", 53.0, -1.5, 1.08, "Europe", 1.12),
    ("DE", 51.0, 10.0, 1.20, "Europe", 1.18),
    ("FR", 46.5, 2.5, 1.12, "Europe", 1.12),
    ("ES", 40.0, -4.0, 0.95, "Europe", 1.05),
    ("TH", 15.0, 101.0, 0.78, "Asia", 0.92),
    ("BR", -14.0, -51.0, 0.85, "South America", 1.02),
    ("IN", 21.0, 78.0, 0.70, "Asia", 0.85),
    ("ZA", -29.0, 24.0, 0.82, "Africa", 0.98),
    ("TR", 39.0, 35.0, 0.80, "Europe", 1.00),
    ("KR", 36.0, 128.0, 1.00, "Asia", 1.05),
    ("CZ", 49.8, 15.5, 0.88, "Europe", 1.04),
    ("PL", 52.0, 19.0, 0.86, "Europe", 1.03),
    ("ID", -2.0, 118.0, 0.74, "Asia", 0.90),
    ("AR", -34.0, -64.0, 0.90, "South America", 1.00),
    ("CA", 56.0, -106.0, 1.08, "North America", 1.12),
    ("EG", 26.8, 30.8, 0.76, "Africa", 0.95),
]
# market-only countries: code, lat, lon, region, price factor
_MARKET_COUNTRIES = [
    ("AU", -25.0, 134.0, "Oceania", 1.15), ("SA", 24.0, 45.0, "Middle East", 1.10),
    ("AE", 24.0, 54.0, "Middle East", 1.12), ("NZ", -41.0, 174.0, "Oceania", 1.10),
    ("CL", -35.0, -71.0, "South America", 1.00), ("IT", 42.8, 12.5, "Europe", 1.10),
    ("NL", 52.2, 5.3, "Europe", 1.15), ("SE", 62.0, 15.0, "Europe", 1.18),
    ("IL", 31.0, 35.0, "Middle East", 1.10), ("CO", 4.0, -74.0, "South America", 0.98),
    ("PH", 13.0, 122.0, "Asia", 0.92), ("VN", 16.0, 108.0, "Asia", 0.90),
    ("MY", 4.0, 102.0, "Asia", 0.95), ("NO", 61.0, 8.0, "Europe", 1.25),
    ("BE", 50.5, 4.5, "Europe", 1.12), ("PE", -9.0, -75.0, "South America", 0.97),
    ("MA", 32.0, -6.0, "Africa", 0.95), ("KE", 0.0, 38.0, "Africa", 0.95),
    ("NG", 9.0, 8.0, "Africa", 0.95), ("SG", 1.35, 103.8, "Asia", 1.30),
]
_SEGMENTS = ["A-mini", "B-small", "C-compact", "D-midsize", "E-large", "SUV-C", "SUV-D",
             "pickup", "van"]
_SEGMENT_PRICE = np.array([14e3, 18e3, 24e3, 32e3, 48e3, 30e3, 42e3, 38e3, 30e3])
_POWERTRAINS = np.array(["BEV", "PHEV", "HEV", "ICE"])
_POWERTRAIN_P = np.array([0.35, 0.15, 0.20, 0.30])
_POWERTRAIN_PRICE = np.array([1.25, 1.18, 1.08, 1.00])
_SW_ORIGINS = np.array(["JP", "CN", "US", "KR", "DE"])
_SW_DEFAULT_P = np.array([0.45, 0.30, 0.10, 0.10, 0.05])
_BAN_SETS = [("CN",), ("US",), ("CN", "US")]
_BAN_P = np.array([0.7, 0.15, 0.15])

DEFAULTS: dict[str, Any] = dict(
    density=0.7,              # probability that a non-domestic lane exists
    production_density=0.6,   # probability that a plant can build a model
    demand_density=0.9,       # probability that a model is sold in a market
    software_share=0.4,       # share of models with explicit software stacks
    ban_share=0.25,           # share of market countries banning a software origin
    horizon_years=10,
    discount_rate=0.08,
    duty_basis="cif",
    single_sourcing=False,
)

# child streams of SeedSequence(seed); order is part of the output contract
_STREAMS = ("geo", "plants", "models", "production", "demand", "software", "lanes",
            "tariffs", "channels", "status", "minunits", "freight")


def _haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between all pairs (broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _check(plants: int, models: int, markets: int, seed: int, kw: dict[str, Any]) -> dict[str, Any]:
    for name, v in (("plants", plants), ("models", models), ("markets", markets)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    unknown = set(kw) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown generator option(s): {', '.join(sorted(unknown))}")
    o = {**DEFAULTS, **kw}
    for k in ("density", "production_density", "demand_density", "software_share", "ban_share"):
        if not (0.0 <= float(o[k]) <= 1.0):
            raise ValueError(f"{k} must be in [0, 1], got {o[k]!r}")
    if int(o["horizon_years"]) < 1:
        raise ValueError("horizon_years must be >= 1")
    if not (0.0 <= float(o["discount_rate"]) < 1.0):
        raise ValueError("discount_rate must be in [0, 1)")
    if o["duty_basis"] not in ("cif", "fob"):
        raise ValueError("duty_basis must be 'cif' or 'fob'")
    return o


def _ensure_rows_cols(mask: np.ndarray, rng: np.random.Generator) -> None:
    """Make every row and every column of a boolean matrix have at least one True."""
    r, c = mask.shape
    empty_r = np.flatnonzero(~mask.any(axis=1))
    mask[empty_r, rng.integers(0, c, size=empty_r.size)] = True
    empty_c = np.flatnonzero(~mask.any(axis=0))
    mask[rng.integers(0, r, size=empty_c.size), empty_c] = True


def _ids(prefix_by_item: np.ndarray, letter: str) -> np.ndarray:
    """IDs like ``JP-P01``: per-prefix running number (vectorised)."""
    s = pd.Series(prefix_by_item)
    k = s.groupby(s, sort=False).cumcount().to_numpy() + 1
    width = max(2, len(str(int(k.max())))) if k.size else 2
    return np.char.add(np.char.add(prefix_by_item.astype(str), f"-{letter}"),
                       np.char.zfill(k.astype(str), width))


def _build(plants: int, models: int, markets: int, seed: int, o: dict) -> dict:
    rngs = dict(zip(_STREAMS, (np.random.default_rng(s)
                               for s in np.random.SeedSequence(seed).spawn(len(_STREAMS)))))
    P, V, M = plants, models, markets

    # ---------------------------------------------------------------- geography
    g = rngs["geo"]
    if P >= 4:
        nc = int(np.clip(round(1.2 * math.sqrt(P)), 2, min(len(_PLANT_COUNTRIES), P // 2)))
    else:
        nc = min(P, 2) if P >= 2 else 1
    pc = _PLANT_COUNTRIES[:nc]
    pc_code = np.array([c[0] for c in pc])
    # plant -> country: two per country when possible, the rest weighted at random
    weights = g.dirichlet(np.full(nc, 2.0))
    base = np.repeat(np.arange(nc), 2 if P >= 2 * nc else 1)[:P]
    extra = g.choice(nc, size=P - base.size, p=weights)
    p_ci = np.sort(np.concatenate([base, extra]))
    # market countries: plant countries plus some market-only ones
    n_mo = int(np.clip(M // 12, 1, len(_MARKET_COUNTRIES))) if M >= 3 else 0
    mc = [(c[0], c[1], c[2], c[4], c[5]) for c in pc] + list(_MARKET_COUNTRIES[:n_mo])
    mc_code = np.array([c[0] for c in mc])
    n_mc = len(mc)
    mweights = g.dirichlet(np.full(n_mc, 1.5))
    first = np.arange(min(M, nc))  # a domestic market in each plant country first
    m_ci = np.sort(np.concatenate([first, g.choice(n_mc, size=M - first.size, p=mweights)]))
    c_lat = np.array([c[1] for c in mc])
    c_lon = np.array([c[2] for c in mc])
    c_region = np.array([c[3] for c in mc])
    c_pricef = np.array([c[4] for c in mc])
    p_lat = np.round(c_lat[p_ci] + g.normal(0, 2.5, P), 3)
    p_lon = np.round(c_lon[p_ci] + g.normal(0, 3.0, P), 3)
    m_lat = np.round(c_lat[m_ci] + g.normal(0, 2.5, M), 3)
    m_lon = np.round(c_lon[m_ci] + g.normal(0, 3.0, M), 3)
    p_country = pc_code[p_ci]
    m_country = mc_code[m_ci]
    plant_ids = _ids(p_country, "P")
    market_ids = _ids(m_country, "M")

    # ---------------------------------------------------------------- plants
    g = rngs["plants"]
    capacity = np.round(g.uniform(80_000, 400_000, P), -3)
    headcount = np.round(capacity / 1000 * g.uniform(12, 25, P), -1)
    fixed_cost = np.round(capacity * g.uniform(900, 2200, P), -5)
    closure_cost = np.round(headcount * g.uniform(60_000, 160_000, P), -5)
    labour = np.array([c[3] for c in pc])[p_ci] * g.uniform(0.96, 1.04, P)

    # ---------------------------------------------------------------- models
    g = rngs["models"]
    seg = g.integers(0, len(_SEGMENTS), V)
    pt = g.choice(len(_POWERTRAINS), size=V, p=_POWERTRAIN_P)
    base_price = _SEGMENT_PRICE[seg] * _POWERTRAIN_PRICE[pt] * g.uniform(0.9, 1.1, V)
    cost_ratio = g.uniform(0.52, 0.68, V)
    model_ids = np.char.add("V", np.char.zfill(np.arange(1, V + 1).astype(str), max(3, len(str(V)))))

    # ---------------------------------------------------------------- production
    g = rngs["production"]
    prod = g.random((P, V)) < o["production_density"]
    _ensure_rows_cols(prod, g)
    unit_cost_pv = np.round(base_price[None, :] * cost_ratio[None, :] * labour[:, None]
                            * g.uniform(0.97, 1.05, (P, V)), 2)
    has_line = g.random((P, V)) < 0.3
    line_cap = np.round(capacity[:, None] * g.uniform(0.2, 0.6, (P, V)), -3)

    # ---------------------------------------------------------------- demand
    g = rngs["demand"]
    dem = g.random((V, M)) < o["demand_density"]
    _ensure_rows_cols(dem, g)
    size = g.lognormal(0.0, 0.8, M)
    w = dem * g.gamma(1.0, 1.0, (V, M))
    w /= w.sum(axis=0, keepdims=True)
    size *= capacity.sum() / 1.3 / size.sum()  # total demand ~ 77 % of total capacity
    max_units = np.maximum(10.0, np.round(size[None, :] * w))
    price = np.round(base_price[:, None] * c_pricef[m_ci][None, :] * g.uniform(0.97, 1.03, (V, M)), -1)
    has_cv = g.random((V, M)) < 0.3
    customs_value = np.round(price * g.uniform(0.7, 0.95, (V, M)), -1)

    # ---------------------------------------------------------------- software
    g = rngs["software"]
    n_sw = int(round(o["software_share"] * V))
    if V >= 2:
        n_sw = int(np.clip(n_sw, 1 if o["software_share"] > 0 else 0, V - 1))
    sw_models = np.sort(g.choice(V, size=n_sw, replace=False)) if n_sw else np.zeros(0, int)
    n_o = len(_SW_ORIGINS)
    SO = np.zeros((V, n_o), dtype=np.int64)          # stacks of v with origin o
    sw_rows = []                                      # (v, origin index, default)
    for k, v in enumerate(sw_models):                 # loop over models only
        d0 = 1 if k == 0 else int(g.choice(n_o, p=_SW_DEFAULT_P))   # first one: CN default
        others = np.delete(np.arange(n_o), d0)
        alts = g.choice(others, size=int(g.integers(1, 3)), replace=False)
        if k == 0 and not np.isin(alts, [0, 2]).any():
            alts = np.append(alts, 0)  # make sure a non-CN alternative exists
        for oi, dflt in [(d0, True)] + [(int(a), False) for a in alts]:
            sw_rows.append((int(v), oi, dflt))
            SO[v, oi] += 1
    n_stacks = np.where(SO.sum(axis=1) > 0, SO.sum(axis=1), 1)
    sw_dev = g.uniform(20e6, 150e6, len(sw_rows))
    sw_unit = g.uniform(50, 400, len(sw_rows))
    # bans: country-level policy
    ban_country = g.random(n_mc) < o["ban_share"]
    ban_set = g.choice(len(_BAN_SETS), size=n_mc, p=_BAN_P)
    if n_mc >= 2 and o["ban_share"] > 0 and not ban_country.any():
        ban_country[1] = True  # the second country (US when it exists) bans CN software
        ban_set[1] = 0
    B = np.zeros((n_o, n_mc), dtype=bool)            # origin banned in market country
    for ci in np.flatnonzero(ban_country):
        for code in _BAN_SETS[ban_set[ci]]:
            if code != mc_code[ci]:
                B[np.flatnonzero(_SW_ORIGINS == code), ci] = True
    banned_m = B[:, m_ci]                             # (origins, markets)
    allowed = n_stacks[:, None] - SO @ banned_m.astype(np.int64)   # (V, M) usable stacks

    # ---------------------------------------------------------------- lanes
    g = rngs["lanes"]
    domestic = p_country[:, None] == m_country[None, :]
    lane = domestic | (g.random((P, M)) < o["density"])
    dist = _haversine(p_lat[:, None], p_lon[:, None], m_lat[None, :], m_lon[None, :])
    no_lane = np.flatnonzero(~lane.any(axis=0))
    lane[np.argmin(dist[:, no_lane], axis=0), no_lane] = True

    # ---------------------------------------------------------------- flows (exact)
    A = (dem * allowed).astype(np.int64)              # (V, M) stacks per (v, m) with demand
    flows = int((prod * (lane.astype(np.int64) @ A.T)).sum())

    return dict(rngs=rngs, P=P, V=V, M=M, nc=nc, pc_code=pc_code, p_ci=p_ci, mc_code=mc_code,
                m_ci=m_ci, c_region=c_region, p_lat=p_lat, p_lon=p_lon, m_lat=m_lat, m_lon=m_lon,
                p_country=p_country, m_country=m_country, plant_ids=plant_ids,
                market_ids=market_ids, capacity=capacity, headcount=headcount,
                fixed_cost=fixed_cost, closure_cost=closure_cost, seg=seg, pt=pt,
                model_ids=model_ids, prod=prod, unit_cost_pv=unit_cost_pv, has_line=has_line,
                line_cap=line_cap, dem=dem, max_units=max_units, price=price, has_cv=has_cv,
                customs_value=customs_value, sw_rows=sw_rows, sw_dev=sw_dev, sw_unit=sw_unit,
                B=B, banned_m=banned_m, SO=SO, allowed=allowed, domestic=domestic, lane=lane,
                dist=dist, flows=flows)


def estimate_flows(plants: int, models: int, markets: int, seed: int = 0, **options: Any) -> int:
    """Exact number of flows (plant, model, stack, market) of ``generate(...)`` with
    the same arguments, computed without writing anything (fast)."""
    o = _check(plants, models, markets, seed, options)
    return _build(plants, models, markets, seed, o)["flows"]


def density_for_flows(target: int, plants: int, models: int, markets: int, seed: int = 0,
                      **options: Any) -> float:
    """Lane density giving about ``target`` flows (bisection on :func:`estimate_flows`).

    Returns 1.0 if even full density stays below the target."""
    options.pop("density", None)
    lo, hi = 0.0, 1.0
    if estimate_flows(plants, models, markets, seed, density=1.0, **options) <= target:
        return 1.0
    for _ in range(25):
        mid = 0.5 * (lo + hi)
        if estimate_flows(plants, models, markets, seed, density=mid, **options) < target:
            lo = mid
        else:
            hi = mid
    return round(hi, 6)


def _tariffs(b: dict, o: dict) -> pd.DataFrame:
    """Tariff rows at four specificity levels without equal-specificity clashes."""
    g = b["rngs"]["tariffs"]
    pc_code, mc_code, m_ci = b["pc_code"], b["mc_code"], b["m_ci"]
    n_mc = len(mc_code)
    rows: list[tuple] = [("*", "*", "*", 0.05, 0.0, "default duty on all imports")]
    # per market-country templates: (origin, powertrain, ad_valorem, specific, note)
    mfn = g.random(n_mc) < 0.8
    mfn_rate = g.choice([0.0, 0.025, 0.06, 0.10, 0.15, 0.25], size=n_mc)
    style = g.choice(3, size=n_mc, p=[0.45, 0.3, 0.25])  # 0 bilateral, 1 by powertrain, 2 none
    l3 = g.random(n_mc) < 0.3
    # guarantee every level appears at least once
    present = np.unique(m_ci)
    if present.size:
        mfn[present[0]] = True
        if not np.isin(style[present], [0, 1]).any():
            style[present[-1]] = 0
        if not l3[present].any():
            l3[present[-1]] = True
    templates: list[list[tuple]] = []
    for ci in range(n_mc):
        c = mc_code[ci]
        t: list[tuple] = []
        if mfn[ci]:
            t.append(("*", "*", float(mfn_rate[ci]), 0.0, "MFN duty of the market"))
        foreign = [x for x in pc_code if x != c]
        if style[ci] == 0 and foreign:
            k = int(g.integers(1, min(3, len(foreign)) + 1))
            for orig in g.choice(foreign, size=k, replace=False):
                if g.random() < 0.6:
                    t.append((str(orig), "*", 0.0, 0.0, "free-trade agreement"))
                else:
                    t.append((str(orig), "*", round(float(g.uniform(0.2, 0.35)), 4), 0.0,
                              "retaliatory duty"))
        elif style[ci] == 1:
            k = int(g.integers(1, 3))
            for ptn in g.choice(_POWERTRAINS, size=k, replace=False):
                if ptn == "BEV":
                    t.append(("*", "BEV", 0.0, 0.0, "zero duty on electric vehicles"))
                else:
                    t.append(("*", str(ptn), round(float(g.uniform(0.05, 0.3)), 4),
                              float(np.round(g.uniform(0, 1500), -1)), "duty by powertrain"))
        if l3[ci]:
            orig = "CN" if ("CN" in pc_code and c != "CN") else (foreign[0] if foreign else None)
            if orig is not None:
                t.append((orig, "BEV", round(float(g.uniform(0.45, 1.0)), 4),
                          float(np.round(g.uniform(0, 5000), -1)), "punitive duty on EVs"))
        templates.append(t)
    for mi, mid in enumerate(b["market_ids"]):
        for orig, ptn, av, sp, note in templates[m_ci[mi]]:
            rows.append((orig, str(mid), ptn, av, sp, note))
    df = pd.DataFrame(rows, columns=["origin", "market", "powertrain", "ad_valorem", "specific",
                                     "note"])
    return df.drop_duplicates(subset=["origin", "market", "powertrain"], keep="first")


def generate(outdir: str | Path, plants: int, models: int, markets: int, seed: int, *,
             density: float = DEFAULTS["density"], target_flows: int | None = None,
             **options: Any) -> Path:
    """Write a synthetic instance into ``outdir`` (created if needed) and return it.

    ``density`` is the probability that a non-domestic (plant, market) lane
    exists (domestic lanes always exist).  ``target_flows`` overrides it with
    :func:`density_for_flows`.  Other options (see ``DEFAULTS``):
    production_density, demand_density, software_share, ban_share,
    horizon_years, discount_rate, duty_basis, single_sourcing.
    """
    if target_flows is not None:
        density = density_for_flows(int(target_flows), plants, models, markets, seed, **options)
    o = _check(plants, models, markets, seed, {**options, "density": density})
    b = _build(plants, models, markets, seed, o)
    P, V, M = b["P"], b["V"], b["M"]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- status + witness
    g = b["rngs"]["status"]
    perm = g.permutation(P)
    n_keep = max(1, round(0.06 * P)) if P >= 3 else 0
    n_close = max(1, round(0.06 * P)) if P >= 4 else 0
    status = np.full(P, "free", dtype=object)
    status[perm[:n_keep]] = "keep"
    status[perm[n_keep:n_keep + n_close]] = "close"
    k_size = int(np.clip(round(0.75 * P), max(n_keep, 1), P - n_close))
    in_k = np.zeros(P, dtype=bool)
    in_k[perm[:n_keep]] = True
    in_k[perm[n_keep + n_close:][: k_size - n_keep]] = True
    kept_min = int(min(k_size, max(n_keep, math.ceil(0.5 * P))))
    kept_max = int(k_size)
    min_jobs_cut = int(math.floor(0.6 * b["headcount"][~in_k].sum() / 100.0) * 100)

    # ---------------------------------------------------------------- min_units (witness)
    g = b["rngs"]["minunits"]
    dom_k = b["domestic"] & in_k[:, None]                       # (P, M)
    cand_count = b["prod"].T.astype(np.int64) @ dom_k.astype(np.int64)   # (V, M)
    cand = b["dem"] & (cand_count > 0) & (b["allowed"] > 0)
    cv, cm = np.nonzero(cand)
    min_units = np.zeros((V, M))
    if cv.size:
        n_pos = max(1, int(round(0.03 * b["dem"].sum())))
        pick = np.sort(g.choice(cv.size, size=min(n_pos, cv.size), replace=False))
        pv, pm = cv[pick], cm[pick]
        ok = b["prod"][:, pv].T & dom_k[:, pm].T                # (picked, P)
        supplier = np.argmax(np.where(ok, g.random(ok.shape), -1.0), axis=1)
        want = np.floor(g.uniform(0.1, 0.4, pv.size) * b["max_units"][pv, pm])
        load_p = np.zeros(P)
        np.add.at(load_p, supplier, want)
        scale_p = np.minimum(1.0, 0.5 * b["capacity"] / np.maximum(load_p, 1e-9))
        line_cap = np.where(b["has_line"], b["line_cap"], np.inf)
        load_l = np.zeros((P, V))
        np.add.at(load_l, (supplier, pv), want)
        scale_l = np.minimum(1.0, 0.5 * line_cap / np.maximum(load_l, 1e-9))
        mins = np.floor(want * np.minimum(scale_p[supplier], scale_l[supplier, pv]))
        min_units[pv, pm] = mins

    # ---------------------------------------------------------------- tables
    plants_df = pd.DataFrame({
        "plant": b["plant_ids"], "country": b["p_country"], "capacity": b["capacity"].astype(np.int64),
        "fixed_cost": b["fixed_cost"].astype(np.int64), "closure_cost": b["closure_cost"].astype(np.int64),
        "headcount": b["headcount"].astype(np.int64), "status": status,
        "region": b["c_region"][b["p_ci"]], "lat": b["p_lat"], "lon": b["p_lon"],
    })
    models_df = pd.DataFrame({"model": b["model_ids"], "powertrain": _POWERTRAINS[b["pt"]],
                              "segment": np.array(_SEGMENTS)[b["seg"]]})
    pp, pv_ = np.nonzero(b["prod"])
    line = pd.array(np.where(b["has_line"][pp, pv_], b["line_cap"][pp, pv_], np.nan), dtype="Int64")
    production_df = pd.DataFrame({"plant": b["plant_ids"][pp], "model": b["model_ids"][pv_],
                                  "unit_cost": b["unit_cost_pv"][pp, pv_], "capacity": line})
    sw = b["sw_rows"]
    software_df = pd.DataFrame({
        "model": [b["model_ids"][v] for v, _, _ in sw],
        "stack": [("native-" if d else "alt-") + _SW_ORIGINS[oi].lower() for _, oi, d in sw],
        "origin": [_SW_ORIGINS[oi] for _, oi, _ in sw],
        "dev_cost": np.where([d for *_, d in sw], 0, np.round(b["sw_dev"], -5)).astype(np.int64),
        "unit_cost": np.round(b["sw_unit"], 2),
        "default": ["true" if d else "false" for *_, d in sw],
    })
    ban_txt = np.array([";".join(_SW_ORIGINS[b["B"][:, ci]]) for ci in range(len(b["mc_code"]))],
                       dtype=object)
    markets_df = pd.DataFrame({"market": b["market_ids"], "country": b["m_country"],
                               "region": b["c_region"][b["m_ci"]],
                               "banned_software_origins": ban_txt[b["m_ci"]]})
    dv, dm = np.nonzero(b["dem"])
    cvals = np.where(b["has_cv"][dv, dm], b["customs_value"][dv, dm], np.nan)
    demand_df = pd.DataFrame({
        "model": b["model_ids"][dv], "market": b["market_ids"][dm],
        "price": b["price"][dv, dm].astype(np.int64), "max_units": b["max_units"][dv, dm].astype(np.int64),
        "min_units": min_units[dv, dm].astype(np.int64),
        "customs_value": pd.array(cvals, dtype="Int64"),
    })
    # freight: distance-based; cheaper per km inside a region (road/rail), sea otherwise
    g = b["rngs"]["freight"]
    same_region = b["c_region"][b["p_ci"]][:, None] == b["c_region"][b["m_ci"]][None, :]
    per_unit = np.where(same_region, 120.0 + 0.09 * b["dist"], 450.0 + 0.05 * b["dist"])
    per_unit = np.round(per_unit * g.uniform(0.9, 1.15, (P, M)), 2)
    fp, fm = np.nonzero(b["lane"])
    freight_df = pd.DataFrame({"plant": b["plant_ids"][fp], "market": b["market_ids"][fm],
                               "unit_cost": per_unit[fp, fm]})
    tariffs_df = _tariffs(b, o)
    g = b["rngs"]["channels"]
    nc = b["nc"]
    has_ch = g.random(nc) < 0.85
    if nc >= 2:
        has_ch[0] = True
        if has_ch.all():
            has_ch[-1] = False  # one origin without a channel row (no limit, no fee)
    cap_c = np.bincount(b["p_ci"], weights=b["capacity"], minlength=nc)
    ch_cap = np.round(cap_c * g.uniform(0.35, 0.9, nc), -3)
    ch_fee = np.round(g.uniform(30, 250, nc), 2)
    channels_df = pd.DataFrame({"origin": b["pc_code"][has_ch], "capacity": ch_cap[has_ch].astype(np.int64),
                                "unit_fee": ch_fee[has_ch]})

    tables = {"plants": plants_df, "models": models_df, "production": production_df,
              "software": software_df, "markets": markets_df, "demand": demand_df,
              "freight": freight_df, "tariffs": tariffs_df, "export_channels": channels_df}
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")

    name = f"synth_p{P}_v{V}_m{M}_s{seed}"
    doc = {
        "name": name,
        "description": (f"Synthetic network-design instance: {P} plants in {nc} countries, "
                        f"{V} models, {M} markets, {b['flows']} flows (seed {seed})."),
        "currency": "USD",
        "sources": [{"id": "SYN", "title": "optimizer.generate synthetic data",
                     "note": "random but plausible figures; not real company data"}],
        "metadata": {
            "generator": "optimizer.generate",
            "seed": int(seed), "plants": P, "models": V, "markets": M,
            "density": float(density),
            "options": {k: (v.item() if hasattr(v, "item") else v) for k, v in o.items()
                        if k != "density"},
            "flows": int(b["flows"]),
            "lanes": int(b["lane"].sum()),
            "production_pairs": int(b["prod"].sum()),
            "demand_pairs": int(b["dem"].sum()),
            "witness_kept_plants": sorted(b["plant_ids"][in_k].tolist()),
        },
        "horizon_years": int(o["horizon_years"]),
        "discount_rate": float(o["discount_rate"]),
        "plants_kept": {"min": kept_min, "max": kept_max},
        "min_jobs_cut": min_jobs_cut,
        "duty_basis": o["duty_basis"],
        "single_sourcing": bool(o["single_sourcing"]),
        "tables": {t: f"{t}.csv" for t in tables},
    }
    with (out / "instance.yaml").open("w", encoding="utf-8", newline="\n") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return out
