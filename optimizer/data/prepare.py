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


def _anti_join(f: pd.DataFrame, banned: pd.DataFrame, left: str) -> pd.DataFrame:
    """The rows of ``f`` whose (market, ``left``, year) is not in ``banned`` (market, origin, year)."""
    if f.empty or banned.empty:
        return f
    b = banned.rename(columns={"origin": left})
    b = b.dropna(subset=["market", left])
    for c in ("market", left):  # the flows' categorical keys: labels outside them cannot ban a flow
        if isinstance(f[c].dtype, pd.CategoricalDtype):
            b = b[b[c].isin(f[c].dtype.categories)]
            b = b.assign(**{c: b[c].astype(f[c].dtype)})
    b = b.drop_duplicates().assign(_banned=True)
    keys = ["market", left, "year"]
    hit = f[keys].merge(b, on=keys, how="left")["_banned"].notna().to_numpy()  # b is unique: one row per flow
    return f[~hit]


def _category(*cols: pd.Series) -> pd.CategoricalDtype:
    """One categorical dtype over the labels of ``cols``, sorted, so that codes sort as the labels do."""
    vals = pd.concat([c.astype(object) for c in cols], ignore_index=True).dropna().unique()
    return pd.CategoricalDtype(sorted(vals))


def _labels(col: pd.Series) -> pd.Series:
    """A categorical column's labels as an object column (missing = None)."""
    cat = col.array
    return _objects(np.append(np.asarray(cat.categories, dtype=object), None)[cat.codes], col.index)


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
    prod_co2 = prod["co2"].astype(float).fillna(0.0) if "co2" in prod else 0.0
    fr_co2 = freight["co2"].astype(float).fillna(0.0) if "co2" in freight else 0.0
    prod = prod.assign(_co2p=prod_co2)
    freight = freight.assign(_co2f=fr_co2)

    # the joins, bans and sort run on categorical keys (integer codes; labels sorted, so the order is
    # the labels' order) and the labels are put back once the flow set is known
    sw_bans, plant_bans = _bans(inst, years)
    kind = {"plant": _category(prod["plant"], freight["plant"]),
            "model": _category(prod["model"], demand["model"], stacks["model"]),
            "market": _category(freight["market"], demand["market"]), "stack": _category(stacks["stack"]),
            "origin": _category(stacks["origin"]), "country": _category(plants["country"])}
    f = prod[["plant", "model", "year", "unit_cost", "_co2p"]].rename(columns={"unit_cost": "production"})
    f = f.astype({"plant": kind["plant"], "model": kind["model"]})
    f = f.merge(freight[["plant", "market", "year", "unit_cost", "_co2f"]].rename(columns={"unit_cost": "freight"})
                .astype({"plant": kind["plant"], "market": kind["market"]}), on=["plant", "year"])
    f = f.merge(demand[["model", "market", "year", "price", "customs_value", "max_units"]]
                .astype({"model": kind["model"], "market": kind["market"]}), on=["model", "market", "year"])
    f = f.merge(stacks[["model", "stack", "origin", "unit_cost", "available_from"]].rename(
        columns={"unit_cost": "software"}).astype({"model": kind["model"], "stack": kind["stack"],
                                                   "origin": kind["origin"]}), on="model")
    f = f[~(f["year"] < f["available_from"])].drop(columns="available_from")
    plant_country = plants["country"].reindex(kind["plant"].categories).astype(kind["country"]).array.codes
    f["country"] = pd.Categorical.from_codes(plant_country[f["plant"].array.codes], dtype=kind["country"])
    f = _anti_join(f, sw_bans, "origin")
    f = _anti_join(f, plant_bans, "country")
    f = f.sort_values(["year", "plant", "model", "stack", "market"], kind="stable").reset_index(drop=True)
    pc, vc, mc = (f[c].array.codes for c in ("plant", "model", "market"))
    f["origin"] = _labels(f["origin"])
    f["country"] = _labels(f["country"])
    country = f["country"].to_numpy()
    market_country = markets["country"].reindex(kind["market"].categories).to_numpy(dtype=object)[mc]
    f["powertrain"] = _objects(models["powertrain"].reindex(kind["model"].categories).to_numpy(dtype=object)[vc],
                               f.index)
    f["domestic"] = country == market_country
    f["equity"] = plants["equity"].reindex(kind["plant"].categories).to_numpy(float)[pc]
    f["co2"] = (f["_co2p"] + f["_co2f"]).astype(float)
    f = f.drop(columns=["_co2p", "_co2f"])

    basis = f["customs_value"] + (f["freight"] if s.duty_basis == "cif" else 0.0)
    foreign = f.loc[~f["domestic"], ["country", "market", "powertrain", "year"]].rename(columns={"country": "origin"})
    tri = foreign.drop_duplicates().reset_index(drop=True)
    tariffs = t["tariffs"]
    tar = by_year(tariffs, years) if not tariffs.empty else tariffs
    hit = resolve_rules(tri, tar, ["ad_valorem", "specific"], where=inst.origins.get("tariffs", "tariffs"),
                        table="tariffs", rows=inst.rows.get("tariffs"), exact=["year"])
    rates = tri.iloc[hit["_item"]].reset_index(drop=True).assign(ad_valorem=hit["ad_valorem"].to_numpy(float),
                                                                 specific=hit["specific"].to_numpy(float))
    keys = ["country", "market", "powertrain", "year"]
    r = f[keys].merge(rates.rename(columns={"origin": "country"}), on=keys, how="left")  # one row per flow, in order
    f["ad_valorem"] = r["ad_valorem"].astype(float).fillna(0.0).to_numpy()
    f["specific"] = r["specific"].astype(float).fillna(0.0).to_numpy()
    f.loc[f["domestic"], ["ad_valorem", "specific"]] = 0.0
    f["duties"] = np.where(f["domestic"], 0.0, f["ad_valorem"] * basis + f["specific"])

    f, quotas = _quotas(inst, f, tri, years, basis)

    channels = by_year(t["export_channels"], years).set_index(["origin", "year"])[["capacity", "unit_fee"]]
    key = pd.MultiIndex.from_arrays([f["country"], f["year"]])
    has_channel = key.isin(channels.index) & ~f["domestic"].to_numpy()
    f["channel"] = f["country"].where(has_channel, None)
    fee = channels["unit_fee"].reindex(key).to_numpy(float)
    f["channel_fees"] = np.where(has_channel, np.nan_to_num(fee), 0.0)
    f["revenue"] = f["price"]
    f["margin"] = f["revenue"] - f["production"] - f["freight"] - f["duties"] - f["software"] - f["channel_fees"]

    lines = prod.dropna(subset=["capacity"])[["plant", "model", "year", "capacity"]].reset_index(drop=True)
    return ModelData(
        plants=plants, stacks=stacks, flows=f, demand=demand, lines=lines, channels=channels.reset_index(),
        years=years, weight=weight, oneoff=oneoff, multi_year=multi, single_sourcing=bool(s.single_sourcing),
        duty_basis=s.duty_basis, quotas=quotas, rules=_rules(inst, plants, years),
        co2_price=float(getattr(s, "co2_price", 0.0) or 0.0), annuity=annuity, name=inst.name, currency=s.currency,
    )


def _quotas(inst: Instance, f: pd.DataFrame, tri: pd.DataFrame, years: np.ndarray,
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
    cover = tri.iloc[hit["_item"]].reset_index(drop=True).rename(columns={"origin": "country"})
    cover["_qrow"] = hit["_rule"].to_numpy()
    cover["_qav"] = hit["ad_valorem"].to_numpy(float)
    cover["_qsp"] = hit["specific"].to_numpy(float)
    g = f[["country", "market", "powertrain", "year"]].merge(cover, on=["country", "market", "powertrain", "year"],
                                                              how="left")
    covered = g["_qrow"].notna().to_numpy() & ~f["domestic"].to_numpy()
    duty_in = g["_qav"].to_numpy(float) * basis.to_numpy(float) + g["_qsp"].to_numpy(float)
    saving = np.where(covered, f["duties"].to_numpy(float) - duty_in, 0.0)
    use = covered & (saving > 0)
    pool_key = pd.DataFrame({"row": g["_qrow"].to_numpy()[use].astype(int), "year": f["year"].to_numpy()[use]})
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
