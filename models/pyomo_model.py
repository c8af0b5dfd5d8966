"""The Pyomo model of a set of blocks, made on demand for users who extend the model.

Generic: one ``pyo.Var`` per variable family, indexed by its labels (``x[p, v, s, m]``,
``z[p]``, ``w[v, s]``, ``a[p, v, m]``, ``q[p, v, s, m]``, with the year appended in a
multi-year plan: ``x[p, v, s, m, y]``, ``z[p, y]``, ...), one ``pyo.Constraint`` per
constraint family indexed by its labels, and the objective ``npv``.  Fixed decisions
are bounds (lb = ub), not fixed variables, so the standard form of this model has
the same columns as the matrix the default path hands to HiGHS.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from .blocks import Blocks


def _index(labels: Any, keep_year: bool) -> list[Any]:
    cols = [c for c in labels.columns if keep_year or c != "year"]
    if len(cols) == 1:
        return labels[cols[0]].tolist()
    return list(labels[cols].itertuples(index=False, name=None))


def _bound(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def to_pyomo(mb: Blocks, multi_year: bool) -> tuple[pyo.ConcreteModel, list[Any]]:
    """The Pyomo model of ``mb`` and its variables in column order (``columns[j]`` is column j)."""
    m = pyo.ConcreteModel(name=mb.name)
    columns: list[Any] = []
    for name, vb in mb.vars.items():
        idx = _index(vb.labels, multi_year)
        var = pyo.Var(idx, domain=pyo.Binary if vb.integer else pyo.NonNegativeReals, dense=True)
        setattr(m, name, var)
        for k, lo, hi in zip(idx, vb.lower.tolist(), vb.upper.tolist()):
            v = var[k]
            v.setlb(_bound(lo))
            v.setub(_bound(hi))
            columns.append(v)
    a, lo, hi = mb.matrix()
    csr = a.tocsr()
    for name, cb in mb.cons.items():
        idx = _index(cb.labels, multi_year)
        start = cb.offset

        def rule(_m: pyo.ConcreteModel, *key: Any, _idx: dict = dict(zip(idx, range(len(idx)))),
                 _start: int = start) -> Any:
            r = _start + _idx[key if len(key) > 1 else key[0]]
            s, e = csr.indptr[r], csr.indptr[r + 1]
            terms = [MonomialTermExpression((float(c), columns[j]))
                     for c, j in zip(csr.data[s:e].tolist(), csr.indices[s:e].tolist())]
            body = LinearExpression(terms)
            return (_bound(lo[r]), body, _bound(hi[r]))

        setattr(m, name, pyo.Constraint(idx, rule=rule))
    c, const = mb.objective()
    nz = np.flatnonzero(c)
    terms: list[Any] = [MonomialTermExpression((float(c[j]), columns[j])) for j in nz.tolist()]
    if const:
        terms.append(const)
    m.npv = pyo.Objective(expr=LinearExpression(terms), sense=pyo.maximize)
    return m, columns
