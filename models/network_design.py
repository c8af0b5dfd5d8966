"""The network-design MIP, built in an explicit order.

``build_model`` reads like a table of contents: sets, variables, one function per
constraint family, then the objective assembled from the cost hub.  Each family
picks its (sparse) index set from the prepared data and returns early when it is
empty.  Indices: f = (p, v, s, m) flows (integer positions in ``data.flows``),
p plants, (v, s) software stacks, (p, v, m) sourcing choices.

Units: flows in vehicles per year; money in the instance currency; the objective
is the net present value (money).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from ..data.prepare import ModelData

from . import constraints as cons

log = logging.getLogger(__name__)


VI_AUTO_MAX_FLOWS = 5_000
"""``valid_inequalities=None`` adds them up to this many flows (see BuildOptions)."""


@dataclass(frozen=True)
class BuildOptions:
    """Options of the formulation.

    Attributes
    ----------
    valid_inequalities:
        Add sum_s x_(p,v,s,m) <= U_pvm z_p (U = the tightest of max_units, plant and
        line capacity): redundant for the MIP, tighter LP relaxation.  ``None``
        (default) = on for models of at most ``VI_AUTO_MAX_FLOWS`` flows, off above:
        measured (benchmarks/results/valid_inequalities.md), they speed HiGHS up on
        small models and slow it down, and lengthen the build, on large ones.
    """

    valid_inequalities: bool | None = None

    def use_valid_inequalities(self, n_flows: int) -> bool:
        """Whether the valid inequalities are added for a model of ``n_flows`` flows."""
        if self.valid_inequalities is None:
            return n_flows <= VI_AUTO_MAX_FLOWS
        return self.valid_inequalities


@dataclass
class CostComponent:
    """One named term of the NPV (a hub entry, GenX style).

    value = sign * (flow_coef . x + sum(coef * var) + constant), times the annuity
    factor A when ``annual``.  The objective is the sum of all components, so the
    breakdown in the results comes from the same numbers the solver optimised.
    """

    name: str
    annual: bool
    sign: float
    flow_coef: np.ndarray | None = None
    var_terms: list[tuple[pyo.Var, float]] = field(default_factory=list)
    constant: float = 0.0


def add_sets(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Index sets: F (flows, integer positions) and P (plants)."""
    m.F = pyo.RangeSet(0, data.n_flows - 1)
    m.P = pyo.Set(initialize=list(data.plants.index), ordered=True)


def add_plant_variables(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """z_p in {0, 1}: keep plant p (fixed for status keep/close)."""
    m.z = pyo.Var(m.P, domain=pyo.Binary)
    for p, status in data.plants["status"].items():
        if status == "keep":
            m.z[p].fix(1)
        elif status == "close":
            m.z[p].fix(0)


def add_flow_variables(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """x_f >= 0: vehicles per year on flow f = (p, v, s, m).

    ``m.flow_vars`` lists the same variables by position (``m.flow_vars[f] is m.x[f]``) for
    the constraint and objective builders.
    """
    m.x = pyo.Var(m.F, domain=pyo.NonNegativeReals)
    m.flow_vars = list(m.x.values())


def add_software_variables(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """w_vs in {0, 1} for non-default stacks that some flow uses (default stacks are w = 1, no variable)."""
    fl = data.flows
    used = fl[["model", "stack"]].drop_duplicates()
    nd = data.stacks[~data.stacks["default"]].merge(used, on=["model", "stack"])
    m.W = pyo.Set(initialize=list(zip(nd["model"], nd["stack"])), dimen=2, ordered=True)
    m.w = pyo.Var(m.W, domain=pyo.Binary)


def add_cost_hub(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """Register the NPV components; the objective and the breakdown both come from here.

    Annual per-unit terms over flows (money/unit, times A): revenue (+), production,
    freight, duties, software, channel_fees (-).  Annual fixed cost (-) on z_p.
    One-off: closure cost (-) on (1 - z_p); development cost (-) on w_vs.
    """
    fl = data.flows
    hub = [CostComponent(name, True, 1.0 if name == "revenue" else -1.0, fl[name].to_numpy(float))
           for name in ("revenue", "production", "freight", "duties", "software", "channel_fees")]
    fixed = data.plants["fixed_cost"]
    hub.append(CostComponent("fixed", True, -1.0, var_terms=[(m.z[p], float(c)) for p, c in fixed.items() if c]))
    closure = data.plants["closure_cost"]
    hub.append(CostComponent("closure", False, -1.0, var_terms=[(m.z[p], -float(c)) for p, c in closure.items() if c],
                             constant=float(closure.sum())))
    dev = data.stacks.set_index(["model", "stack"])["dev_cost"]
    hub.append(CostComponent("development", False, -1.0,
                             var_terms=[(m.w[k], float(dev[k])) for k in m.W if dev[k]]))
    m.cost_hub = hub


def add_objective(m: pyo.ConcreteModel, data: ModelData, options: BuildOptions) -> None:
    """max NPV = sum over hub components of sign * (A if annual) * (terms + constant).

    Flow coefficients are merged per flow first, so each x_f enters the objective once:
    A * margin_f with margin_f = price - unit_cost_pv - freight_pm - duty_f - unit_cost_vs - fee_f.
    """
    coef = np.zeros(data.n_flows)
    var_coef: dict[int, tuple[pyo.Var, float]] = {}
    constant = 0.0
    for c in m.cost_hub:
        scale = c.sign * (data.annuity if c.annual else 1.0)
        if c.flow_coef is not None:
            coef += scale * c.flow_coef
        for v, k in c.var_terms:
            old = var_coef.get(id(v), (v, 0.0))[1]
            var_coef[id(v)] = (v, old + scale * k)
        constant += scale * c.constant
    xs = m.flow_vars
    nz = np.flatnonzero(coef)
    terms: list = [MonomialTermExpression((c, xs[i])) for c, i in zip(coef[nz].tolist(), nz.tolist())]
    terms += [MonomialTermExpression((k, v)) for v, k in var_coef.values() if k != 0.0]
    if constant:
        terms.append(constant)
    m.npv = pyo.Objective(expr=LinearExpression(terms), sense=pyo.maximize)


Step = Callable[[pyo.ConcreteModel, ModelData, BuildOptions], None]

STEPS: tuple[Step, ...] = (
    add_sets,
    add_plant_variables,
    add_flow_variables,
    add_software_variables,
    cons.add_single_sourcing_variables,
    cons.add_plant_capacity_constraints,
    cons.add_line_capacity_constraints,
    cons.add_demand_constraints,
    cons.add_software_constraints,
    cons.add_export_channel_constraints,
    cons.add_plants_kept_constraints,
    cons.add_jobs_constraints,
    cons.add_single_sourcing_constraints,
    cons.add_valid_inequalities,
    add_cost_hub,
    add_objective,
)
"""The build order: sets, variables, constraint families, objective last."""


def build_model(data: ModelData, options: BuildOptions | None = None) -> pyo.ConcreteModel:
    """Build the Pyomo model of ``data``; each step's time is logged at DEBUG."""
    options = options or BuildOptions()
    m = pyo.ConcreteModel(name=data.name)
    m.trivially_infeasible = []
    for step in STEPS:
        t0 = time.perf_counter()
        step(m, data, options)
        log.debug("%s: %.3f s", step.__name__, time.perf_counter() - t0)
    return m
