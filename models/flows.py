"""Flow families: vehicles on each flow-year, capacity, demand, export channels, quotas, CO2, sourcing.

Indices: f = (p, v, s, m) flows, y plan years; a flow-year (f, y) exists only where
the rows that define it apply in y (:func:`optimizer.data.prepare.prepare`).  Units:
x and q in vehicles/year; capacities in vehicles/year; CO2 in tonnes; money in the
instance currency.  Every family is built from grouped arrays: one vectorised pass
over the flow-years, no loop over flows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.prepare import ModelData
from .blocks import Blocks, group_rows, key_positions

FLOW_KEY = ["plant", "model", "stack", "market", "year"]


def _group_sum(mb: Blocks, name: str, items: np.ndarray, keys: pd.DataFrame, lower: float | np.ndarray,
               upper: float | np.ndarray | None = None, *, extra: tuple[np.ndarray, np.ndarray] | None = None,
               description: str = "", coef: np.ndarray | None = None) -> pd.DataFrame:
    """Rows "sum of x over the flow-years ``items`` of each key" (+ one ``extra`` term per row).

    ``keys`` has one row per item; returns the distinct keys (one per row, sorted).
    ``lower``/``upper`` may be callables of the distinct keys' frame, evaluated here.
    ``extra`` = (column, coefficient) per distinct key.
    """
    x = mb.vars["x"]
    rows, uniq = group_rows(keys)
    lo = lower(uniq) if callable(lower) else lower
    hi = upper(uniq) if callable(upper) else upper
    r, c = rows, items + x.offset
    v = np.ones(len(items)) if coef is None else coef
    if extra is not None:
        ec, ev = extra if not callable(extra) else extra(uniq)
        keep = ec >= 0
        r = np.concatenate([r, np.arange(len(uniq))[keep]])
        c = np.concatenate([c, ec[keep]])
        v = np.concatenate([v, ev[keep]])
    mb.add_cons(name, uniq, r, c, v, lo, np.inf if hi is None else hi, description)
    return uniq


def add_flow_variables(mb: Blocks, data: ModelData) -> None:
    """x_(f,y) >= 0: vehicles per year on flow f = (p, v, s, m) in year y."""
    mb.add_vars("x", data.flows[FLOW_KEY], 0.0, np.inf, integer=False, description="vehicles/year")


def _z_cols(mb: Blocks, frame: pd.DataFrame) -> np.ndarray:
    return mb.vars["z"].col(frame[["plant", "year"]])


def add_plant_capacity_constraints(mb: Blocks, data: ModelData) -> None:
    """Plant capacity, for each plant p and year y with flows (vehicles/year).

    sum_{f in F(p)} x_(f,y) - capacity_p z_(p,y) <= 0
    """
    fl = data.flows
    if fl.empty:
        return
    cap = data.plants["capacity"].astype(float)
    _group_sum(mb, "plant_capacity", np.arange(len(fl)), fl[["plant", "year"]], -np.inf, 0.0,
               extra=lambda u: (_z_cols(mb, u), -cap.reindex(u["plant"]).to_numpy(float)),
               description="sum x <= capacity z")


def add_line_capacity_constraints(mb: Blocks, data: ModelData) -> None:
    """Line capacity, for each (p, v, y) whose production row gives one and that has flows (vehicles/year).

    sum_{f in F(p, v)} x_(f,y) - capacity_(p,v,y) z_(p,y) <= 0
    """
    fl = data.flows
    if fl.empty or data.lines.empty:
        return
    key = ["plant", "model", "year"]
    lines = data.lines.set_index(key)["capacity"]
    has = key_positions(data.lines[key], fl[key]) >= 0
    if not has.any():
        return
    sub = fl.loc[has, key]

    def extra(u: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return _z_cols(mb, u), -lines.reindex(pd.MultiIndex.from_frame(u[key])).to_numpy(float)

    _group_sum(mb, "line_capacity", np.flatnonzero(has), sub, -np.inf, 0.0, extra=extra,
               description="sum x <= line capacity z")


def add_demand_constraints(mb: Blocks, data: ModelData) -> None:
    """Demand, for each (v, m, y) with an applicable ``demand`` row and flows (vehicles/year).

    min_units_(v,m,y) <= sum_{f in F(v, m)} x_(f,y) <= max_units_(v,m,y)

    A (v, m, y) with min_units > 0 and no flow cannot be served: it is recorded in
    ``mb.notes`` and the solve reports ``infeasible`` without calling HiGHS.
    """
    fl, d = data.flows, data.demand
    key = ["model", "market", "year"]
    need = d[(d["min_units"] > 0).to_numpy()]
    if len(need):  # demand rows are unique per (v, m, y): mark the ones some flow-year serves
        served = np.zeros(len(d), dtype=bool)
        pos = key_positions(d[key], fl[key])
        served[pos[pos >= 0]] = True
        need = d[(d["min_units"] > 0).to_numpy() & ~served]
    for v, m, y, lo in need[key + ["min_units"]].head(20).itertuples(index=False):
        when = f" in {y}" if data.multi_year else ""
        mb.notes.append(f"demand ({v}, {m}){when} needs min_units {lo:g} but no flow can serve it")
    if len(need) > 20:
        mb.notes.append(f"... and {len(need) - 20} more demand rows with min_units that no flow can serve")
    if fl.empty:
        return
    bounds = d.set_index(key)[["min_units", "max_units"]]

    def lo(u: pd.DataFrame) -> np.ndarray:
        return bounds["min_units"].reindex(pd.MultiIndex.from_frame(u)).to_numpy(float)

    def hi(u: pd.DataFrame) -> np.ndarray:
        return bounds["max_units"].reindex(pd.MultiIndex.from_frame(u)).to_numpy(float)

    _group_sum(mb, "demand", np.arange(len(fl)), fl[key], lo, hi, description="min <= sum x <= max")


def add_export_channel_constraints(mb: Blocks, data: ModelData) -> None:
    """Export channel, for each origin country o and year y with a channel and non-domestic flows (vehicles/year).

    sum_{f non-domestic, country(p) = o} x_(f,y) <= capacity_(o,y)
    """
    fl = data.flows
    has = fl["channel"].notna().to_numpy() if len(fl) else np.zeros(0, dtype=bool)
    if not has.any():
        return
    cap = data.channels.set_index(["origin", "year"])["capacity"]
    keys = fl.loc[has, ["channel", "year"]].rename(columns={"channel": "origin"})

    def hi(u: pd.DataFrame) -> np.ndarray:
        return cap.reindex(pd.MultiIndex.from_frame(u)).to_numpy(float)

    _group_sum(mb, "export_channel", np.flatnonzero(has), keys, -np.inf, hi, description="sum x <= channel capacity")


def add_quota_variables(mb: Blocks, data: ModelData) -> None:
    """q_(f,y) >= 0: in-quota vehicles of flow-year (f, y), for flow-years a quota covers with a duty saving."""
    fl = data.flows
    has = (fl["quota"] >= 0).to_numpy() if len(fl) else np.zeros(0, dtype=bool)
    mb.add_vars("q", fl.loc[has, FLOW_KEY], 0.0, np.inf, integer=False, description="in-quota vehicles/year")


def add_quota_constraints(mb: Blocks, data: ModelData) -> None:
    """Tariff-rate quotas, for each covered flow-year and each pool k = (quota row, year) (vehicles/year).

    q_(f,y) - x_(f,y) <= 0                       (in-quota units are units shipped)
    sum_{(f,y) covered by k} q_(f,y) <= quota_k   (one pool shared by every plant, model and stack it covers)
    """
    q = mb.vars.get("q")
    if q is None or q.size == 0:
        return
    fl = data.flows
    items = np.flatnonzero((fl["quota"] >= 0).to_numpy())
    n = len(items)
    x = mb.vars["x"]
    rows = np.concatenate([np.arange(n), np.arange(n)])
    cols = np.concatenate([q.cols, items + x.offset])
    mb.add_cons("quota_link", q.labels, rows, cols, np.concatenate([np.ones(n), -np.ones(n)]), -np.inf, 0.0,
                "q <= x")
    pools = data.quotas.set_index("pool")
    codes, uniq = group_rows(pd.DataFrame({"pool": fl["quota"].to_numpy()[items]}))
    labels = pools.loc[uniq["pool"], ["origin", "market", "powertrain", "year"]].reset_index()
    mb.add_cons("quota_pool", labels, codes, q.cols, np.ones(n), -np.inf,
                pools.loc[uniq["pool"], "quota"].to_numpy(float), "sum q <= quota")


def add_co2_caps(mb: Blocks, data: ModelData) -> None:
    """CO2 cap, for each ``co2_cap`` rule r and each year y it covers (tonnes).

    E_y = sum_f (co2_prod_(p,v) + co2_freight_(p,m)) x_(f,y) <= max_r
    """
    rules = [r for r in data.rules if r.kind == "co2_cap"]
    fl = data.flows
    if not rules or fl.empty:
        return
    x = mb.vars["x"]
    year = fl["year"].to_numpy()
    co2 = fl["co2"].to_numpy(float)
    labels, rows, cols, vals, hi = [], [], [], [], []
    for r in rules:
        for y in r.years:
            idx = np.flatnonzero((year == y) & (co2 != 0))
            rows.append(np.full(len(idx), len(labels)))
            cols.append(idx + x.offset)
            vals.append(co2[idx])
            labels.append((r.where, y))
            hi.append(r.max)
    mb.add_cons("co2_cap", pd.DataFrame(labels, columns=["rule", "year"]), np.concatenate(rows),
                np.concatenate(cols), np.concatenate(vals), -np.inf, np.array(hi, dtype=float), "E_y <= max")


def _sourcing(data: ModelData) -> pd.DataFrame:
    """(p, v, m, y) sourcing choices of (v, m, y) that more than one plant can serve."""
    pvm = data.flows[["plant", "model", "market", "year"]].drop_duplicates()
    n = pvm.groupby(["model", "market", "year"])["plant"].transform("size")
    return pvm[n > 1].reset_index(drop=True)


def add_single_sourcing_variables(mb: Blocks, data: ModelData) -> None:
    """a_(p,v,m,y) in {0, 1}: plant p supplies (v, m) in year y; only when single sourcing is on and
    (v, m, y) has more than one candidate plant (otherwise the rule holds by itself)."""
    if not data.single_sourcing or data.flows.empty:
        return
    mb.add_vars("a", _sourcing(data), 0.0, 1.0, integer=True, description="sourcing choice (0/1)")


def add_single_sourcing_constraints(mb: Blocks, data: ModelData) -> None:
    """Single sourcing (when on), for each (v, m, y) with several candidate plants.

    sum_p a_(p,v,m,y) <= 1                                     for each such (v, m, y)
    sum_s x_(p,v,s,m,y) - max_units_(v,m,y) a_(p,v,m,y) <= 0   for each (p, v, m, y) in A
    """
    a = mb.vars.get("a")
    if a is None or a.size == 0:
        return
    codes, uniq = group_rows(a.labels[["model", "market", "year"]])
    mb.add_cons("one_source", uniq, codes, a.cols, np.ones(a.size), -np.inf, 1.0, "sum_p a <= 1")
    fl = data.flows
    key = ["plant", "model", "market", "year"]
    acol = a.col(fl[key])
    items = np.flatnonzero(acol >= 0)
    maxu = data.demand.set_index(["model", "market", "year"])["max_units"]

    def extra(u: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return a.col(u), -maxu.reindex(pd.MultiIndex.from_frame(u[["model", "market", "year"]])).to_numpy(float)

    _group_sum(mb, "source_link", items, fl.loc[items, key], -np.inf, 0.0, extra=extra,
               description="sum_s x <= max_units a")


def add_valid_inequalities(mb: Blocks, data: ModelData) -> None:
    """Valid inequality, for each (p, v, m, y) with flows and z_(p,y) not fixed (vehicles/year).

    sum_s x_(p,v,s,m,y) - U_(p,v,m,y) z_(p,y) <= 0,   U = min(max_units_(v,m,y), capacity_p, capacity_(p,v,y))

    Redundant for integer z, but it tightens the LP relaxation (the contract's
    recommended x_f <= max_units z_p, summed over stacks, with the tightest bound);
    also a_(p,v,m,y) - z_(p,y) <= 0 under single sourcing.
    """
    fl = data.flows
    if fl.empty:
        return
    z = mb.vars["z"]
    zc = z.col(fl[["plant", "year"]])
    free = z.lower[zc - z.offset] < z.upper[zc - z.offset]
    if not free.any():
        return
    key = ["plant", "model", "market", "year"]
    items = np.flatnonzero(free)
    maxu = data.demand.set_index(["model", "market", "year"])["max_units"]
    cap = data.plants["capacity"].astype(float)
    lines = data.lines.set_index(["plant", "model", "year"])["capacity"] if not data.lines.empty else None

    def extra(u: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        ub = np.minimum(maxu.reindex(pd.MultiIndex.from_frame(u[["model", "market", "year"]])).to_numpy(float),
                        cap.reindex(u["plant"]).to_numpy(float))
        if lines is not None:
            ub = np.fmin(ub, lines.reindex(pd.MultiIndex.from_frame(u[["plant", "model", "year"]])).to_numpy(float))
        return _z_cols(mb, u), -ub

    _group_sum(mb, "flow_open", items, fl.loc[items, key], -np.inf, 0.0, extra=extra, description="sum_s x <= U z")
    a = mb.vars.get("a")
    if a is not None and a.size:
        azc = z.col(a.labels[["plant", "year"]])
        ok = z.lower[azc - z.offset] < z.upper[azc - z.offset]
        k = int(ok.sum())
        if k:
            mb.add_cons("source_open", a.labels[ok], np.concatenate([np.arange(k), np.arange(k)]),
                        np.concatenate([a.cols[ok], azc[ok]]), np.concatenate([np.ones(k), -np.ones(k)]),
                        -np.inf, 0.0, "a <= z")


def add_flow_costs(mb: Blocks, data: ModelData) -> None:
    """The per-unit NPV components of the flows (money), at the plant's equity share e_p.

    revenue:       + sum_(f,y) W_y e_p price x
    production, freight, duties, software, channel_fees:  - sum_(f,y) W_y e_p (unit term) x
    duties also:   + sum_(f,y) W_y e_p (duty_out - duty_in) q     (the in-quota saving)
    co2:           - sum_(f,y) W_y co2_price co2_f x              (not at equity: the network's emissions)

    W_y = d_y, plus the tail factor D_tail in the last year (v1: the annuity factor A).
    """
    fl = data.flows
    if fl.empty:
        return
    x = mb.vars["x"]
    yi = np.searchsorted(data.years, fl["year"].to_numpy())
    w = data.weight[yi] * fl["equity"].to_numpy(float)
    years = fl["year"].to_numpy()
    xc = x.cols
    for name in ("revenue", "production", "freight", "duties", "software", "channel_fees"):
        sign = 1.0 if name == "revenue" else -1.0
        col, coef = xc, sign * w * fl[name].to_numpy(float)
        yrs = years
        if name == "duties" and "q" in mb.vars and mb.vars["q"].size:
            items = np.flatnonzero((fl["quota"] >= 0).to_numpy())
            col = np.concatenate([col, mb.vars["q"].cols])
            coef = np.concatenate([coef, w[items] * fl["quota_saving"].to_numpy(float)[items]])
            yrs = np.concatenate([years, years[items]])
        mb.add_cost(name, col, coef, year=yrs)
    if data.co2_price:
        mb.add_cost("co2", xc, -data.co2_price * data.weight[yi] * fl["co2"].to_numpy(float), year=years)
