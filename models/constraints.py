"""Constraint families of the network-design model, one function each.

Every function takes ``(m, data, options)``, builds only the rows whose index set
exists in the data, and returns early when that set is empty.  Units: x in
vehicles/year; capacities in vehicles/year; headcount in people.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from ..data.prepare import ModelData

if TYPE_CHECKING:
    from .network_design import BuildOptions


def _groups(df: pd.DataFrame, keys: list[str]) -> dict[object, np.ndarray]:
    """Index labels of the rows of ``df`` per key: the flow ids f of each plant, market, ...

    ``df`` is ``data.flows`` or a filtered view of it; its labels are the flow ids.
    """
    if df.empty:
        return {}
    labels = df.index.to_numpy()
    return {k: labels[v] for k, v in df.groupby(keys, sort=True).indices.items()}


def _sum_x(m: pyo.ConcreteModel, idx: np.ndarray) -> pyo.Expression:
    """sum_{f in idx} x_f.

    Built as one ``LinearExpression`` over the flow variables' list (``m.flow_vars``,
    position f = flow id f), which costs a list of references instead of a chain of
    Pyomo additions and ``x[f]`` look-ups; a single flow is the variable itself.
    """
    xs = m.flow_vars
    if len(idx) == 1:
        return xs[int(idx[0])]
    return LinearExpression([xs[i] for i in idx.tolist()])


def add_plant_capacity_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Plant capacity, for each plant p with flows (vehicles/year).

    sum_{f in F(p)} x_f <= capacity_p * z_p
    """
    groups = _groups(data.flows, ["plant"])
    if not groups:
        return
    cap = data.plants["capacity"]
    m.plant_capacity = pyo.Constraint(
        list(groups), rule=lambda m, p: _sum_x(m, groups[p]) - float(cap[p]) * m.z[p] <= 0
    )


def add_line_capacity_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Line capacity, for each (p, v) with a given line capacity and flows (vehicles/year).

    sum_{f in F(p, v)} x_f <= capacity_pv * z_p
    """
    if data.lines.empty:
        return
    groups = _groups(data.flows, ["plant", "model"])
    caps = {(p, v): float(c) for p, v, c in data.lines.itertuples(index=False) if (p, v) in groups}
    if not caps:
        return
    m.line_capacity = pyo.Constraint(
        list(caps), rule=lambda m, p, v: _sum_x(m, groups[p, v]) - caps[p, v] * m.z[p] <= 0
    )


def add_demand_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Demand, for each (v, m) in ``demand`` (vehicles/year).

    min_units_vm <= sum_{f in F(v, m)} x_f <= max_units_vm

    A (v, m) with min_units > 0 and no flow cannot be served: it is recorded in
    ``m.trivially_infeasible`` and the solve reports ``infeasible``.
    """
    groups = _groups(data.flows, ["model", "market"])
    d = data.demand
    for v, mk, lo in d.loc[d["min_units"] > 0, ["model", "market", "min_units"]].itertuples(index=False):
        if (v, mk) not in groups:
            m.trivially_infeasible.append(f"demand ({v}, {mk}) needs min_units {lo:g} but no flow can serve it")
    if not groups:
        return
    bounds = {(v, mk): (float(lo), float(hi)) for v, mk, lo, hi in
              d[["model", "market", "min_units", "max_units"]].itertuples(index=False) if (v, mk) in groups}

    def rule(m: pyo.ConcreteModel, v: str, mk: str) -> object:
        lo, hi = bounds[v, mk]
        return (lo if lo > 0 else None, _sum_x(m, groups[v, mk]), hi)

    m.demand = pyo.Constraint(list(bounds), rule=rule)


def add_software_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Software variants, for each (v, s, m) of a non-default stack s with flows (vehicles/year).

    sum_p x_(p,v,s,m) <= max_units_vm * w_vs

    The contract states x_f <= max_units_vm * w_vs per flow; summed over plants it
    has the same integer solutions (demand already caps the sum at max_units_vm)
    and an LP relaxation at least as tight, with one row per market instead of
    one per flow.
    """
    if len(m.W) == 0:
        return
    fl = data.flows
    nd = pd.MultiIndex.from_tuples(list(m.W))
    sub = fl[pd.MultiIndex.from_arrays([fl["model"], fl["stack"]]).isin(nd)]
    groups = _groups(sub, ["model", "stack", "market"])
    maxu = data.demand.set_index(["model", "market"])["max_units"]
    m.software = pyo.Constraint(
        list(groups),
        rule=lambda m, v, s, mk: _sum_x(m, groups[v, s, mk]) - float(maxu[v, mk]) * m.w[v, s] <= 0,
    )


def add_export_channel_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Export channel, for each origin country o with a channel and non-domestic flows (vehicles/year).

    sum_{f non-domestic, country(p) = o} x_f <= capacity_o
    """
    fl = data.flows
    groups = _groups(fl[fl["channel"].notna()], ["channel"])
    if not groups:
        return
    cap = data.channels["capacity"]
    m.export_channel = pyo.Constraint(list(groups), rule=lambda m, o: _sum_x(m, groups[o]) <= float(cap[o]))


def add_plants_kept_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Plants kept: min <= sum_p z_p <= max (count); either bound may be absent."""
    lo, hi = data.plants_kept
    if lo is None and hi is None:
        return
    m.plants_kept = pyo.Constraint(expr=(lo, pyo.quicksum(m.z[p] for p in m.P), hi))


def add_jobs_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Jobs cut: sum_p headcount_p * (1 - z_p) >= min_jobs_cut (people)."""
    if data.min_jobs_cut is None or data.min_jobs_cut <= 0:
        return
    hc = data.plants["headcount"]
    m.jobs_cut = pyo.Constraint(
        expr=pyo.quicksum(float(hc[p]) * (1 - m.z[p]) for p in m.P) >= float(data.min_jobs_cut)
    )


def _sourcing(data: ModelData) -> pd.DataFrame:
    """(p, v, m) sourcing choices of (v, m) pairs that more than one plant can serve."""
    pvm = data.flows[["plant", "model", "market"]].drop_duplicates()
    n = pvm.groupby(["model", "market"])["plant"].transform("size")
    return pvm[n > 1].reset_index(drop=True)


def add_single_sourcing_variables(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """a_pvm in {0, 1}: plant p supplies (v, m); only when single sourcing is on and
    (v, m) has more than one candidate plant (otherwise the rule holds by itself)."""
    m.A = pyo.Set(dimen=3, ordered=True,
                  initialize=list(_sourcing(data).itertuples(index=False, name=None)) if data.single_sourcing else [])
    m.a = pyo.Var(m.A, domain=pyo.Binary)


def add_single_sourcing_constraints(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Single sourcing (when on), for (v, m) with several candidate plants.

    sum_p a_pvm <= 1                                   for each such (v, m)
    sum_s x_(p,v,s,m) <= max_units_vm * a_pvm          for each (p, v, m) in A
    """
    if len(m.A) == 0:
        return
    groups = _groups(data.flows, ["plant", "model", "market"])
    maxu = data.demand.set_index(["model", "market"])["max_units"]
    vm: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for p, v, mk in m.A:
        vm.setdefault((v, mk), []).append((p, v, mk))
    m.one_source = pyo.Constraint(list(vm), rule=lambda m, v, mk: pyo.quicksum(m.a[k] for k in vm[v, mk]) <= 1)
    m.source_link = pyo.Constraint(
        m.A, rule=lambda m, p, v, mk: _sum_x(m, groups[p, v, mk]) - float(maxu[v, mk]) * m.a[p, v, mk] <= 0
    )


def add_valid_inequalities(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Valid inequality (see ``BuildOptions.valid_inequalities``), for each (p, v, m) with flows and p free (vehicles/year).

    sum_s x_(p,v,s,m) <= U_pvm * z_p,   U_pvm = min(max_units_vm, capacity_p, capacity_pv)

    Redundant for integer z, but it tightens the LP relaxation (the contract's
    recommended x_f <= max_units_vm * z_p, summed over stacks and with the tightest
    bound); also a_pvm <= z_p under single sourcing.  Skipped for plants whose z is fixed.
    """
    if data.n_flows == 0 or not options.use_valid_inequalities(data.n_flows):
        return
    fl = data.flows
    free_plants = data.plants.index[data.plants["status"] == "free"]
    sub = fl[fl["plant"].isin(free_plants)]
    groups = _groups(sub, ["plant", "model", "market"])
    if groups:
        keys = pd.DataFrame(list(groups), columns=["plant", "model", "market"])
        ub = np.minimum(
            data.demand.set_index(["model", "market"])["max_units"].reindex(
                pd.MultiIndex.from_frame(keys[["model", "market"]])).to_numpy(float),
            data.plants["capacity"].reindex(keys["plant"]).to_numpy(float),
        )
        if not data.lines.empty:
            line = keys.merge(data.lines, on=["plant", "model"], how="left")["capacity"].to_numpy(float)
            ub = np.fmin(ub, line)
        bound = dict(zip(groups, ub.tolist()))
        m.flow_open = pyo.Constraint(
            list(groups),
            rule=lambda m, p, v, mk: _sum_x(m, groups[p, v, mk]) - bound[p, v, mk] * m.z[p] <= 0,
        )
    if len(m.A):
        status = data.plants["status"]
        keys_a = [k for k in m.A if status[k[0]] == "free"]
        if keys_a:
            m.source_open = pyo.Constraint(keys_a, rule=lambda m, p, v, mk: m.a[p, v, mk] - m.z[p] <= 0)
