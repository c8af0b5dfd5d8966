"""Software families: which non-default stacks are developed by which year, and what they allow.

Indices: (v, s) a model's software stack, y plan years.  Units: w is 0/1; x in
vehicles/year; development cost in money.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.prepare import ModelData
from .blocks import Blocks, add_year_order, group_rows


def _developable(data: ModelData) -> pd.DataFrame:
    fl = data.flows
    used = fl[["model", "stack"]].drop_duplicates()
    return data.stacks[~data.stacks["default"]].merge(used, on=["model", "stack"]).reset_index(drop=True)


def add_software_variables(mb: Blocks, data: ModelData) -> None:
    """w_(v,s,y) in {0, 1}: non-default stack s of model v is developed by year y.

    Only for stacks some flow-year uses (default stacks are w = 1, no variable);
    w = 0 before the stack's ``available_from`` year.
    """
    nd = _developable(data)
    t = len(data.years)
    labels = pd.DataFrame({"model": np.repeat(nd["model"].to_numpy(), t), "stack": np.repeat(nd["stack"].to_numpy(), t),
                           "year": np.tile(data.years, len(nd))})
    avail = np.repeat(nd["available_from"].astype(float).to_numpy(), t)
    ub = np.where(labels["year"].to_numpy() < avail, 0.0, 1.0)
    mb.add_vars("w", labels, 0.0, ub, integer=True, description="stack developed (0/1)")


def add_development_order_constraints(mb: Blocks, data: ModelData) -> None:
    """A developed stack stays developed, for each (v, s) and year y > Y1.

    w_(v,s,y-1) - w_(v,s,y) <= 0
    """
    add_year_order(mb, "development_order", mb.vars["w"], len(data.years), increasing=True,
                   description="w[v,s,y-1] <= w[v,s,y]")


def add_software_constraints(mb: Blocks, data: ModelData) -> None:
    """Software variants, for each (v, s, m, y) of a non-default stack s with flows (vehicles/year).

    sum_p x_(p,v,s,m,y) - max_units_(v,m,y) w_(v,s,y) <= 0

    The contract states x_f <= max_units w per flow; summed over plants it has the
    same integer solutions (demand already caps the sum at max_units) and an LP
    relaxation at least as tight, with one row per market instead of one per flow.
    """
    w = mb.vars["w"]
    if w.size == 0:
        return
    fl = data.flows
    wc = w.col(fl[["model", "stack", "year"]])
    items = np.flatnonzero(wc >= 0)
    key = ["model", "stack", "market", "year"]
    codes, uniq = group_rows(fl.loc[items, key])
    maxu = data.demand.set_index(["model", "market", "year"])["max_units"]
    x = mb.vars["x"]
    u_w = w.col(uniq[["model", "stack", "year"]])
    m = len(uniq)
    rows = np.concatenate([codes, np.arange(m)])
    cols = np.concatenate([items + x.offset, u_w])
    vals = np.concatenate([np.ones(len(items)),
                           -maxu.reindex(pd.MultiIndex.from_frame(uniq[["model", "market", "year"]])).to_numpy(float)])
    mb.add_cons("software", uniq, rows, cols, vals, -np.inf, 0.0, "sum_p x <= max_units w")


def add_development_costs(mb: Blocks, data: ModelData) -> None:
    """Development cost, charged once in the year of development (money; not at an equity share).

    - sum_(v,s,y) o_y dev_cost_vs (w_(v,s,y) - w_(v,s,y-1)),  w_(v,s,Y1-1) = 0

    Telescoped: coefficient - dev_cost_vs (o_y - o_(y+1)) on w_(v,s,y), o_(T+1) = 0 (v1: - dev_cost_vs w_vs).
    """
    w = mb.vars["w"]
    if w.size == 0:
        return
    mb.add_cost("development", w.cols, development_coefficients(data, w.labels))


def development_coefficients(data: ModelData, labels: pd.DataFrame) -> np.ndarray:
    """NPV coefficient of w_(v,s,y) for each (model, stack, year) row of ``labels``: - dev_cost_vs (o_y - o_(y+1))."""
    dev = data.stacks.set_index(["model", "stack"])["dev_cost"]
    cost = dev.reindex(pd.MultiIndex.from_frame(labels[["model", "stack"]])).to_numpy(float)
    step = data.oneoff - np.append(data.oneoff[1:], 0.0)
    yi = np.searchsorted(data.years, labels["year"].to_numpy())
    return -cost * step[yi]
