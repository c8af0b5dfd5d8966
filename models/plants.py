"""Plant families: which plants are open in which year, the rules on the plant set, and plant costs.

Indices: p plants, y plan years (one pseudo-year without periods).  Units: z is
0/1; capacity in vehicles/year; jobs in people; money in the instance currency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.prepare import ModelData
from .blocks import Blocks, add_year_order


def _plant_years(data: ModelData) -> pd.DataFrame:
    pl = data.plants
    return pd.DataFrame({"plant": np.repeat(pl.index.to_numpy(), len(data.years)),
                         "year": np.tile(data.years, len(pl))})


def add_plant_variables(mb: Blocks, data: ModelData) -> None:
    """z_(p,y) in {0, 1}: plant p is open in year y, for every plant and year.

    Bounds carry the fixed decisions: status keep (z = 1), status close (z = 0),
    closure_year c (z = 1 for y < c, 0 from c on), earliest_closure e (z = 1 for y < e).
    """
    pl = data.plants
    lb = np.concatenate(list(pl["z_lb"])) if len(pl) else np.zeros(0)
    ub = np.concatenate(list(pl["z_ub"])) if len(pl) else np.zeros(0)
    mb.add_vars("z", _plant_years(data), lb, ub, integer=True, description="plant open (0/1)")


def add_closure_order_constraints(mb: Blocks, data: ModelData) -> None:
    """A closed plant stays closed, for each plant p and year y > Y1.

    z_(p,y) - z_(p,y-1) <= 0
    """
    add_year_order(mb, "closure_order", mb.vars["z"], len(data.years), increasing=False,
                   description="z[p,y] <= z[p,y-1]")


def add_plant_rules(mb: Blocks, data: ModelData) -> None:
    """Rules on the plant set, for each rule r and each year y it covers (``plants_kept``, ``capacity_kept``).

    plants_kept:    min_r <= sum_{p in P_r} z_(p,y) <= max_r              (count)
    capacity_kept:  min_r <= sum_{p in P_r} capacity_p z_(p,y) <= max_r   (vehicles/year)

    P_r = the plants the rule's selector counts (countries / exclude_countries; all by default).
    """
    rules = [r for r in data.rules if r.kind in ("plants_kept", "capacity_kept")]
    if not rules:
        return
    z = mb.vars["z"]
    cap = data.plants["capacity"].astype(float)
    for kind in ("plants_kept", "capacity_kept"):
        labels, rows, cols, vals, lo, hi = [], [], [], [], [], []
        n = 0
        for r in (r for r in rules if r.kind == kind):
            coef = np.ones(len(r.plants)) if kind == "plants_kept" else cap.reindex(list(r.plants)).to_numpy(float)
            for y in r.years:
                c = z.col(pd.DataFrame({"plant": list(r.plants), "year": y}))
                rows.append(np.full(len(c), n))
                cols.append(c)
                vals.append(coef)
                labels.append((r.where, y))
                lo.append(-np.inf if r.min is None else float(r.min))
                hi.append(np.inf if r.max is None else float(r.max))
                n += 1
        if n:
            mb.add_cons(kind, pd.DataFrame(labels, columns=["rule", "year"]), np.concatenate(rows),
                        np.concatenate(cols), np.concatenate(vals), np.array(lo), np.array(hi), kind)


def add_jobs_constraints(mb: Blocks, data: ModelData) -> None:
    """Jobs cut, for each ``min_jobs_cut`` rule r (people), at its year b_r (default: the last year).

    sum_{p in P_r} jobs_cut_p (1 - z_(p,b_r)) >= min_r
    i.e.  sum_{p in P_r} jobs_cut_p z_(p,b_r) <= sum_{p in P_r} jobs_cut_p - min_r
    """
    rules = [r for r in data.rules if r.kind == "min_jobs_cut"]
    if not rules:
        return
    z = mb.vars["z"]
    jc = data.plants["jobs_cut"].astype(float)
    labels, rows, cols, vals, hi = [], [], [], [], []
    for n, r in enumerate(rules):
        coef = jc.reindex(list(r.plants)).to_numpy(float)
        rows.append(np.full(len(coef), n))
        cols.append(z.col(pd.DataFrame({"plant": list(r.plants), "year": r.years[0]})))
        vals.append(coef)
        labels.append((r.where, r.years[0]))
        hi.append(float(coef.sum()) - float(r.min or 0.0))
    mb.add_cons("jobs_cut", pd.DataFrame(labels, columns=["rule", "year"]), np.concatenate(rows),
                np.concatenate(cols), np.concatenate(vals), -np.inf, np.array(hi), "jobs cut >= min")


def add_plant_costs(mb: Blocks, data: ModelData) -> None:
    """Fixed and closure costs of the plants (money), at the plant's equity share e_p.

    fixed:    - sum_(p,y) W_y e_p fixed_cost_p z_(p,y)         (W_y = d_y, plus D_tail in the last year; v1: A)
    closure:  - sum_(p,y) o_y e_p closure_cost_p (z_(p,y-1) - z_(p,y)),  z_(p,Y1-1) = 1   (o_y = d_y; v1: 1)

    Telescoped, the closure cost is the constant o_1 e_p cc_p plus coefficient
    e_p cc_p (o_y - o_(y+1)) on z_(p,y) (with o_(T+1) = 0), all with a minus sign.
    A negative closure cost is a sale's net proceeds.
    """
    pl = data.plants
    if len(pl) == 0:
        return
    z = mb.vars["z"]
    e = pl["equity"].to_numpy(float)
    fixed = (e * pl["fixed_cost"].to_numpy(float))[:, None] * data.weight[None, :]
    years = np.tile(data.years, len(pl))
    mb.add_cost("fixed", z.cols, -fixed.ravel(), year=years)
    cc = e * pl["closure_cost"].to_numpy(float)
    step = data.oneoff - np.append(data.oneoff[1:], 0.0)
    coef = cc[:, None] * step[None, :]
    mb.add_cost("closure", z.cols, coef.ravel(), constant=-float(cc.sum() * data.oneoff[0]))
