"""Independent brute-force oracle for the network-design model (tests only).

This module re-implements the v1 contract (``shared/spec/model.md`` plus the
instance format of the brief) WITHOUT importing anything from ``optimizer`` or
``models``.  It is deliberately naive so that it can be read line by line
against the spec:

1. read ``instance.yaml`` and its tables (inline records or CSV files) with
   ``yaml.safe_load`` and pandas, applying the documented defaults;
2. build the flow set f = (p, v, s, m) and the unit margin of every flow;
3. enumerate every combination of binary decisions -- z_p (plant kept),
   w_vs (non-default software stack developed) and, with single sourcing, the
   plant assigned to each (model, market) -- and solve the remaining LP in the
   flows x_f with ``scipy.optimize.linprog(method="highs")`` from explicit dense
   matrices;
4. return the best NPV.

Only tiny instances are meant to go through it (a handful of plants, at most
three non-default stacks, a few single-sourced pairs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import linprog

__all__ = ["Flow", "RefData", "load", "solve", "annuity"]

WILDCARD = "*"
TRUE_WORDS = {"true", "1", "yes", "1.0"}
FALSE_WORDS = {"false", "0", "no", "0.0"}


# --------------------------------------------------------------------------- #
# Reading
# --------------------------------------------------------------------------- #
def _read_table(folder: Path, spec: object) -> pd.DataFrame:
    """Inline list of records or CSV path -> DataFrame of python objects.

    Missing values (empty CSV cells, YAML nulls) become None.
    """
    if isinstance(spec, list):
        df = pd.DataFrame.from_records(spec)
    else:
        df = pd.read_csv(folder / str(spec), dtype=str, keep_default_na=False, na_values=[""])
    df = df.astype(object)
    return df.where(pd.notna(df), None)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _num(value: object, default: float | None = None) -> float | None:
    if _missing(value) or (isinstance(value, str) and value.strip() == ""):
        return default
    return float(value)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _str(value: object) -> str:
    return str(value).strip()


def _col(row: pd.Series, name: str) -> object:
    return row[name] if name in row.index else None


@dataclass(frozen=True)
class Flow:
    plant: str
    model: str
    stack: str
    market: str
    margin: float
    domestic: bool
    tariff_level: int | None = None
    """Number of non-wildcard keys of the tariff row applied (None: domestic or no row)."""


@dataclass
class RefData:
    """Everything the enumeration needs, in plain dicts."""

    annuity: float
    plants: list[str]
    plant_country: dict[str, str]
    capacity: dict[str, float]
    fixed_cost: dict[str, float]
    closure_cost: dict[str, float]
    headcount: dict[str, float]
    status: dict[str, str]
    line_capacity: dict[tuple[str, str], float]  # only rows with a capacity
    demand_min: dict[tuple[str, str], float]
    demand_max: dict[tuple[str, str], float]
    channel_capacity: dict[str, float]
    nondefault_stacks: list[tuple[str, str]]
    dev_cost: dict[tuple[str, str], float]
    flows: list[Flow]
    kept_min: int | None = None
    kept_max: int | None = None
    min_jobs_cut: float | None = None
    single_sourcing: bool = False
    extra: dict = field(default_factory=dict)
    """The raw instance.yaml mapping and tables (for test diagnostics only)."""


def annuity(horizon: int, rate: float) -> float:
    """A = sum_{t=1..H} (1 + r)^-t."""
    return sum((1.0 + rate) ** -t for t in range(1, horizon + 1))


def _tariff_for(tariffs: list[dict], origin: str, market: str, powertrain: str) -> dict | None:
    """Most specific matching tariff row; a tie at the top level is an input error."""
    key = {"origin": origin, "market": market, "powertrain": powertrain}
    matches = [
        t for t in tariffs if all(t[k] == WILDCARD or t[k] == key[k] for k in key)
    ]
    if not matches:
        return None
    def specificity(t: dict) -> int:
        return sum(t[k] != WILDCARD for k in key)
    best = max(specificity(t) for t in matches)
    top = [t for t in matches if specificity(t) == best]
    if len(top) > 1:
        raise ValueError(f"two equally specific tariff rows match {key}: {top}")
    return top[0]


def load(path: str | Path) -> RefData:
    """Read an instance folder (or its instance.yaml) into RefData."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    cfg = yaml.safe_load((folder / "instance.yaml").read_text(encoding="utf-8")) or {}
    tables_cfg = cfg.get("tables", {})
    t = {name: _read_table(folder, spec) for name, spec in tables_cfg.items()}

    horizon = int(cfg.get("horizon_years", 1))
    rate = float(cfg.get("discount_rate", 0.0))
    duty_basis = str(cfg.get("duty_basis", "cif"))
    kept = cfg.get("plants_kept")
    if kept is None:
        kept = {}
    elif isinstance(kept, int) and not isinstance(kept, bool):  # the contract: an integer n means exactly n
        kept = {"min": kept, "max": kept}

    # plants
    plants, country, cap, fixed, closure, head, status = [], {}, {}, {}, {}, {}, {}
    for _, r in t["plants"].iterrows():
        p = _str(r["plant"])
        plants.append(p)
        country[p] = _str(r["country"])
        cap[p] = _num(r["capacity"])
        fixed[p] = _num(r["fixed_cost"])
        closure[p] = _num(r["closure_cost"])
        head[p] = _num(r["headcount"])
        st = _col(r, "status")
        status[p] = "free" if _missing(st) else _str(st)

    powertrain = {_str(r["model"]): _str(r["powertrain"]) for _, r in t["models"].iterrows()}

    unit_cost_pv, line_cap = {}, {}
    for _, r in t["production"].iterrows():
        pv = (_str(r["plant"]), _str(r["model"]))
        unit_cost_pv[pv] = _num(r["unit_cost"])
        c = _num(_col(r, "capacity"))
        if c is not None:
            line_cap[pv] = c

    # software: stacks per model (implicit "default" stack when a model has none)
    stacks: dict[str, list[dict]] = {v: [] for v in powertrain}
    if "software" in t:
        for _, r in t["software"].iterrows():
            stacks[_str(r["model"])].append(
                {
                    "stack": _str(r["stack"]),
                    "origin": _str(r["origin"]),
                    "dev_cost": _num(r["dev_cost"]),
                    "unit_cost": _num(r["unit_cost"]),
                    "default": _bool(r["default"]),
                }
            )
    for v in stacks:
        if not stacks[v]:
            stacks[v] = [{"stack": "default", "origin": None, "dev_cost": 0.0, "unit_cost": 0.0, "default": True}]

    market_country, banned = {}, {}
    for _, r in t["markets"].iterrows():
        m = _str(r["market"])
        market_country[m] = _str(r["country"])
        b = _col(r, "banned_software_origins")
        banned[m] = set() if _missing(b) else {x.strip() for x in str(b).split(";") if x.strip()}

    price, dmax, dmin, customs = {}, {}, {}, {}
    for _, r in t["demand"].iterrows():
        vm = (_str(r["model"]), _str(r["market"]))
        price[vm] = _num(r["price"])
        dmax[vm] = _num(r["max_units"])
        dmin[vm] = _num(_col(r, "min_units"), 0.0)
        customs[vm] = _num(_col(r, "customs_value"), price[vm])  # default = price

    freight = {(_str(r["plant"]), _str(r["market"])): _num(r["unit_cost"]) for _, r in t["freight"].iterrows()}

    tariffs = []
    if "tariffs" in t:
        for _, r in t["tariffs"].iterrows():
            tariffs.append(
                {
                    "origin": _str(r["origin"]),
                    "market": _str(r["market"]),
                    "powertrain": _str(r["powertrain"]),
                    "ad_valorem": _num(r["ad_valorem"]),
                    "specific": _num(_col(r, "specific"), 0.0),
                }
            )

    channel_cap, channel_fee = {}, {}
    if "export_channels" in t:
        for _, r in t["export_channels"].iterrows():
            o = _str(r["origin"])
            channel_cap[o] = _num(r["capacity"])
            channel_fee[o] = _num(r["unit_fee"])

    # flows and margins
    flows = []
    for (p, v), upv in unit_cost_pv.items():
        for (v2, m) in price:
            if v2 != v or (p, m) not in freight:
                continue
            for s in stacks[v]:
                if s["origin"] is not None and s["origin"] in banned[m]:
                    continue
                domestic = country[p] == market_country[m]
                fr = freight[(p, m)]
                duty = fee = 0.0
                level = None
                if not domestic:
                    row = _tariff_for(tariffs, country[p], m, powertrain[v])
                    if row is not None:
                        base = customs[(v, m)] + (fr if duty_basis == "cif" else 0.0)
                        duty = row["ad_valorem"] * base + row["specific"]
                        level = sum(row[k] != WILDCARD for k in ("origin", "market", "powertrain"))
                    fee = channel_fee.get(country[p], 0.0)
                margin = price[(v, m)] - upv - fr - duty - s["unit_cost"] - fee
                flows.append(Flow(p, v, s["stack"], m, margin, domestic, level))

    nondefault = [(v, s["stack"]) for v in stacks for s in stacks[v] if not s["default"]]
    dev = {(v, s["stack"]): s["dev_cost"] for v in stacks for s in stacks[v] if not s["default"]}

    min_jobs = cfg.get("min_jobs_cut")
    return RefData(
        annuity=annuity(horizon, rate),
        plants=plants,
        plant_country=country,
        capacity=cap,
        fixed_cost=fixed,
        closure_cost=closure,
        headcount=head,
        status=status,
        line_capacity=line_cap,
        demand_min=dmin,
        demand_max=dmax,
        channel_capacity=channel_cap,
        nondefault_stacks=nondefault,
        dev_cost=dev,
        flows=flows,
        kept_min=kept.get("min"),
        kept_max=kept.get("max"),
        min_jobs_cut=None if min_jobs is None else float(min_jobs),
        single_sourcing=_bool(cfg.get("single_sourcing", False)),
        extra={"config": cfg, "tables": t},
    )


# --------------------------------------------------------------------------- #
# Enumeration
# --------------------------------------------------------------------------- #
def _plant_choices(d: RefData):
    """All z vectors (dict plant -> 0/1) honouring status, plants_kept and min_jobs_cut."""
    options = [
        (1,) if d.status[p] == "keep" else (0,) if d.status[p] == "close" else (0, 1)
        for p in d.plants
    ]
    for combo in itertools.product(*options):
        z = dict(zip(d.plants, combo))
        kept = sum(combo)
        if d.kept_min is not None and kept < d.kept_min:
            continue
        if d.kept_max is not None and kept > d.kept_max:
            continue
        jobs_cut = sum(d.headcount[p] * (1 - z[p]) for p in d.plants)
        if d.min_jobs_cut is not None and jobs_cut < d.min_jobs_cut - 1e-9:
            continue
        yield z


def _sourcing_choices(d: RefData, z: dict[str, int]):
    """Single sourcing: one plant (or none) per (model, market) that has flows.

    Assigning a pair to a closed plant is the same as assigning it to no plant
    (closed plants cannot produce), so only kept candidates are enumerated.
    Yields a dict (v, m) -> allowed plant, or None meaning "no restriction".
    """
    if not d.single_sourcing:
        yield None
        return
    candidates: dict[tuple[str, str], set[str]] = {}
    for f in d.flows:
        candidates.setdefault((f.model, f.market), set()).add(f.plant)
    pairs = sorted(candidates)
    options = [sorted(p for p in candidates[vm] if z[p] == 1) or [None] for vm in pairs]
    for combo in itertools.product(*options):
        yield dict(zip(pairs, combo))


def _solve_lp(d: RefData, z, w, assign) -> float | None:
    """max sum_f margin_f x_f for fixed binaries; None when infeasible.

    Rows (all as A x <= b) follow the spec's constraint list one by one.
    """
    flows = d.flows
    n = len(flows)
    rows: list[np.ndarray] = []
    rhs: list[float] = []

    def add(mask, bound):
        rows.append(np.asarray(mask, dtype=float))
        rhs.append(float(bound))

    # plant capacity: sum_{f of p} x_f <= capacity_p z_p
    for p in d.plants:
        add([f.plant == p for f in flows], d.capacity[p] * z[p])
    # line capacity: sum_{f of (p, v)} x_f <= capacity_pv z_p
    for (p, v), c in d.line_capacity.items():
        add([f.plant == p and f.model == v for f in flows], c * z[p])
    # demand: min_vm <= sum_{f of (v, m)} x_f <= max_vm
    for vm in d.demand_max:
        mask = np.array([(f.model, f.market) == vm for f in flows], dtype=float)
        add(mask, d.demand_max[vm])
        add(-mask, -d.demand_min[vm])
    # export channel: non-domestic flows from plants in country o
    for o, c in d.channel_capacity.items():
        add([(not f.domestic) and d.plant_country[f.plant] == o for f in flows], c)

    # software (x_f <= max_vm w_vs) and single sourcing (x <= max_vm a_pvm) as bounds
    bounds = []
    for f in flows:
        ub = d.demand_max[(f.model, f.market)]
        if (f.model, f.stack) in w and w[(f.model, f.stack)] == 0:
            ub = 0.0
        if assign is not None and assign.get((f.model, f.market)) != f.plant:
            ub = 0.0
        bounds.append((0.0, ub))

    if n == 0:  # nothing to optimise: feasible iff 0 satisfies every row
        return 0.0 if all(b >= -1e-9 for b in rhs) else None
    c = -np.array([f.margin for f in flows])
    res = linprog(
        c,
        A_ub=np.vstack(rows) if rows else None,
        b_ub=np.array(rhs) if rows else None,
        bounds=bounds,
        method="highs",
    )
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"linprog failed: {res.message}")
    return -res.fun


def solve(path: str | Path | RefData) -> tuple[str, float | None]:
    """Brute-force optimum: ("optimal", npv) or ("infeasible", None)."""
    d = path if isinstance(path, RefData) else load(path)
    best = None
    for z in _plant_choices(d):
        fixed = sum(d.fixed_cost[p] * z[p] for p in d.plants)
        closure = sum(d.closure_cost[p] * (1 - z[p]) for p in d.plants)
        for wc in itertools.product((0, 1), repeat=len(d.nondefault_stacks)):
            w = dict(zip(d.nondefault_stacks, wc))
            dev = sum(d.dev_cost[vs] * w[vs] for vs in d.nondefault_stacks)
            for assign in _sourcing_choices(d, z):
                op = _solve_lp(d, z, w, assign)
                if op is None:
                    continue
                npv = d.annuity * (op - fixed) - closure - dev
                if best is None or npv > best:
                    best = npv
    if best is None:
        return "infeasible", None
    return "optimal", best
