"""Independent brute-force oracle for the v2 network-design model (tests only).

The v2 counterpart of ``reference.py``.  It re-implements the contract of
``shared/spec/model-v2.md`` (on top of ``model.md``) WITHOUT importing anything
from ``optimizer`` or ``models``, and is deliberately naive so that it can be
read line by line against the spec (section numbers in the comments are those
of model-v2.md, "v1" means model.md):

1. read an instance -- a folder with ``instance.yaml`` (tables inline or as
   CSV files) or a dict of the same shape -- applying the documented defaults;
2. enumerate every *plan*: for each plant the first year it is closed
   (``None`` = never, or one of Y1..YT) and for each non-default software
   stack the year it is developed (``None`` = never, or Y1..YT), keeping only
   the plans the plant rules, statuses, ``earliest_closure``,
   ``closure_year`` and ``available_from`` allow;
3. for each plan, solve the flow problem of every year (x, q and, with single
   sourcing, the binaries a) with ``scipy.optimize.milp`` from explicitly built
   dense matrices.  Given the plan the years are independent (every flow
   constraint of section 5/6/6b is per year), so the value of one year depends
   only on the set of open plants and developed stacks in that year; that value
   is memoised, which is the only cleverness here;
4. NPV of the plan = sum over years of the year factor times the year's best
   operating value, minus the plan's fixed, closure and development costs
   (section 7); return the best plan.

Scenario sets (section 8) go through :func:`solve_set`: one plan for every
scenario, flows per scenario.

Tiny instances only: <= 4 plants, <= 4 years, <= 2 non-default stacks.

Readings (where the spec leaves a choice; the engine should match or flag)
--------------------------------------------------------------------------
R1. Without ``periods`` the instance is one steady-state year, labelled 0.
    Operating terms (margins, quota saving, fixed cost, CO2 charge) are
    multiplied by the annuity factor A; the one-off closure and development
    costs are not discounted (exactly the v1 objective).  v2 columns that
    clarification 10.2 does not forbid in a steady-state instance
    (equity_share, jobs_cut, co2, bans and tariff_quotas without year
    columns, capacity_kept, co2_price, co2_cap) are honoured in that year.
    In the plan, a closed plant then has closure year 0.
R2. The tail (section 1) repeats the last year's flows: the last year's
    operating value is weighted d_YT + D_tail, which is positive, so the
    last year's flows are chosen by the same per-year problem.  A co2_cap
    covering YT therefore also covers the tail.
R3. ``equity_share`` scales the plant's flow margins, its in-quota duty
    saving, its fixed cost and its closure cost (also a negative closure
    cost); it does not scale development costs (no plant owns them), the
    CO2 charge (clarification 10.11), capacities, or jobs.
R4. v1 forms of the plant rules: a mapping ``plants_kept`` / ``capacity_kept``
    is one rule (with or without from_year / selector, 10.3) whose from_year
    defaults to the last year; a number ``min_jobs_cut`` is the rule
    {min: number, by_year: last year} over all plants, counting jobs_cut
    (default headcount).  ``capacity_kept`` counts the plants' ``capacity``
    column (not scaled by equity).  A selector value may be a list or a
    ``;``-separated string.
R5. A ``plant`` ban bars the plant's country in that market for every model and
    stack, domestic sales included (10.6).  A ``software`` ban bars stacks of
    that origin; the implicit default stack (no origin) is never banned.
R6. Quotas cover only non-domestic flows (section 6).  Every covered flow gets
    a q variable, also when duty_in >= duty_out (q = 0 is then optimal).  A
    quota row matching a flow that has no applicable tariff row still covers
    it (duty_out = 0, so the quota never helps).
R7. A plan is feasible when every year's flow problem is feasible; a demand
    row with min_units > 0 in a year where no flow can serve it makes that
    year (and every plan) infeasible.
R8. Scenario sets: a plan infeasible in any scenario of the set (also one
    with weight 0) is not eligible; a scenario infeasible on its own (no
    NPV*_s) makes the set infeasible, whatever the criterion.  NPV*_s is
    found over the same plans as the set (a scenario cannot change the plan
    rules, so this is the scenario solved alone).  Weights naming a scenario
    outside the set are an input error; a scenario the weights omit has
    weight 0.  The reported value of ``max_regret`` is the minimised maximum
    regret (a number >= 0), of ``expected`` the expected NPV, of
    ``worst_case`` the worst NPV.  When several plans are optimal for the set
    criterion, or several plans are optimal for the unchanged instance, VSS and
    EVPI can differ between them; the oracle returns them for the first such
    plan in its enumeration order and also ``vss_range`` / ``evpi_range`` over
    all tied plans (the hand-made cases have unique optima).  If no optimal
    plan of the unchanged instance can be operated in every scenario, VSS is
    None with a note; if only some can, the range covers those that can.
R9. Input errors the oracle checks (ValueError): the ones the enumeration
    depends on (overlapping year ranges of one key, equally specific tariff
    or quota rows in a year, periods with horizon_years, year columns
    without periods, status beside closure_year, closure_year before
    earliest_closure, status close beside a later earliest_closure,
    available_from on a default stack, min_jobs_cut with max, by_year outside
    the periods, two selectors, equity_share outside (0, 1], negative co2 /
    co2_price / cap max, and scenario-set changes section 8 forbids).  It is
    not a validator: other malformed input may fail in any way.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = [
    "Plan",
    "Result",
    "SetResult",
    "V2Data",
    "load",
    "solve",
    "solve_set",
    "plan_npv",
    "check_scenario",
]

WILDCARD = "*"
TOL = 1e-6
YEAR_TABLES = ("demand", "freight", "production", "tariffs", "tariff_quotas", "export_channels", "bans")
KEYS = {
    "demand": ("model", "market"),
    "freight": ("plant", "market"),
    "production": ("plant", "model"),
    "tariffs": ("origin", "market", "powertrain"),
    "tariff_quotas": ("origin", "market", "powertrain"),
    "export_channels": ("origin",),
    "bans": ("market", "kind", "origin"),
}


# --------------------------------------------------------------------------- #
# Reading (v1 "Instance = a folder"; tables inline or CSV)
# --------------------------------------------------------------------------- #
def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _num(value: object, default: float | None = None) -> float | None:
    return default if _missing(value) else float(value)


def _int(value: object) -> int | None:
    return None if _missing(value) else int(float(value))


def _str(value: object) -> str:
    return str(value).strip()


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in {"true", "1", "yes", "1.0"}:
        return True
    if word in {"false", "0", "no", "0.0"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _records(folder: Path | None, spec: object) -> list[dict]:
    """A table as a list of dicts; missing cells become None."""
    if isinstance(spec, list):
        return [{k: (None if _missing(v) else v) for k, v in dict(r).items()} for r in spec]
    if folder is None:
        raise ValueError(f"table given as a path {spec!r} but the instance is a dict")
    df = pd.read_csv(folder / str(spec), dtype=str, keep_default_na=False)
    return [{k: (None if _missing(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def read_instance(instance: object) -> tuple[dict, dict[str, list[dict]]]:
    """(settings mapping, {table: records}) from a folder, a yaml path or a dict."""
    if isinstance(instance, dict):
        cfg, folder = copy.deepcopy(instance), None
    else:
        path = Path(instance)
        folder = path.parent if path.is_file() else path
        cfg = yaml.safe_load((folder / "instance.yaml").read_text(encoding="utf-8")) or {}
    tables = {name: _records(folder, spec) for name, spec in (cfg.get("tables") or {}).items()}
    return cfg, tables


# --------------------------------------------------------------------------- #
# The data the enumeration needs
# --------------------------------------------------------------------------- #
@dataclass
class V2Data:
    years: list[int]
    op_factor: dict[int, float]
    """Weight of year y's operating cash flow: d_y, plus D_tail for YT (R1: A without periods)."""
    oneoff_factor: dict[int, float]
    """Weight of a one-off cost charged in year y: d_y (R1: 1 without periods)."""
    has_periods: bool
    plants: list[str]
    country: dict[str, str]
    capacity: dict[str, float]
    fixed_cost: dict[str, float]
    closure_cost: dict[str, float]
    jobs_cut: dict[str, float]
    equity: dict[str, float]
    status: dict[str, str]
    earliest_closure: dict[str, int | None]
    closure_year: dict[str, int | None]
    powertrain: dict[str, str]
    stacks: dict[str, list[dict]]
    market_country: dict[str, str]
    always_banned: dict[str, set[str]]
    rows: dict[str, list[dict]]
    """Year-dependent tables (section 2), each row with from_year/to_year (None = open)."""
    duty_basis: str
    single_sourcing: bool
    co2_price: float
    co2_caps: list[dict]
    kept_rules: list[dict]
    capacity_rules: list[dict]
    jobs_rules: list[dict]
    config: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    @property
    def nondefault(self) -> list[tuple[str, str]]:
        return [(v, s["stack"]) for v in self.stacks for s in self.stacks[v] if not s["default"]]

    def stack(self, v: str, s: str) -> dict:
        return next(x for x in self.stacks[v] if x["stack"] == s)


def _applies(row: dict, y: int) -> bool:
    """Section 2: a row applies in year y when from_year <= y <= to_year (empty = open)."""
    lo, hi = row["from_year"], row["to_year"]
    return (lo is None or lo <= y) and (hi is None or y <= hi)


def _check_overlaps(name: str, rows: list[dict]) -> None:
    """Section 2 + 10.8: two rows of one key with overlapping year ranges are an error."""
    by_key: dict[tuple, list[dict]] = {}
    for r in rows:
        by_key.setdefault(tuple(_str(r[k]) for k in KEYS[name]), []).append(r)
    for key, group in by_key.items():
        for a, b in itertools.combinations(group, 2):
            lo = max(-math.inf if a["from_year"] is None else a["from_year"],
                     -math.inf if b["from_year"] is None else b["from_year"])
            hi = min(math.inf if a["to_year"] is None else a["to_year"],
                     math.inf if b["to_year"] is None else b["to_year"])
            if lo <= hi:
                raise ValueError(f"{name}: rows {a} and {b} of key {key} overlap in years")


def _selector(rule: dict) -> tuple[str, set[str]] | None:
    """Section 4: at most one of countries / exclude_countries."""
    def as_set(v):
        if isinstance(v, str):
            return {x.strip() for x in v.split(";") if x.strip()}
        return {_str(x) for x in v}
    has_in, has_out = rule.get("countries") is not None, rule.get("exclude_countries") is not None
    if has_in and has_out:
        raise ValueError(f"rule {rule} has both countries and exclude_countries")
    if has_in:
        return ("in", as_set(rule["countries"]))
    if has_out:
        return ("out", as_set(rule["exclude_countries"]))
    return None


def _rules(value: object, kind: str, years: list[int], has_periods: bool) -> list[dict]:
    """Section 4 + 10.3/10.4: v1 form or list form -> list of normalised rules."""
    if value is None:
        return []
    if isinstance(value, (int, float)) and kind == "jobs":
        value = {"min": value}  # R4: v1 number form
    items = [value] if isinstance(value, dict) else list(value)
    out = []
    for r in items:
        r = dict(r)
        year_key = "by_year" if kind == "jobs" else "from_year"
        if not has_periods and r.get(year_key) is not None:
            raise ValueError(f"{year_key} without periods: {r}")
        if kind == "jobs":
            if r.get("max") is not None:
                raise ValueError("min_jobs_cut with a max")  # 10.3
            by = years[-1] if r.get("by_year") is None else int(r["by_year"])
            if by not in years:
                raise ValueError(f"by_year {by} outside the periods")  # 10.4
            out.append({"min": _num(r.get("min"), 0.0), "by_year": by, "sel": _selector(r)})
        else:
            frm = years[-1] if r.get("from_year") is None else int(r["from_year"])
            out.append({"min": _num(r.get("min")), "max": _num(r.get("max")), "from_year": frm,
                        "sel": _selector(r)})
    return out


def load(instance: object) -> V2Data:
    """Read an instance (folder, instance.yaml path or dict) and apply the defaults."""
    cfg, t = read_instance(instance)
    rate = float(cfg.get("discount_rate") or 0.0)

    # ---- section 1: periods, d_y, D_tail ------------------------------------
    periods = cfg.get("periods")
    if periods is not None:
        if cfg.get("horizon_years") is not None:
            raise ValueError("periods together with horizon_years")
        first, last = int(periods["first"]), int(periods["last"])
        years = list(range(first, last + 1))
        T = len(years)
        tail = int(cfg.get("tail_years") or 0)
        d = {y: (1.0 + rate) ** -(i + 1) for i, y in enumerate(years)}
        d_tail = sum((1.0 + rate) ** -k for k in range(T + 1, T + tail + 1))
        op_factor = dict(d)
        op_factor[years[-1]] += d_tail
        oneoff = dict(d)
    else:
        if cfg.get("tail_years") is not None:
            raise ValueError("tail_years without periods")  # 10.2
        years = [0]  # R1
        horizon = int(cfg.get("horizon_years") or 1)
        op_factor = {0: sum((1.0 + rate) ** -k for k in range(1, horizon + 1))}  # v1 annuity
        oneoff = {0: 1.0}
    has_periods = periods is not None
    Y1, YT = years[0], years[-1]

    # ---- plants (v1 + section 3) --------------------------------------------
    plants, country, cap, fixed, closure, jobs, equity, status, earliest, cyear = ([], {}, {}, {}, {}, {}, {},
                                                                                   {}, {}, {})
    for r in t["plants"]:
        p = _str(r["plant"])
        plants.append(p)
        country[p] = _str(r["country"])
        cap[p] = _num(r["capacity"])
        fixed[p] = _num(r["fixed_cost"])
        closure[p] = _num(r["closure_cost"])  # may be negative in v2 (net sale proceeds)
        jobs[p] = _num(r.get("jobs_cut"), _num(r["headcount"]))  # default headcount
        equity[p] = _num(r.get("equity_share"), 1.0)
        if not 0.0 < equity[p] <= 1.0:
            raise ValueError(f"equity_share of {p} outside (0, 1]")
        status[p] = "free" if _missing(r.get("status")) else _str(r["status"])
        earliest[p] = _int(r.get("earliest_closure"))
        cyear[p] = _int(r.get("closure_year"))
        if not has_periods and (earliest[p] is not None or cyear[p] is not None):
            raise ValueError(f"earliest_closure/closure_year without periods ({p})")  # 10.2
        if cyear[p] is not None and status[p] != "free":
            raise ValueError(f"plant {p} has both status and closure_year")  # section 3, 10.1
        if cyear[p] is not None and earliest[p] is not None and cyear[p] < earliest[p]:
            raise ValueError(f"plant {p}: closure_year before earliest_closure")
        if status[p] == "close" and earliest[p] is not None and earliest[p] > Y1:
            raise ValueError(f"plant {p}: status close beside a later earliest_closure")  # 10.1

    powertrain = {_str(r["model"]): _str(r["powertrain"]) for r in t["models"]}

    # ---- software (v1 + section 5) ------------------------------------------
    stacks: dict[str, list[dict]] = {v: [] for v in powertrain}
    for r in t.get("software", []):
        s = {"stack": _str(r["stack"]), "origin": _str(r["origin"]), "dev_cost": _num(r["dev_cost"]),
             "unit_cost": _num(r["unit_cost"]), "default": _bool(r["default"]),
             "available_from": _int(r.get("available_from"))}
        if s["available_from"] is not None and not has_periods:
            raise ValueError("available_from without periods")  # 10.2
        if s["available_from"] is not None and s["default"]:
            raise ValueError("available_from on a default stack")  # 10.5
        stacks[_str(r["model"])].append(s)
    for v in stacks:
        if not stacks[v]:  # v1: one implicit stack with no origin, never banned
            stacks[v] = [{"stack": "default", "origin": None, "dev_cost": 0.0, "unit_cost": 0.0,
                          "default": True, "available_from": None}]

    market_country, always = {}, {}
    for r in t["markets"]:
        m = _str(r["market"])
        market_country[m] = _str(r["country"])
        b = r.get("banned_software_origins")
        always[m] = set() if _missing(b) else {x.strip() for x in str(b).split(";") if x.strip()}

    # ---- year-dependent tables (section 2) ----------------------------------
    rows: dict[str, list[dict]] = {}
    for name in YEAR_TABLES:
        out = []
        for r in t.get(name, []):
            r = dict(r)
            r["from_year"], r["to_year"] = _int(r.get("from_year")), _int(r.get("to_year"))
            if not has_periods and (r["from_year"] is not None or r["to_year"] is not None):
                raise ValueError(f"{name}: from_year/to_year without periods")
            for k in KEYS[name]:
                r[k] = _str(r[k])
            out.append(r)
        _check_overlaps(name, out)
        rows[name] = out
    for name in ("production", "freight"):
        for r in rows[name]:
            if _num(r.get("co2"), 0.0) < 0:
                raise ValueError(f"negative co2 in {name}")

    # ---- section 6b settings ------------------------------------------------
    co2_price = float(cfg.get("co2_price") or 0.0)
    caps_cfg = cfg.get("co2_cap")
    caps = [] if caps_cfg is None else [caps_cfg] if isinstance(caps_cfg, dict) else list(caps_cfg)
    co2_caps = []
    for c in caps:
        if c.get("from_year") is not None and not has_periods:
            raise ValueError("co2_cap from_year without periods")
        co2_caps.append({"max": float(c["max"]), "from_year": Y1 if c.get("from_year") is None
                         else int(c["from_year"])})
    if co2_price < 0 or any(c["max"] < 0 for c in co2_caps):
        raise ValueError("negative co2_price or cap")

    return V2Data(
        years=years, op_factor=op_factor, oneoff_factor=oneoff, has_periods=has_periods,
        plants=plants, country=country, capacity=cap, fixed_cost=fixed, closure_cost=closure,
        jobs_cut=jobs, equity=equity, status=status, earliest_closure=earliest, closure_year=cyear,
        powertrain=powertrain, stacks=stacks, market_country=market_country, always_banned=always,
        rows=rows, duty_basis=str(cfg.get("duty_basis") or "cif"),
        single_sourcing=_bool(cfg.get("single_sourcing", False)),
        co2_price=co2_price, co2_caps=co2_caps,
        kept_rules=_rules(cfg.get("plants_kept"), "kept", years, has_periods),
        capacity_rules=_rules(cfg.get("capacity_kept"), "capacity", years, has_periods),
        jobs_rules=_rules(cfg.get("min_jobs_cut"), "jobs", years, has_periods),
        config=cfg, tables=t,
    )


# --------------------------------------------------------------------------- #
# One year's rows and flows (sections 2, 5, 6, 6b)
# --------------------------------------------------------------------------- #
def _by_key(d: V2Data, name: str, y: int) -> dict[tuple, dict]:
    """The rows of a table that apply in year y, by key (at most one per key)."""
    return {tuple(r[k] for k in KEYS[name]): r for r in d.rows[name] if _applies(r, y)}


def _most_specific(d: V2Data, name: str, y: int, origin: str, market: str, powertrain: str) -> dict | None:
    """v1 most-specific rule among the rows that apply in year y (section 2)."""
    key = {"origin": origin, "market": market, "powertrain": powertrain}
    matches = [r for r in d.rows[name] if _applies(r, y)
               and all(r[k] == WILDCARD or r[k] == key[k] for k in key)]
    if not matches:
        return None
    level = {id(r): sum(r[k] != WILDCARD for k in key) for r in matches}
    best = max(level.values())
    top = [r for r in matches if level[id(r)] == best]
    if len(top) > 1:
        raise ValueError(f"year {y}: equally specific {name} rows match {key}: {top}")
    return top[0]


@dataclass(frozen=True)
class Flow:
    plant: str
    model: str
    stack: str
    market: str
    margin: float
    """v1 unit margin with the rows of the year (duty_out included)."""
    domestic: bool
    duty_out: float
    duty_in: float | None
    quota: int | None
    """Index (in d.rows['tariff_quotas']) of the quota row covering the flow, if any."""
    co2: float


def year_flows(d: V2Data, y: int, developed: frozenset) -> list[Flow]:
    """Every flow (p, v, s, m) that exists in year y (section 5), open or not."""
    production = _by_key(d, "production", y)
    freight = _by_key(d, "freight", y)
    demand = _by_key(d, "demand", y)
    channels = _by_key(d, "export_channels", y)
    software_bans = {(r["market"], r["origin"]) for r in d.rows["bans"] if _applies(r, y) and r["kind"] == "software"}
    plant_bans = {(r["market"], r["origin"]) for r in d.rows["bans"] if _applies(r, y) and r["kind"] == "plant"}
    flows = []
    for (p, v), prow in production.items():
        for (v2, m), drow in demand.items():
            if v2 != v or (p, m) not in freight:
                continue
            if (m, d.country[p]) in plant_bans:  # R5: domestic sales included
                continue
            frow = freight[(p, m)]
            price = _num(drow["price"])
            customs = _num(drow.get("customs_value"), price)
            fr = _num(frow["unit_cost"])
            domestic = d.country[p] == d.market_country[m]
            duty_out, duty_in, quota, fee = 0.0, None, None, 0.0
            if not domestic:
                basis = customs + (fr if d.duty_basis == "cif" else 0.0)
                trow = _most_specific(d, "tariffs", y, d.country[p], m, d.powertrain[v])
                if trow is not None:
                    duty_out = _num(trow["ad_valorem"]) * basis + _num(trow.get("specific"), 0.0)
                qrow = _most_specific(d, "tariff_quotas", y, d.country[p], m, d.powertrain[v])
                if qrow is not None:
                    quota = next(i for i, r in enumerate(d.rows["tariff_quotas"]) if r is qrow)
                    duty_in = _num(qrow["ad_valorem"]) * basis + _num(qrow.get("specific"), 0.0)
                if (d.country[p],) in channels:
                    fee = _num(channels[(d.country[p],)]["unit_fee"])
            co2 = _num(prow.get("co2"), 0.0) + _num(frow.get("co2"), 0.0)
            for s in d.stacks[v]:
                if s["origin"] is not None and (s["origin"] in d.always_banned[m]
                                                or (m, s["origin"]) in software_bans):
                    continue
                if not s["default"] and (v, s["stack"]) not in developed:
                    continue  # x <= max_units w with w = 0
                margin = price - _num(prow["unit_cost"]) - fr - duty_out - s["unit_cost"] - fee
                flows.append(Flow(p, v, s["stack"], m, margin, domestic, duty_out, duty_in, quota, co2))
    return flows


def year_value(d: V2Data, y: int, open_plants: frozenset, developed: frozenset) -> float | None:
    """Best operating value of year y (the section 7 bracket without fixed costs,
    minus the CO2 charge), for the given open plants and developed stacks;
    None when infeasible.  Memoised."""
    key = (y, open_plants, developed)
    if key not in d.cache:
        d.cache[key] = _solve_year(d, y, open_plants, developed)
    return d.cache[key]


def _solve_year(d: V2Data, y: int, open_plants: frozenset, developed: frozenset) -> float | None:
    flows = year_flows(d, y, developed)
    demand = _by_key(d, "demand", y)
    production = _by_key(d, "production", y)
    channels = _by_key(d, "export_channels", y)
    nx = len(flows)
    covered = [i for i, f in enumerate(flows) if f.quota is not None]  # q variables (section 6)
    nq = len(covered)
    pvm = sorted({(f.plant, f.model, f.market) for f in flows}) if d.single_sourcing else []
    na = len(pvm)
    n = nx + nq + na
    X = lambda i: i  # noqa: E731
    Q = {i: nx + j for j, i in enumerate(covered)}
    A_ = {k: nx + nq + j for j, k in enumerate(pvm)}

    rows: list[np.ndarray] = []
    ub: list[float] = []

    def add(coeffs: dict[int, float], bound: float) -> None:  # sum coeffs . vars <= bound
        row = np.zeros(n)
        for i, c in coeffs.items():
            row[i] += c
        rows.append(row)
        ub.append(float(bound))

    # plant capacity (v1, per year): sum_{f of p} x <= capacity_p z_(p,y)
    for p in d.plants:
        z = 1.0 if p in open_plants else 0.0
        add({X(i): 1.0 for i, f in enumerate(flows) if f.plant == p}, d.capacity[p] * z)
    # line capacity with the production row of the year
    for (p, v), prow in production.items():
        c = _num(prow.get("capacity"))
        if c is not None:
            z = 1.0 if p in open_plants else 0.0
            add({X(i): 1.0 for i, f in enumerate(flows) if (f.plant, f.model) == (p, v)}, c * z)
    # demand: min <= sum x <= max, for every demand row that applies in y
    for (v, m), drow in demand.items():
        idx = [X(i) for i, f in enumerate(flows) if (f.model, f.market) == (v, m)]
        add({i: 1.0 for i in idx}, _num(drow["max_units"]))
        add({i: -1.0 for i in idx}, -_num(drow.get("min_units"), 0.0))
    # export channel of the year: non-domestic flows from plants in country o
    for (o,), crow in channels.items():
        add({X(i): 1.0 for i, f in enumerate(flows) if not f.domestic and d.country[f.plant] == o},
            _num(crow["capacity"]))
    # section 6: q <= x, and one pool per quota row
    for i in covered:
        add({Q[i]: 1.0, X(i): -1.0}, 0.0)
    for k in sorted({flows[i].quota for i in covered}):
        add({Q[i]: 1.0 for i in covered if flows[i].quota == k}, _num(d.rows["tariff_quotas"][k]["quota"]))
    # section 6b: E_y <= max for every cap rule covering y
    for cap in d.co2_caps:
        if y >= cap["from_year"]:
            add({X(i): f.co2 for i, f in enumerate(flows)}, cap["max"])
    # single sourcing (v1, per year): sum_p a <= 1; sum_s x <= max_units a
    if d.single_sourcing:
        for (v, m) in sorted({(v, m) for (_, v, m) in pvm}):
            add({A_[k]: 1.0 for k in pvm if (k[1], k[2]) == (v, m)}, 1.0)
        for k in pvm:
            coeffs = {X(i): 1.0 for i, f in enumerate(flows) if (f.plant, f.model, f.market) == k}
            coeffs[A_[k]] = -_num(demand[(k[1], k[2])]["max_units"])
            add(coeffs, 0.0)

    if n == 0:  # nothing to decide: feasible iff the zero vector satisfies every row
        return 0.0 if all(b >= -1e-9 for b in ub) else None

    # objective (section 7 bracket, per unit): e_p margin - co2_price co2 on x; e_p (out - in) on q
    c = np.zeros(n)
    for i, f in enumerate(flows):
        c[X(i)] = d.equity[f.plant] * f.margin - d.co2_price * f.co2
    for i in covered:
        f = flows[i]
        c[Q[i]] = d.equity[f.plant] * (f.duty_out - f.duty_in)
    upper = np.full(n, np.inf)
    for i, f in enumerate(flows):
        upper[X(i)] = _num(demand[(f.model, f.market)]["max_units"])
    upper[nx + nq:] = 1.0
    integrality = np.zeros(n)
    integrality[nx + nq:] = 1
    constraints = [LinearConstraint(np.vstack(rows), -np.inf, np.array(ub))] if rows else []
    res = milp(-c, constraints=constraints, integrality=integrality, bounds=Bounds(np.zeros(n), upper))
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"milp failed in year {y}: {res.message}")
    return -res.fun


# --------------------------------------------------------------------------- #
# Plans (sections 3, 4, 5) and their NPV (section 7)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Plan:
    closures: dict
    """plant -> first closed year, or None (never closed)."""
    developments: dict
    """"model/stack" -> year of development, or None (never); non-default stacks only."""

    def is_open(self, p: str, y: int) -> bool:
        c = self.closures[p]
        return c is None or y < c

    def key(self) -> tuple:
        return (tuple(sorted(self.closures.items(), key=str)), tuple(sorted(self.developments.items(), key=str)))


def _closure_options(d: V2Data, p: str) -> list[int | None]:
    """Section 3: the first closed year of p allowed by status, closure_year, earliest_closure."""
    Y1, YT = d.years[0], d.years[-1]
    if d.status[p] == "keep":
        return [None]
    if d.status[p] == "close":
        return [Y1]
    cy = d.closure_year[p]
    if cy is not None:  # decided closure; <= Y1 = closed throughout, > YT = open throughout
        return [Y1] if cy <= Y1 else [None] if cy > YT else [cy]
    ec = d.earliest_closure[p]
    return [None] + [y for y in d.years if ec is None or y >= ec]


def _development_options(d: V2Data, v: str, s: str) -> list[int | None]:
    """Section 5: w monotone, so a development year; not before available_from."""
    af = d.stack(v, s)["available_from"]
    return [None] + [y for y in d.years if af is None or y >= af]


def _selected(d: V2Data, sel) -> list[str]:
    if sel is None:
        return list(d.plants)
    kind, countries = sel
    return [p for p in d.plants if (d.country[p] in countries) == (kind == "in")]


def plan_allowed(d: V2Data, plan: Plan) -> bool:
    """Section 4: plants_kept, capacity_kept and min_jobs_cut rules."""
    for rules, weight in ((d.kept_rules, lambda p: 1.0), (d.capacity_rules, lambda p: d.capacity[p])):
        for r in rules:
            ps = _selected(d, r["sel"])
            for y in d.years:
                if y < r["from_year"]:
                    continue
                total = sum(weight(p) for p in ps if plan.is_open(p, y))
                if r["min"] is not None and total < r["min"] - 1e-9:
                    return False
                if r["max"] is not None and total > r["max"] + 1e-9:
                    return False
    for r in d.jobs_rules:
        cut = sum(d.jobs_cut[p] for p in _selected(d, r["sel"]) if not plan.is_open(p, r["by_year"]))
        if cut < r["min"] - 1e-9:
            return False
    return True


def plans(d: V2Data):
    """Every plan allowed by sections 3-5 (deterministic order: never first)."""
    closure_opts = [_closure_options(d, p) for p in d.plants]
    dev_opts = [_development_options(d, v, s) for v, s in d.nondefault]
    names = [f"{v}/{s}" for v, s in d.nondefault]
    for cl in itertools.product(*closure_opts):
        base = dict(zip(d.plants, cl))
        for dv in itertools.product(*dev_opts):
            plan = Plan(base, dict(zip(names, dv)))
            if plan_allowed(d, plan):
                yield plan


def plan_npv(d: V2Data, plan: Plan) -> float | None:
    """Section 7 objective of a plan with the best flows; None if a year is infeasible."""
    npv = 0.0
    for y in d.years:
        open_y = frozenset(p for p in d.plants if plan.is_open(p, y))
        dev_y = frozenset((v, s) for v, s in d.nondefault
                          if plan.developments[f"{v}/{s}"] is not None and plan.developments[f"{v}/{s}"] <= y)
        op = year_value(d, y, open_y, dev_y)
        if op is None:
            return None
        # operating bracket and fixed costs (times d_y, plus D_tail in YT)
        fixed = sum(d.equity[p] * d.fixed_cost[p] for p in open_y)
        npv += d.op_factor[y] * (op - fixed)
    # closure cost once, in the first closed year, times equity (section 3)
    for p, c in plan.closures.items():
        if c is not None:
            npv -= d.oneoff_factor[c] * d.equity[p] * d.closure_cost[p]
    # development cost once, in the year of development (section 5)
    for v, s in d.nondefault:
        yd = plan.developments[f"{v}/{s}"]
        if yd is not None:
            npv -= d.oneoff_factor[yd] * d.stack(v, s)["dev_cost"]
    return npv


@dataclass
class Result:
    status: str
    """'optimal' or 'infeasible'."""
    npv: float | None
    plan: Plan | None
    optimal_plans: list = field(default_factory=list)
    """Every plan whose NPV is within tolerance of the optimum (ties, 10.10)."""


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def solve(instance: object) -> Result:
    """Brute-force optimum of one instance (folder, yaml path, dict or V2Data)."""
    d = instance if isinstance(instance, V2Data) else load(instance)
    scored = [(plan, v) for plan in plans(d) if (v := plan_npv(d, plan)) is not None]
    if not scored:
        return Result("infeasible", None, None, [])
    best = max(v for _, v in scored)
    ties = [plan for plan, v in scored if _close(v, best)]
    return Result("optimal", best, ties[0], ties)


# --------------------------------------------------------------------------- #
# Scenario sets (section 8, clarification 10.9)
# --------------------------------------------------------------------------- #
_FORBIDDEN_SETTINGS = ("periods", "tail_years", "horizon_years", "discount_rate", "duty_basis", "single_sourcing",
                       "plants_kept", "capacity_kept", "min_jobs_cut", "co2_price", "co2_cap", "solver",
                       "fix_software")


def check_scenario(base: object, scenario: object, name: str = "scenario") -> None:
    """Section 8: a scenario of a set may not change what the shared plan depends on."""
    bcfg, bt = read_instance(base)
    scfg, st = read_instance(scenario)
    for key in _FORBIDDEN_SETTINGS:
        if bcfg.get(key) != scfg.get(key):
            raise ValueError(f"scenario {name} changes the setting {key}")
    for table, key, cols in (("plants", ("plant",), ("status", "earliest_closure", "closure_year",
                                                     "headcount", "jobs_cut")),
                             ("software", ("model", "stack"), ("default", "available_from"))):
        b = {tuple(_str(r[k]) for k in key): r for r in bt.get(table, [])}
        s = {tuple(_str(r[k]) for k in key): r for r in st.get(table, [])}
        if set(b) != set(s):
            raise ValueError(f"scenario {name} adds or removes rows of {table}")
        for k in b:
            for c in cols:
                bv, sv = b[k].get(c), s[k].get(c)
                if _missing(bv) and _missing(sv):
                    continue
                if _missing(bv) != _missing(sv) or _str(bv) != _str(sv):
                    raise ValueError(f"scenario {name} changes {table}.{c} of {k}")


@dataclass
class SetResult:
    status: str
    value: float | None
    """Criterion value: expected NPV, worst NPV, or the minimised maximum regret (R8)."""
    plan: Plan | None
    npv: dict
    """scenario -> NPV_s of the set's plan."""
    npv_star: dict
    """scenario -> NPV*_s (the scenario solved alone)."""
    regret: dict
    """scenario -> NPV*_s - NPV_s."""
    vss: float | None
    evpi: float | None
    weights: dict = field(default_factory=dict)
    """The weights used for VSS/EVPI (and the expectation)."""
    vss_range: tuple | None = None
    evpi_range: tuple | None = None
    vss_note: str = ""
    optimal_plans: list = field(default_factory=list)

    def __iter__(self):
        """Unpacks as (value, plan, npv, npv_star, regret, vss, evpi)."""
        return iter((self.value, self.plan, self.npv, self.npv_star, self.regret, self.vss, self.evpi))


def _set_weights(criterion: str, names: list[str], weights: dict | None) -> dict:
    w = {s: float((weights or {}).get(s, 0.0)) for s in names}
    sums_to_one = weights is not None and abs(sum(w.values()) - 1.0) <= 1e-9 and all(x >= 0 for x in w.values())
    if criterion == "expected":
        if not sums_to_one:
            raise ValueError("expected: probabilities must be >= 0 and sum to 1")
        return w
    return w if sums_to_one else {s: 1.0 / len(names) for s in names}  # 10.9


def solve_set(instance: object, scenarios: dict, criterion: str, weights: dict | None = None) -> SetResult:
    """One shared plan for several scenarios (section 8), by enumeration.

    ``instance`` is the unchanged instance (its optimum is the base plan of the
    VSS, 10.9); ``scenarios`` maps names to full instances (folders or dicts);
    ``weights`` maps names to probabilities (required for ``expected``).
    """
    if criterion not in ("expected", "worst_case", "max_regret"):
        raise ValueError(f"unknown criterion {criterion!r}")
    names = list(scenarios)
    if weights is not None and set(weights) - set(names):
        raise ValueError(f"weights name unknown scenarios: {sorted(set(weights) - set(names))}")
    for s in names:
        check_scenario(instance, scenarios[s], s)
    w = _set_weights(criterion, names, weights)
    base = load(instance)
    data = {s: load(scenarios[s]) for s in names}

    # NPV_s of every plan (the plan is shared; the flows adapt per scenario)
    table = []
    for plan in plans(base):
        table.append((plan, {s: plan_npv(data[s], plan) for s in names}))
    star = {}
    for s in names:
        vals = [npvs[s] for _, npvs in table if npvs[s] is not None]
        star[s] = max(vals) if vals else None
    if any(star[s] is None for s in names):
        return SetResult("infeasible", None, None, {}, star, {}, None, None, w)

    def score(npvs: dict) -> float:  # larger is better
        if criterion == "expected":
            return sum(w[s] * npvs[s] for s in names)
        if criterion == "worst_case":
            return min(npvs[s] for s in names)
        return -max(star[s] - npvs[s] for s in names)

    eligible = [(plan, npvs) for plan, npvs in table if all(npvs[s] is not None for s in names)]
    if not eligible:
        return SetResult("infeasible", None, None, {}, star, {}, None, None, w)
    best = max(score(npvs) for _, npvs in eligible)
    ties = [(plan, npvs) for plan, npvs in eligible if _close(score(npvs), best)]
    plan, npvs = ties[0]
    value = -best if criterion == "max_regret" else best

    def expect(npvs: dict) -> float:
        return sum(w[s] * npvs[s] for s in names)

    evpi_all = [sum(w[s] * star[s] for s in names) - expect(n) for _, n in ties]
    # VSS: the base plan = optimum of the unchanged instance, re-optimised per scenario
    base_res = solve(base)
    note = ""
    vss_all: list[float] = []
    if base_res.status != "optimal":
        note = "the unchanged instance is infeasible"
    else:
        operable = []
        for bp in base_res.optimal_plans:
            vals = {s: plan_npv(data[s], bp) for s in names}
            if all(v is not None for v in vals.values()):
                operable.append(vals)
        if not operable:
            note = "the base plan cannot be operated in every scenario"
        vss_all = [expect(n) - expect(b) for _, n in ties for b in operable]
    vss = vss_all[0] if vss_all else None  # ties[0] against the first operable base plan
    return SetResult(
        "optimal", value, plan, npvs, star, {s: star[s] - npvs[s] for s in names},
        vss, evpi_all[0], w,
        vss_range=(min(vss_all), max(vss_all)) if vss_all else None,
        evpi_range=(min(evpi_all), max(evpi_all)),
        vss_note=note,
        optimal_plans=[p for p, _ in ties],
    )
