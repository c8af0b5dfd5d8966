"""The N best plans: distinct closure schedules ranked by NPV.

:func:`alternatives` solves the model, then adds a *no-good cut* on the plant
variables z that excludes the plan just found and solves again, up to ``count``
plans (or until a plan is more than ``within`` below the best). Plan k is thus
proven optimal (up to the MIP gap, 0 by default) among the plans that differ from
plans 1..k-1.

The cut. A plan is the vector b of the free z_(p,y) (the columns whose bounds do
not fix them); closure schedules are monotone (a closed plant stays closed), so
two schedules differ iff their z vectors differ, and the cut

    sum_{j: b_j = 0} z_j + sum_{j: b_j = 1} (1 - z_j) >= 1

removes exactly plan b. It is added to a copy of the model's blocks as its own
constraint family ``nogood_<k>``. Software development (w) is re-optimised for
each closure schedule: two plans with the same schedule and different software are
the same plan here (software is the tie-break, the best one is reported).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.instance import Instance

__all__ = ["COLUMNS", "alternatives", "closed_text", "plan_of"]

COLUMNS = ("rank", "npv", "gap", "closed", "n_closed", "differences", "developed", "status", "seconds")


def plan_of(mb: Any, data: Any, sol: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """({plant: first year closed or None}, {"model/stack": first year developed}) of a solution vector."""
    z = mb.vars["z"]
    zl = z.labels
    zv = np.round(sol[z.cols]) > 0.5
    closures: dict[str, Any] = {}
    for p, grp in zl.assign(open=zv).groupby("plant", sort=False):
        closed = grp.loc[~grp["open"], "year"]
        closures[str(p)] = None if closed.empty else int(closed.min())
    dev: dict[str, Any] = {}
    w = mb.vars.get("w")
    if w is not None and w.size:
        wv = np.round(sol[w.cols]) > 0.5
        for (v, s), grp in w.labels.assign(on=wv).groupby(["model", "stack"], sort=True):
            on = grp.loc[grp["on"], "year"]
            if not on.empty:
                dev[f"{v}/{s}"] = int(on.min())
    return closures, dev


def closed_text(closures: dict[str, Any], multi_year: bool) -> str:
    """'A; B' (v1) or 'A 2028; B 2030' (multi-year), sorted by year then plant."""
    items = sorted(((y, p) for p, y in closures.items() if y is not None), key=lambda t: (t[0], t[1]))
    return "; ".join(f"{p} {y}" if multi_year else p for y, p in items)


def _differences(closures: dict[str, Any], best: dict[str, Any], multi_year: bool) -> str:
    """What differs from the best plan: '+P' closed here only, '-P' kept here only, 'P 2028->2030' moved."""
    out = []
    for p in sorted(closures):
        a, b = closures[p], best.get(p)
        if a == b:
            continue
        if b is None:
            out.append(f"+{p}" + (f" {a}" if multi_year else ""))
        elif a is None:
            out.append(f"-{p}" + (f" (closed {b} in 1)" if multi_year else ""))
        else:
            out.append(f"{p} {b}->{a}")
    return "; ".join(out)


def _nogood(mb: Any, free: np.ndarray, b: np.ndarray, k: int) -> None:
    """Add the cut that excludes the z values ``b`` on the free z columns ``free``."""
    ones = b > 0.5
    coef = np.where(ones, -1.0, 1.0)
    mb.add_cons(f"nogood_{k}", pd.DataFrame({"plan": [k]}), np.zeros(len(free), dtype=np.int64), free, coef,
                1.0 - float(ones.sum()), np.inf, "no-good cut: exclude plan k")


def alternatives(
    source: str | Path | Instance | Any,
    count: int = 5,
    within: float | None = None,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = 0.0,
    threads: int | None = None,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """The ``count`` best distinct closure schedules by NPV (one row each, best first).

    Columns: ``rank``, ``npv``, ``gap`` (to the best, a fraction of |best NPV|),
    ``closed`` (plants closed; with their first closed year in a multi-year plan),
    ``n_closed``, ``differences`` (vs rank 1: ``+P`` closed here and not in 1, ``-P``
    kept here and closed in 1, ``P 2028->2030`` closed in another year),
    ``developed`` (software stacks developed, ``model/stack`` [year]), ``status`` (of
    that re-solve: ``optimal`` = proven best given the better plans excluded) and
    ``seconds``. Stops early when no further plan exists or when a plan's gap exceeds
    ``within``. ``mip_gap`` defaults to 0 (exact ranks); ``time_limit`` applies to
    each re-solve. With ``out`` the table is written to ``out/alternatives.csv``.
    """
    from ..api import BuiltModel, build
    from ..solver.highs import SolveOptions, solve_blocks

    if count < 1:
        raise ValueError("count must be at least 1.")
    if within is not None and within < 0:
        raise ValueError("within must be a fraction >= 0 (e.g. 0.02 for 2 %).")
    built = source if isinstance(source, BuiltModel) else build(source)
    data = built.data
    s = built.instance.settings.solver
    opts = SolveOptions(time_limit=s.time_limit_s if time_limit is None else time_limit,
                        mip_gap=s.mip_rel_gap if mip_gap is None else mip_gap,
                        threads=s.threads if threads is None else threads, seed=s.seed)
    rows: list[dict[str, Any]] = []
    if not built.blocks.notes:
        mb = dataclasses.replace(built.blocks, cons=dict(built.blocks.cons))
        z = mb.vars["z"]
        free = z.cols[z.lower < z.upper]
        best_npv: float | None = None
        best_plan: dict[str, Any] = {}
        for k in range(1, count + 1):
            t0 = time.perf_counter()
            rep = solve_blocks(mb, opts)
            if not rep.has_solution or rep.solution is None:
                break
            npv = float(rep.objective)
            closures, dev = plan_of(mb, data, rep.solution)
            if best_npv is None:
                best_npv, best_plan = npv, closures
            gap = (best_npv - npv) / max(abs(best_npv), 1e-9)
            if within is not None and gap > within + 1e-12:
                break
            my = data.multi_year
            rows.append({
                "rank": k, "npv": npv, "gap": max(gap, 0.0), "closed": closed_text(closures, my),
                "n_closed": sum(1 for y in closures.values() if y is not None),
                "differences": _differences(closures, best_plan, my),
                "developed": "; ".join(f"{k_} {y}" if my else k_ for k_, y in dev.items()),
                "status": str(rep.status), "seconds": round(time.perf_counter() - t0, 3),
            })
            if len(free) == 0:
                break
            _nogood(mb, free, np.round(rep.solution[free]), k)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        table.to_csv(o / "alternatives.csv", index=False)
    return table
