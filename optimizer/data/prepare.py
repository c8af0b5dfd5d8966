"""From a validated instance to the sparse, per-year data the model is built on.

Everything here is pandas: the flow-year set is a chain of joins over the rows that
apply in each year (``production`` ⋈ ``freight`` ⋈ ``demand`` ⋈ stacks, minus banned
software and banned plant origins), so the full plant x model x stack x market x
year product is never formed.  Per-unit money terms of every flow-year (price,
production, freight, duty, software, channel fee, the quota's duty saving, CO2) are
computed here once, vectorised, and reused by the model builder and the results.

Years.  With ``periods`` the years are Y1..YT; without (a v1 instance) there is one
pseudo-year ``0`` whose operating cash flows count with the annuity factor A and
whose one-off costs count once, which is exactly the v1 objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InstanceValidationError, Problem
from .instance import Instance

IMPLICIT_STACK = "default"
"""Name of the one stack of a model that has no ``software`` rows."""

UNIT_TERMS = ("revenue", "production", "freight", "duties", "software", "channel_fees")
"""Per-unit components of a flow's margin; revenue counts +, the others -."""

STEADY_YEAR = 0
"""The single pseudo-year of an instance without ``periods``."""


def annuity_factor(horizon_years: int, rate: float) -> float:
    """A = sum_{t=1..H} (1 + r)^-t  (A = H when r = 0)."""
    if rate == 0:
        return float(horizon_years)
    return float(sum((1.0 + rate) ** -t for t in range(1, horizon_years + 1)))


@dataclass(frozen=True)
class Rule:
    """One rule on the plant set (``plants_kept``, ``capacity_kept``, ``min_jobs_cut``) or a CO2 cap.

    ``years`` are the plan years it covers (a jobs rule: its one ``by_year``);
    ``plants`` the plant ids it counts (all plants without a selector).
    """

    kind: str
    where: str
    min: float | None
    max: float | None
    years: tuple[int, ...]
    plants: tuple[str, ...] = ()


@dataclass
class ModelData:
    """Sparse, model-ready data.

    Attributes
    ----------
    years:
        The plan years (``[0]`` without periods).
    weight:
        Per year, the factor of its operating cash flows in the NPV: d_y, plus the
        tail factor D_tail in the last year (v1: the annuity factor A).
    oneoff:
        Per year, the factor of a one-off cost charged in that year: d_y (v1: 1).
    plants:
        One row per plant (index = plant id): country, capacity, fixed_cost,
        closure_cost, headcount, status, equity, jobs_cut, and the per-year bounds of
        z in ``z_lb``/``z_ub`` (arrays over ``years``).
    stacks:
        One row per (model, stack): origin, dev_cost, unit_cost, default, available_from.
    flows:
        One row per existing flow-year (plant, model, stack, market, year), position =
        the column of x in the model; columns include the per-unit terms of
        :data:`UNIT_TERMS`, ``margin``, ``domestic``, ``channel``, ``max_units``,
        ``equity``, ``co2``, ``quota`` (pool id, -1 if none) and ``quota_saving``.
    demand:
        One row per (model, market, year) with min_units, max_units, price.
    lines:
        (plant, model, year) line capacities that are given.
    channels:
        Export channels per (origin, year): capacity, unit_fee.
    quotas:
        Quota pools: one row per (quota row, year) that covers a flow with a saving:
        pool id (index), origin, market, powertrain, year, quota, ad_valorem, specific.
    rules:
        Plant rules and CO2 caps, in the order written.
    """

    plants: pd.DataFrame
    stacks: pd.DataFrame
    flows: pd.DataFrame
    demand: pd.DataFrame
    lines: pd.DataFrame
    channels: pd.DataFrame
    years: np.ndarray
    weight: np.ndarray
    oneoff: np.ndarray
    multi_year: bool
    single_sourcing: bool
    duty_basis: str
    quotas: pd.DataFrame = field(default_factory=pd.DataFrame)
    rules: list[Rule] = field(default_factory=list)
    co2_price: float = 0.0
    annuity: float = 1.0
    name: str = "instance"
    currency: str = "USD"
    warnings: list[Problem] = field(default_factory=list)

    @property
    def n_flows(self) -> int:
        """Number of flow-year variables."""
        return len(self.flows)

    @property
    def plants_kept(self) -> tuple[float | None, float | None]:
        """(min, max) of the one all-plants ``plants_kept`` rule of a v1 instance, else (None, None)."""
        rules = [r for r in self.rules if r.kind == "plants_kept"]
        return (rules[0].min, rules[0].max) if len(rules) == 1 else (None, None)

    @property
    def min_jobs_cut(self) -> float | None:
        """The one ``min_jobs_cut`` of a v1 instance, else None."""
        rules = [r for r in self.rules if r.kind == "min_jobs_cut"]
        return rules[0].min if len(rules) == 1 else None


# --------------------------------------------------------------------------- years
def _periods(s: Any) -> tuple[int, int] | None:
    p = getattr(s, "periods", None)
    return None if p is None else (int(p.first), int(p.last))


def year_factors(s: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(years, weight, oneoff, annuity) of the settings ``s`` (see :class:`ModelData`).

    d_y = (1 + r)^-t for the t-th year; D_tail = sum_{k=T+1..T+tail} (1 + r)^-k.
    """
    r = float(s.discount_rate)
    per = _periods(s)
    if per is None:
        a = annuity_factor(int(s.horizon_years), r)
        return np.array([STEADY_YEAR]), np.array([a]), np.array([1.0]), a
    years = np.arange(per[0], per[1] + 1)
    t = np.arange(1, len(years) + 1)
    d = (1.0 + r) ** -t.astype(float)
    tail = int(getattr(s, "tail_years", 0) or 0)
    d_tail = float(sum((1.0 + r) ** -k for k in range(len(years) + 1, len(years) + tail + 1)))
    weight = d.copy()
    weight[-1] += d_tail
    return years, weight, d, float(weight.sum())


def by_year(df: pd.DataFrame, years: np.ndarray) -> pd.DataFrame:
    """One row per (row of ``df``, year in ``years`` in which it applies) with a ``year`` column.

    A row applies in y when from_year <= y <= to_year (empty = open-ended); rows
    without those columns apply in every year.  ``_row`` keeps the row's position.
    """
    n, t = len(df), len(years)
    lo = df["from_year"].astype(float).fillna(-np.inf).to_numpy() if "from_year" in df else np.full(n, -np.inf)
    hi = df["to_year"].astype(float).fillna(np.inf).to_numpy() if "to_year" in df else np.full(n, np.inf)
    rep = np.repeat(np.arange(n), t)
    yy = np.tile(years, n)
    keep = (yy >= lo[rep]) & (yy <= hi[rep]) if n else np.zeros(0, dtype=bool)
    out = df.iloc[rep[keep]].reset_index(drop=True)
    out = out.drop(columns=[c for c in ("from_year", "to_year") if c in out])
    out["year"] = yy[keep].astype(int)
    out["_row"] = rep[keep]
    return out


# --------------------------------------------------------------------------- plants
def _plant_bounds(plants: pd.DataFrame, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per plant and year, the bounds of z_(p,y) (arrays plants x years).

    status keep: open in every year; status close: closed in every year;
    closure_year c: open before c, closed from c on; earliest_closure e: open before e.
    """
    n, t = len(plants), len(years)
    lb, ub = np.zeros((n, t)), np.ones((n, t))
    status = plants["status"].to_numpy()
    lb[status == "keep"] = 1.0
    ub[status == "close"] = 0.0
    yy = years[None, :]
    if "closure_year" in plants:
        c = plants["closure_year"].astype(float).to_numpy()[:, None]
        has = ~np.isnan(c)
        before, after = has & (yy < c), has & (yy >= c)
        lb[before], ub[after] = 1.0, 0.0
        lb[after] = 0.0
    if "earliest_closure" in plants:
        e = plants["earliest_closure"].astype(float).to_numpy()[:, None]
        lb[~np.isnan(e) & (yy < e)] = 1.0
    return lb, ub


def _plants(inst: Instance, years: np.ndarray) -> pd.DataFrame:
    pl = inst.tables["plants"].set_index("plant").copy()
    pl["equity"] = pl["equity_share"].astype(float).fillna(1.0) if "equity_share" in pl else 1.0
    if "jobs_cut" in pl:
        pl["jobs_cut"] = pl["jobs_cut"].astype(float).fillna(pl["headcount"].astype(float))
    else:
        pl["jobs_cut"] = pl["headcount"].astype(float)
    lb, ub = _plant_bounds(pl, years)
    pl["z_lb"] = list(lb)
    pl["z_ub"] = list(ub)
    return pl


def _stacks(inst: Instance) -> pd.DataFrame:
    cols = ["model", "stack", "origin", "dev_cost", "unit_cost", "default"]
    sw = inst.tables["software"]
    sw = sw[cols + (["available_from"] if "available_from" in sw else [])].copy()
    sw["default"] = sw["default"].astype(bool)
    missing = sorted(set(inst.tables["models"]["model"]) - set(sw["model"]))
    implicit = pd.DataFrame({"model": missing, "stack": IMPLICIT_STACK, "origin": None, "dev_cost": 0.0,
                             "unit_cost": 0.0, "default": True})
    out = pd.concat([sw, implicit], ignore_index=True) if len(implicit) else sw.reset_index(drop=True)
    out["available_from"] = out["available_from"].astype(float) if "available_from" in out else np.nan
    return out


# --------------------------------------------------------------------------- tariffs
def resolve_rules(items: pd.DataFrame, rules: pd.DataFrame, values: list[str], *, where: str, table: str,
                  rows: np.ndarray | None, exact: list[str] | None = None) -> pd.DataFrame:
    """For each row of ``items``, the matching row of ``rules`` with the most non-wildcard keys.

    Keys are origin, market, powertrain (``*`` = any); ``exact`` columns (e.g. year)
    must match exactly and do not count towards specificity.  Returns ``items``'
    positions (``_item``) with ``values`` and ``_rule`` (the rule's position in ``rules``);
    items that no rule matches are absent.  Two equally specific rows that both match
    an item are an input error (naming the year when ``year`` is an exact key).
    """
    keys = ["origin", "market", "powertrain"]
    exact = exact or []
    empty = pd.DataFrame({"_item": pd.Series(dtype=int), "_rule": pd.Series(dtype=int),
                          **{v: pd.Series(dtype=float) for v in values}})
    if rules.empty or items.empty:
        return empty
    t = rules.reset_index(drop=True).copy()
    t["_rule"] = t["_row"] if "_row" in t else np.arange(len(t))
    src_rows = rows if rows is not None else np.arange(1, int(t["_rule"].max()) + 2)
    wild = t[keys] == "*"
    t["_spec"] = (~wild).sum(axis=1)
    t["_pattern"] = [tuple(r) for r in wild.to_numpy()]
    base = items[keys + exact].reset_index(drop=True).reset_index().rename(columns={"index": "_item"})
    matches = []
    for pattern, grp in t.groupby("_pattern", sort=False):
        on = [k for k, w in zip(keys, pattern) if not w] + exact
        cols = on + values + ["_rule", "_spec"]
        if on:
            matches.append(base.merge(grp[cols], on=on, how="inner")[["_item", "_rule", "_spec"] + values])
        else:
            matches.append(base[["_item"]].merge(grp[cols], how="cross"))
    mt = pd.concat(matches, ignore_index=True)
    if mt.empty:
        return empty
    best = mt[mt["_spec"] == mt.groupby("_item")["_spec"].transform("max")]
    n = best.groupby("_item")["_rule"].transform("size")
    amb = best[n > 1]
    if not amb.empty:
        problems = []
        for item, grp in list(amb.groupby("_item"))[:50]:
            o, m, p = items.iloc[item][keys]
            year = f" in year {int(items.iloc[item]['year'])}" if "year" in exact else ""
            user_rows = sorted(int(src_rows[r]) for r in grp["_rule"])
            problems.append(Problem(
                where, f"rows {user_rows} are equally specific and both match origin={o}, market={m}, "
                f"powertrain={p}{year}.", table=table, row=user_rows[0], column="origin, market, powertrain",
                fix="Add a more specific row for that combination, narrow the rows' years, or remove one of them."))
        raise InstanceValidationError(problems)
    return best[["_item", "_rule"] + values].reset_index(drop=True)


# --------------------------------------------------------------------------- rules
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _rule_plants(rule: Any, plants: pd.DataFrame) -> tuple[str, ...]:
    countries = getattr(rule, "countries", None)
    exclude = getattr(rule, "exclude_countries", None)
    c = plants["country"]
    if countries:
        sel = c.isin(list(countries))
    elif exclude:
        sel = ~c.isin(list(exclude))
    else:
        sel = pd.Series(True, index=plants.index)
    return tuple(plants.index[sel.to_numpy()])


def _rules(inst: Instance, plants: pd.DataFrame, years: np.ndarray) -> list[Rule]:
    s = inst.settings
    out: list[Rule] = []
    last, first = int(years[-1]), int(years[0])
    for kind in ("plants_kept", "capacity_kept"):
        for i, r in enumerate(_as_list(getattr(s, kind, None))):
            lo, hi = getattr(r, "min", None), getattr(r, "max", None)
            if lo is None and hi is None:
                continue
            fy = getattr(r, "from_year", None)
            start = last if fy is None else int(fy)
            out.append(Rule(kind, f"{kind}[{i}]", lo, hi, tuple(int(y) for y in years if y >= start),
                            _rule_plants(r, plants)))
    for i, r in enumerate(_as_list(getattr(s, "min_jobs_cut", None))):
        lo = float(r) if isinstance(r, (int, float)) else getattr(r, "min", None)
        if lo is None or lo <= 0:
            continue
        by = getattr(r, "by_year", None)
        out.append(Rule("min_jobs_cut", f"min_jobs_cut[{i}]", float(lo), None, (last if by is None else int(by),),
                        _rule_plants(r, plants)))
    for i, r in enumerate(_as_list(getattr(s, "co2_cap", None))):
        fy = getattr(r, "from_year", None)
        start = first if fy is None else int(fy)
        out.append(Rule("co2_cap", f"co2_cap[{i}]", None, float(r.max), tuple(int(y) for y in years if y >= start)))
    return out


# --------------------------------------------------------------------------- flows
def _table(inst: Instance, name: str) -> pd.DataFrame:
    t = inst.tables.get(name)
    return t if t is not None else pd.DataFrame()


def _bans(inst: Instance, years: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(market, origin, year) software bans and plant-origin bans."""
    markets = inst.tables["markets"]
    v1 = markets.set_index("market")["banned_software_origins"].explode().dropna()
    sw = pd.DataFrame({"market": v1.index.to_numpy(), "origin": v1.to_numpy()})
    sw = sw.merge(pd.DataFrame({"year": years}), how="cross")
    plant = pd.DataFrame(columns=["market", "origin", "year"])
    bans = _table(inst, "bans")
    if not bans.empty:
        b = by_year(bans, years)
        sw = pd.concat([sw, b.loc[b["kind"] == "software", ["market", "origin", "year"]]], ignore_index=True)
        plant = b.loc[b["kind"] == "plant", ["market", "origin", "year"]].reset_index(drop=True)
    return sw.drop_duplicates(), plant.drop_duplicates()


def _codes(labels: pd.Series | pd.Index, dtype: pd.CategoricalDtype) -> np.ndarray:
    """The code of each label in ``dtype`` (int64; -1 where missing or not one of its categories)."""
    return np.asarray(dtype.categories.get_indexer(labels), dtype=np.int64)


def _year_index(df: pd.DataFrame, years: np.ndarray) -> np.ndarray:
    """The position of each row's ``year`` in the plan years (-1 where it is not a plan year)."""
    y = df["year"].to_numpy()
    pos = np.searchsorted(years, y)
    ok = pos < len(years)
    ok[ok] = years[pos[ok]] == y[ok]
    return np.where(ok, pos, -1)


def _join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j) of every pair left[i] == right[j] of two integer key arrays (an inner join).

    The pairs come in the order of ``left``, and of ``right`` within one left row.
    """
    order = np.argsort(right, kind="stable")
    sr = right[order]
    lo, hi = np.searchsorted(sr, left, "left"), np.searchsorted(sr, left, "right")
    n = hi - lo
    i = np.repeat(np.arange(len(left)), n)
    pos = np.arange(len(i)) + np.repeat(lo - (np.cumsum(n) - n), n)
    return i, order[pos]


def _lookup(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The position of each key in ``table`` (integer keys, unique in it; -1 where absent)."""
    if len(table) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    order = np.argsort(table, kind="stable")
    st = table[order]
    pos = np.minimum(np.searchsorted(st, keys), len(st) - 1)
    return np.where(st[pos] == keys, order[pos], -1)


def _banned(banned: pd.DataFrame, markets: pd.CategoricalDtype, origins: pd.CategoricalDtype, years: np.ndarray,
            mc: np.ndarray, oc: np.ndarray, yi: np.ndarray) -> np.ndarray:
    """Whether each (market code, origin code, year index) is a (market, origin, year) row of ``banned``.

    Labels outside the dtypes' categories cannot ban a flow; origin code -1 (no origin) is never banned.
    """
    if banned.empty or len(mc) == 0:
        return np.zeros(len(mc), dtype=bool)
    bm, bo, by = _codes(banned["market"], markets), _codes(banned["origin"], origins), _year_index(banned, years)
    ok = (bm >= 0) & (bo >= 0) & (by >= 0)
    n_o, n_y = len(origins.categories), len(years)
    return (oc >= 0) & np.isin((mc * n_o + oc) * n_y + yi, (bm[ok] * n_o + bo[ok]) * n_y + by[ok])


def _sort_order(*keys: tuple[np.ndarray, int]) -> np.ndarray | None:
    """The stable order that sorts rows by the code arrays ``keys`` (each with its number of codes), or
    ``None`` when the rows are already in that order."""
    n = len(keys[0][0])
    if n < 2:
        return None
    size = 1
    for _, k in keys:
        size *= max(int(k), 1)
    if size >= 2**62:
        return np.lexsort(tuple(a for a, _ in reversed(keys)))
    key = np.zeros(n, dtype=np.int64)
    for a, k in keys:
        key = key * max(int(k), 1) + a
    return None if bool((key[1:] >= key[:-1]).all()) else np.argsort(key, kind="stable")


def _gather(col: pd.Series, idx: np.ndarray) -> np.ndarray:
    return col.to_numpy()[idx]


def _category(*cols: pd.Series) -> pd.CategoricalDtype:
    """One categorical dtype over the labels of ``cols``, sorted, so that codes sort as the labels do."""
    vals = pd.concat([c.astype(object) for c in cols], ignore_index=True).dropna().unique()
    return pd.CategoricalDtype(sorted(vals))


def _labels(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Series:
    """The labels of ``codes`` in ``dtype`` as an object column (code -1 = None)."""
    return _objects(np.append(np.asarray(dtype.categories, dtype=object), None)[codes], pd.RangeIndex(len(codes)))


def _objects(values: np.ndarray, index: pd.Index) -> pd.Series:
    """An object column (no string-dtype inference: the labels are used as they are)."""
    return pd.Series(values, index=index, dtype=object)


def prepare(inst: Instance) -> ModelData:
    """Build the sparse flow-year set and every per-unit term of the model.

    A flow (p, v, s, m) exists in year y iff production(p, v), freight(p, m) and
    demand(v, m) rows apply in y, stack s is available in y and not banned in m in y,
    and the plant's country is not banned in m in y.
    """
    t = inst.tables
    s = inst.settings
    years, weight, oneoff, annuity = year_factors(s)
    multi = _periods(s) is not None
    plants = _plants(inst, years)
    models = t["models"].set_index("model")
    markets = t["markets"].set_index("market")
    stacks = _stacks(inst)

    demand = by_year(t["demand"], years).drop(columns="_row")
    prod = by_year(t["production"], years)
    freight = by_year(t["freight"], years)
    prod_co2 = prod["co2"].astype(float).fillna(0.0).to_numpy() if "co2" in prod else np.zeros(len(prod))
    fr_co2 = freight["co2"].astype(float).fillna(0.0).to_numpy() if "co2" in freight else np.zeros(len(freight))

    # the flow set is built on integer codes (categories sorted, so codes sort as the labels do): row
    # positions into the year-expanded tables travel through the joins and the values are gathered once
    sw_bans, plant_bans = _bans(inst, years)
    kind = {"plant": _category(prod["plant"], freight["plant"]),
            "model": _category(prod["model"], demand["model"], stacks["model"]),
            "market": _category(freight["market"], demand["market"]), "stack": _category(stacks["stack"]),
            "origin": _category(stacks["origin"]), "country": _category(plants["country"])}
    n_y, n_m = len(years), len(kind["market"].categories)
    pc_p, vc_p, yi_p = _codes(prod["plant"], kind["plant"]), _codes(prod["model"], kind["model"]), _year_index(prod, years)
    vc_s, sc_s = _codes(stacks["model"], kind["model"]), _codes(stacks["stack"], kind["stack"])
    pc_f, mc_f, yi_f = _codes(freight["plant"], kind["plant"]), _codes(freight["market"], kind["market"]), \
        _year_index(freight, years)
    # (year, plant, model) rows x the model's stacks x the plant's lanes in the year: in the flows' order
    op, os_ = np.lexsort((vc_p, pc_p, yi_p)), np.lexsort((sc_s, vc_s))
    i, j = _join(vc_p[op], vc_s[os_])
    ip, ist = op[i], os_[j]
    of = np.lexsort((mc_f, yi_f, pc_f))
    i, j = _join(pc_p[ip] * n_y + yi_p[ip], (pc_f * n_y + yi_f)[of])
    ip, ist, ifr = ip[i], ist[i], of[j]
    yi, mc = yi_p[ip], mc_f[ifr]
    idm = _lookup((_codes(demand["model"], kind["model"]) * n_m + _codes(demand["market"], kind["market"])) * n_y
                  + _year_index(demand, years), (vc_p[ip] * n_m + mc) * n_y + yi)
    keep = (idm >= 0) & ~(years[yi] < stacks["available_from"].to_numpy(float)[ist])
    oc = _codes(stacks["origin"], kind["origin"])[ist]
    plant_country = _codes(plants["country"].reindex(kind["plant"].categories), kind["country"])
    cc = plant_country[pc_p[ip]]
    keep &= ~_banned(sw_bans, kind["market"], kind["origin"], years, mc, oc, yi)
    keep &= ~_banned(plant_bans, kind["market"], kind["country"], years, mc, cc, yi)
    ip, ist, ifr, idm, yi, mc, oc, cc = (a[keep] for a in (ip, ist, ifr, idm, yi, mc, oc, cc))
    pc, vc, sc = pc_p[ip], vc_p[ip], sc_s[ist]
    order = _sort_order((yi, n_y), (pc, len(kind["plant"].categories)), (vc, len(kind["model"].categories)),
                        (sc, len(kind["stack"].categories)), (mc, n_m))
    if order is not None:
        ip, ist, ifr, idm, yi, mc, oc, cc, pc, vc, sc = (a[order] for a in (ip, ist, ifr, idm, yi, mc, oc, cc, pc, vc,
                                                                           sc))
    cat = pd.Categorical.from_codes
    col = _gather
    f = pd.DataFrame({
        "plant": cat(pc, dtype=kind["plant"]), "model": cat(vc, dtype=kind["model"]), "year": years[yi].astype(np.int64),
        "production": col(prod["unit_cost"], ip), "market": cat(mc, dtype=kind["market"]),
        "freight": col(freight["unit_cost"], ifr), "price": col(demand["price"], idm),
        "customs_value": col(demand["customs_value"], idm), "max_units": col(demand["max_units"], idm),
        "stack": cat(sc, dtype=kind["stack"]), "origin": _labels(oc, kind["origin"]),
        "software": col(stacks["unit_cost"], ist), "country": _labels(cc, kind["country"]),
    })
    market_country = _codes(markets["country"].reindex(kind["market"].categories), kind["country"])[mc]
    domestic = (cc >= 0) & (cc == market_country)
    f["powertrain"] = _objects(models["powertrain"].reindex(kind["model"].categories).to_numpy(dtype=object)[vc],
                               f.index)
    f["domestic"] = domestic
    f["equity"] = plants["equity"].reindex(kind["plant"].categories).to_numpy(float)[pc]
    f["co2"] = (prod_co2[ip] + fr_co2[ifr]).astype(float)

    basis = f["customs_value"] + (f["freight"] if s.duty_basis == "cif" else 0.0)
    # tariffs are resolved once per distinct (origin, market, powertrain, year) of the foreign flows
    pw, pw_labels = pd.factorize(models["powertrain"].reindex(kind["model"].categories), use_na_sentinel=False)
    n_pw = max(len(pw_labels), 1)
    tkey = ((cc.astype(np.int64) * n_m + mc) * n_pw + pw[vc]) * n_y + yi
    item = np.full(len(f), -1, dtype=np.int64)
    item[~domestic], uniq = pd.factorize(tkey[~domestic])
    u_y = uniq % n_y
    u_pw = (uniq // n_y) % n_pw
    u_m = (uniq // (n_y * n_pw)) % n_m
    u_c = uniq // (n_y * n_pw * n_m)
    tri = pd.DataFrame({"origin": _labels(u_c, kind["country"]), "market": cat(u_m, dtype=kind["market"]),
                        "powertrain": _objects(np.asarray(pw_labels, dtype=object)[u_pw], pd.RangeIndex(len(uniq))),
                        "year": years[u_y].astype(np.int64)})
    tariffs = t["tariffs"]
    tar = by_year(tariffs, years) if not tariffs.empty else tariffs
    hit = resolve_rules(tri, tar, ["ad_valorem", "specific"], where=inst.origins.get("tariffs", "tariffs"),
                        table="tariffs", rows=inst.rows.get("tariffs"), exact=["year"])
    for c in ("ad_valorem", "specific"):
        rate = np.zeros(len(tri) + 1)  # the last entry: flows without a foreign item (domestic)
        rate[hit["_item"].to_numpy()] = np.nan_to_num(hit[c].to_numpy(float))
        f[c] = rate[item]
    f["duties"] = np.where(domestic, 0.0, f["ad_valorem"] * basis + f["specific"])

    f, quotas = _quotas(inst, f, tri, item, years, basis)

    channels = by_year(t["export_channels"], years).set_index(["origin", "year"])[["capacity", "unit_fee"]]
    n_c = len(kind["country"].categories)
    where = np.full((n_c + 1) * n_y, -1, dtype=np.int64)  # (country code, year) -> channel row; code -1: none
    ch_c = _codes(channels.index.get_level_values("origin"), kind["country"])
    ch_y = _year_index(pd.DataFrame({"year": channels.index.get_level_values("year")}), years)
    known = (ch_c >= 0) & (ch_y >= 0)
    where[ch_c[known] * n_y + ch_y[known]] = np.flatnonzero(known)
    ch = where[np.where(cc >= 0, cc, n_c) * n_y + yi]
    has_channel = (ch >= 0) & ~domestic
    f["channel"] = f["country"].where(has_channel, None)
    fee = channels["unit_fee"].to_numpy(float)
    f["channel_fees"] = np.where(has_channel, np.nan_to_num(fee[np.maximum(ch, 0)] if len(fee) else 0.0), 0.0)
    f["revenue"] = f["price"]
    f["margin"] = f["revenue"] - f["production"] - f["freight"] - f["duties"] - f["software"] - f["channel_fees"]
    lines = prod.dropna(subset=["capacity"])[["plant", "model", "year", "capacity"]].reset_index(drop=True)
    return ModelData(
        plants=plants, stacks=stacks, flows=f, demand=demand, lines=lines, channels=channels.reset_index(),
        years=years, weight=weight, oneoff=oneoff, multi_year=multi, single_sourcing=bool(s.single_sourcing),
        duty_basis=s.duty_basis, quotas=quotas, rules=_rules(inst, plants, years),
        co2_price=float(getattr(s, "co2_price", 0.0) or 0.0), annuity=annuity, name=inst.name, currency=s.currency,
    )


def _quotas(inst: Instance, f: pd.DataFrame, tri: pd.DataFrame, item: np.ndarray, years: np.ndarray,
            basis: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tariff-rate quotas: each non-domestic flow-year's covering pool and its duty saving per in-quota unit.

    A pool is one (quota row, year).  saving = duty_out - duty_in, with duty_in the
    quota's rate on the same basis; flows whose saving is not positive get no pool.
    """
    f["quota"] = -1
    f["quota_saving"] = 0.0
    cols = ["pool", "row", "origin", "market", "powertrain", "year", "quota", "ad_valorem", "specific"]
    tq = _table(inst, "tariff_quotas")
    if tq.empty or tri.empty:
        return f, pd.DataFrame(columns=cols)
    tq = tq.copy()
    if "specific" not in tq:
        tq["specific"] = 0.0
    tq["specific"] = tq["specific"].astype(float).fillna(0.0)
    q = by_year(tq, years)
    hit = resolve_rules(tri, q, ["quota", "ad_valorem", "specific"], where=inst.origins.get("tariff_quotas", "tariff_quotas"),
                        table="tariff_quotas", rows=inst.rows.get("tariff_quotas"), exact=["year"])
    if hit.empty:
        return f, pd.DataFrame(columns=cols)
    g = {}  # per item of tri (the last entry: flows without one), the covering row and its rates
    for c, v in (("_qrow", hit["_rule"]), ("_qav", hit["ad_valorem"]), ("_qsp", hit["specific"])):
        a = np.full(len(tri) + 1, np.nan)
        a[hit["_item"].to_numpy()] = v.to_numpy(float)
        g[c] = a[item]
    covered = ~np.isnan(g["_qrow"]) & ~f["domestic"].to_numpy()
    duty_in = g["_qav"] * basis.to_numpy(float) + g["_qsp"]
    saving = np.where(covered, f["duties"].to_numpy(float) - duty_in, 0.0)
    use = covered & (saving > 0)
    pool_key = pd.DataFrame({"row": g["_qrow"][use].astype(int), "year": f["year"].to_numpy()[use]})
    pools = pool_key.drop_duplicates().sort_values(["year", "row"]).reset_index(drop=True)
    pools["pool"] = np.arange(len(pools))
    idx = pd.MultiIndex.from_frame(pools[["row", "year"]]).get_indexer(pd.MultiIndex.from_frame(pool_key))
    qa = f["quota"].to_numpy().copy()
    qa[use] = pools["pool"].to_numpy()[idx]
    f["quota"] = qa
    f["quota_saving"] = np.where(use, saving, 0.0)
    src = tq.reset_index(drop=True)
    for c in ("origin", "market", "powertrain", "quota", "ad_valorem", "specific"):
        pools[c] = src[c].to_numpy()[pools["row"].to_numpy()]
    return f, pools[cols]
