"""Check a solution from the result tables alone, without the Pyomo model.

:func:`verify` recomputes, from ``Result`` DataFrames and the instance's tables,
every constraint of the contract and the NPV, and returns the violations found
(an empty list means the plan is consistent).  It shares no code with the model
builder, so it catches mistakes in either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.instance import Instance
from ..data.prepare import annuity_factor
from .tables import Result


def verify(inst: Instance, res: Result, *, tol: float = 1e-5) -> list[str]:
    """Return the constraint violations of ``res`` for ``inst`` (relative tolerance ``tol``).

    Single-period (v1) instances only: multi-year plans are checked against the
    independent implementation of the v2 contract in the tests (``tests/reference_v2.py``).
    """
    res.raise_for_status()
    if getattr(inst.settings, "periods", None) is not None:
        msg = "verify() checks single-period instances; this one has periods (a multi-year plan)"
        raise ValueError(msg)
    t, s = inst.tables, inst.settings
    out: list[str] = []
    fl, pl = res.flows, res.plants.set_index("plant")

    def over(value: float, limit: float) -> bool:
        return value > limit + tol * max(1.0, abs(limit))

    kept = pl["kept"]
    status = t["plants"].set_index("plant")["status"]
    for p, st in status.items():
        if (st == "keep" and not kept[p]) or (st == "close" and kept[p]):
            out.append(f"plant {p}: status {st} not respected")
    prod = fl.groupby("plant")["units"].sum()
    cap = t["plants"].set_index("plant")["capacity"]
    for p, u in prod.items():
        if over(u, cap[p] * kept[p]):
            out.append(f"plant {p}: production {u:g} > capacity {cap[p]:g} x kept {kept[p]}")
    lines = t["production"].dropna(subset=["capacity"]).set_index(["plant", "model"])["capacity"]
    for (p, v), u in fl.groupby(["plant", "model"])["units"].sum().items():
        if (p, v) in lines.index and over(u, lines[p, v] * kept[p]):
            out.append(f"line ({p}, {v}): {u:g} > {lines[p, v]:g}")
    sold = fl.groupby(["model", "market"])["units"].sum()
    for r in t["demand"].itertuples():
        q = sold.get((r.model, r.market), 0.0)
        if over(q, r.max_units) or over(r.min_units, q):
            out.append(f"demand ({r.model}, {r.market}): sold {q:g} outside [{r.min_units:g}, {r.max_units:g}]")
    known = set(zip(t["production"]["plant"], t["production"]["model"]))
    lanes = set(zip(t["freight"]["plant"], t["freight"]["market"]))
    bans = t["markets"].set_index("market")["banned_software_origins"]
    sw = res.software.set_index(["model", "stack"])
    for r in fl.itertuples():
        if (r.plant, r.model) not in known or (r.plant, r.market) not in lanes:
            out.append(f"flow {r.plant}->{r.market} {r.model}: no production row or lane")
        origin = sw.loc[(r.model, r.stack), "origin"]
        if origin is not None and not pd.isna(origin) and origin in bans[r.market]:
            out.append(f"flow {r.plant}->{r.market} {r.model}/{r.stack}: software origin {origin} banned")
        if not sw.loc[(r.model, r.stack), "developed"]:
            out.append(f"flow {r.plant}->{r.market} uses undeveloped stack {r.model}/{r.stack}")
    ch = t["export_channels"].set_index("origin")["capacity"]
    exports = fl[~fl["domestic"].astype(bool)].groupby("origin")["units"].sum()
    for o, u in exports.items():
        if o in ch.index and over(u, ch[o]):
            out.append(f"export channel {o}: {u:g} > {ch[o]:g}")
    # plant rules, read for the single (v1) year: every rule holds in it
    pt = t["plants"].set_index("plant")
    country = pt["country"].reindex(kept.index)
    for rule in s.plants_kept:
        sel = rule.selects(country).to_numpy()
        n_kept = int(kept[sel].sum())
        lo, hi = rule.min, rule.max
        if (lo is not None and n_kept < lo) or (hi is not None and n_kept > hi):
            out.append(f"plants kept {n_kept} outside [{lo}, {hi}]" + (f" ({rule.selector})" if rule.selector else ""))
    for crule in s.capacity_kept:
        sel = crule.selects(country).to_numpy()
        cap_kept = float((pt["capacity"].reindex(kept.index)[sel] * kept[sel]).sum())
        if (crule.min is not None and over(crule.min, cap_kept)) or (crule.max is not None and over(cap_kept, crule.max)):
            out.append(f"capacity kept {cap_kept:g} outside [{crule.min}, {crule.max}]")
    jc = pt["jobs_cut"].reindex(kept.index)
    for jrule in s.min_jobs_cut:
        sel = jrule.selects(country).to_numpy()
        cut = float(jc[sel][~kept[sel].astype(bool)].sum())
        if over(jrule.min, cut):
            out.append(f"jobs cut {cut:g} < {jrule.min:g}")
    if s.single_sourcing:
        n_src = fl.groupby(["model", "market"])["plant"].nunique()
        for k, n in n_src[n_src > 1].items():
            out.append(f"single sourcing: {k} served by {n} plants")
    # NPV from the tables: margins recomputed from the instance, not taken from the flows table.
    A = annuity_factor(s.horizon_years, s.discount_rate)
    pc = t["production"].set_index(["plant", "model"])["unit_cost"]
    fr = t["freight"].set_index(["plant", "market"])["unit_cost"]
    dm = t["demand"].set_index(["model", "market"])
    swc = res.software.set_index(["model", "stack"])["unit_software_cost"]
    fee = t["export_channels"].set_index("origin")["unit_fee"]
    margin = 0.0
    for r in fl.itertuples():
        duty = r.duty  # the tariff row choice is checked by the agreement tests; its use is checked here
        basis = dm.loc[(r.model, r.market), "customs_value"] + (fr[r.plant, r.market] if s.duty_basis == "cif" else 0.0)
        if not r.domestic and not np.isclose(duty, r.ad_valorem * basis + r.specific):
            out.append(f"flow {r.plant}->{r.market} {r.model}: duty {duty:g} != rate x basis")
        f_fee = fee.get(r.origin, 0.0) if not r.domestic else 0.0
        unit = dm.loc[(r.model, r.market), "price"] - pc[r.plant, r.model] - fr[r.plant, r.market] - duty \
            - swc[r.model, r.stack] - f_fee
        margin += unit * r.units
    fixed = float((t["plants"].set_index("plant")["fixed_cost"] * kept).sum())
    closure = float((t["plants"].set_index("plant")["closure_cost"] * ~kept).sum())
    dev = float(res.software["dev_cost_charged"].sum())
    npv = A * (margin - fixed) - closure - dev
    if res.objective is None or not np.isclose(npv, res.objective, rtol=1e-6, atol=1e-6):
        out.append(f"NPV recomputed from the tables {npv:,.2f} != reported {res.objective}")
    return out
