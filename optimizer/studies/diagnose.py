"""Infeasibility explained in business terms: which rule the user wrote has to give, and by how much.

:func:`diagnose_built` solves an *elastic* copy of the model: every business rule
the user wrote gets a nonnegative violation column, physics (capacities, bans,
export channels, quotas, sourcing, closure order) gets none, and the objective
minimises the total violation, each violation divided by the rule's own size (so
100 units short on a 1,000-unit demand row weighs as much as 1 plant too many on a
10-plant rule). The rules made elastic:

=================  ===========================================  ==========================
rule               row(s)                                       size (the divisor)
=================  ===========================================  ==========================
``min_units``      each demand row's lower bound                min_units
``plants_kept``    each rule and year, min and max side         the bound (at least 1)
``capacity_kept``  each rule and year, min and max side         the bound (at least the
                                                                largest capacity counted)
``min_jobs_cut``   each rule                                    min
``co2_cap``        each rule and year                           max (at least 1)
``status``,        the bounds of z_(p,y) that plants.csv fixes  1 per plant (1/T per year)
``closure_year``,  (z = 1 or z = 0), through z + s >= 1 or
``earliest_       z - s <= 0 with z itself freed
closure``
``fix_software``   w bounds a scenario fixes                    1 per stack (1/T per year)
=================  ===========================================  ==========================

Each rule with a positive violation is reported with the value it requires, the
value the closest plan reaches and the shortfall; relaxing every reported rule by
its shortfall gives a feasible instance (the elastic solution is such a plan).
Demand rows that no flow can serve (``Blocks.notes``, found before any solve) are
reported the same way, with reachable 0.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.instance import Instance

__all__ = ["Diagnosis", "diagnose", "diagnose_built"]

TIME_LIMIT = 20.0
"""Default seconds for the elastic solve run automatically after an infeasible solve."""


@dataclasses.dataclass
class Diagnosis:
    """The outcome of :func:`diagnose`: ``feasible`` (nothing to explain) or the rules that have to give."""

    instance: str
    feasible: bool
    items: list[dict[str, Any]]
    status: str = ""
    """Status of the elastic solve (``optimal``: the total relative violation is minimal)."""

    def lines(self) -> list[str]:
        """One sentence per rule that has to give."""
        return [str(i["message"]) for i in self.items]

    def to_frame(self) -> pd.DataFrame:
        """The items as a table (rule, where, required, reachable, shortfall, message, ...)."""
        cols = ["rule", "where", "required", "reachable", "shortfall", "years", "message"]
        return pd.DataFrame(self.items, columns=cols)


# --------------------------------------------------------------------------- formatting
def _n(x: float) -> str:
    if isinstance(x, str):
        return x
    if abs(x - round(x)) < 1e-6:
        return f"{round(x):,}"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:,.3g}"


def _round(x: float) -> float:
    r = round(x)
    return float(r) if abs(x - r) < 1e-6 else float(x)


def _rule_name(where: str, kinds_count: dict[str, int]) -> str:
    """``min_jobs_cut[0]`` -> ``min_jobs_cut`` when the instance has only that one rule of its kind."""
    kind = where.split("[", 1)[0]
    return kind if kinds_count.get(kind, 0) == 1 else where


# --------------------------------------------------------------------------- z and w bounds
def _z_reason(plants: pd.DataFrame, plant: str, year: int, side: str) -> tuple[str, Any]:
    """Which plants.csv column fixes z_(plant, year) at 1 (``side='lb'``) or 0 (``'ub'``)."""
    row = plants.loc[plant]
    status = str(row.get("status", "free"))
    cy = row.get("closure_year") if "closure_year" in plants else None
    ec = row.get("earliest_closure") if "earliest_closure" in plants else None
    cy = None if cy is None or pd.isna(cy) else int(cy)
    ec = None if ec is None or pd.isna(ec) else int(ec)
    if side == "lb":
        if status == "keep":
            return "status", "keep"
        if cy is not None and year < cy:
            return "closure_year", cy
        if ec is not None and year < ec:
            return "earliest_closure", ec
    else:
        if status == "close":
            return "status", "close"
        if cy is not None and year >= cy:
            return "closure_year", cy
    return "fixed", "open" if side == "lb" else "closed"


def _natural_w_upper(data: Any, labels: pd.DataFrame) -> np.ndarray:
    st = data.stacks.set_index(["model", "stack"])["available_from"].astype(float)
    avail = st.reindex(pd.MultiIndex.from_frame(labels[["model", "stack"]])).to_numpy(float)
    return np.where(labels["year"].to_numpy() < np.nan_to_num(avail, nan=-np.inf), 0.0, 1.0)


# --------------------------------------------------------------------------- the elastic model
@dataclasses.dataclass
class _Soft:
    """One violation column: where it enters and what it means."""

    block: str
    row: int
    sign: float
    weight: float
    group: tuple[Any, ...]
    """Items sharing a group are reported together (the worst violation, the years)."""
    info: dict[str, Any]


def _unserved(data: Any) -> pd.DataFrame:
    fl, d = data.flows, data.demand
    key = ["model", "market", "year"]
    served = pd.MultiIndex.from_frame(fl[key]) if len(fl) else pd.MultiIndex.from_tuples([], names=key)
    return d[(d["min_units"] > 0) & ~pd.MultiIndex.from_frame(d[key]).isin(served)]


def _demand_where(v: str, m: str, y: int, multi: bool) -> str:
    return f"demand[model={v}, market={m}" + (f", year={y}]" if multi else "]")


def diagnose_built(built: Any, *, time_limit: float | None = TIME_LIMIT, mip_gap: float = 1e-6,
                   threads: int | None = None) -> Diagnosis:
    """Diagnose a built model (see the module docstring); ``feasible`` when no rule has to give."""
    from ..solver.highs import SolveOptions, solve_blocks

    mb0, data = built.blocks, built.data
    multi = bool(data.multi_year)
    name = built.instance.name
    years = [int(y) for y in data.years]
    t = len(years)
    rules = {r.where: r for r in data.rules}
    kinds: dict[str, int] = {}
    for r in data.rules:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    items: list[dict[str, Any]] = []

    # demand that no flow can serve: found before any solve, reported as such
    for v, m, y, lo in _unserved(data)[["model", "market", "year", "min_units"]].itertuples(index=False):
        where = _demand_where(v, m, int(y), multi)
        items.append({"rule": "min_units", "where": where, "required": float(lo), "reachable": 0.0,
                      "shortfall": float(lo), "years": [int(y)] if multi else [],
                      "message": f"min_units {_n(lo)} of {v} in {m}" + (f" in {y}" if multi else "")
                      + f": no flow can serve it (no plant makes {v} for {m} there, or every lane is banned); "
                      f"the closest plan sells 0 (short by {_n(lo)})"})

    n_pre = len(items)
    soft: list[_Soft] = []
    # demand lower bounds
    dem = mb0.cons.get("demand")
    if dem is not None:
        lab = dem.labels
        for i in np.flatnonzero(np.isfinite(dem.lower) & (dem.lower > 0)):
            v, m, y = lab.at[i, "model"], lab.at[i, "market"], int(lab.at[i, "year"])
            lo = float(dem.lower[i])
            soft.append(_Soft("demand", int(i), 1.0, 1.0 / lo, ("demand", v, m, y),
                              {"rule": "min_units", "where": _demand_where(v, m, y, multi), "required": lo,
                               "v": v, "m": m, "y": y}))
    # plant rules
    cap = data.plants["capacity"].astype(float)
    for kind in ("plants_kept", "capacity_kept", "co2_cap"):
        cb = mb0.cons.get(kind)
        if cb is None:
            continue
        for i in range(cb.size):
            where, y = str(cb.labels.at[i, "rule"]), int(cb.labels.at[i, "year"])
            r = rules.get(where)
            unit = 1.0
            if kind == "capacity_kept" and r is not None and r.plants:
                unit = float(cap.reindex(list(r.plants)).max())
            for side, bound, sign in (("min", cb.lower[i], 1.0), ("max", cb.upper[i], -1.0)):
                if not np.isfinite(bound):
                    continue
                size = max(abs(float(bound)), unit)
                soft.append(_Soft(kind, i, sign, 1.0 / size, (kind, where, side),
                                  {"rule": f"{kind}.{side}" if kind != "co2_cap" else "co2_cap",
                                   "where": _rule_name(where, kinds),
                                   "required": float(bound), "kind": kind, "side": side, "y": y,
                                   "name": _rule_name(where, kinds)}))
    jc = mb0.cons.get("jobs_cut")
    if jc is not None:
        for i in range(jc.size):
            where = str(jc.labels.at[i, "rule"])
            r = rules[where]
            soft.append(_Soft("jobs_cut", i, -1.0, 1.0 / max(float(r.min or 0.0), 1.0), ("jobs", where),
                              {"rule": "min_jobs_cut", "where": _rule_name(where, kinds), "required": float(r.min or 0.0),
                               "y": int(jc.labels.at[i, "year"]), "name": _rule_name(where, kinds)}))

    # fixed plant decisions (z bounds) and fixed software (w bounds)
    z = mb0.vars["z"]
    zlo, zhi = z.lower.copy(), z.upper.copy()
    bound_items: list[tuple[int, str, float, tuple[Any, ...], dict[str, Any]]] = []
    pl = data.plants
    for j in np.flatnonzero(zlo > 0.5):
        p, y = str(z.labels.at[j, "plant"]), int(z.labels.at[j, "year"])
        col, val = _z_reason(pl, p, y, "lb")
        bound_items.append((int(j), "z", 1.0, ("z", p, col), {"rule": col, "plant": p, "value": val, "y": y}))
    for j in np.flatnonzero(zhi < 0.5):
        p, y = str(z.labels.at[j, "plant"]), int(z.labels.at[j, "year"])
        col, val = _z_reason(pl, p, y, "ub")
        bound_items.append((int(j), "z", -1.0, ("z", p, col), {"rule": col, "plant": p, "value": val, "y": y}))
    w = mb0.vars.get("w")
    if w is not None and w.size:
        nat = _natural_w_upper(data, w.labels)
        for j in np.flatnonzero(w.lower > 0.5):
            v, s_, y = str(w.labels.at[j, "model"]), str(w.labels.at[j, "stack"]), int(w.labels.at[j, "year"])
            bound_items.append((int(j), "w", 1.0, ("w", v, s_), {"rule": "fix_software", "stack": f"{v}/{s_}",
                                                                  "value": True, "y": y}))
        for j in np.flatnonzero((w.upper < 0.5) & (nat > 0.5)):
            v, s_, y = str(w.labels.at[j, "model"]), str(w.labels.at[j, "stack"]), int(w.labels.at[j, "year"])
            bound_items.append((int(j), "w", -1.0, ("w", v, s_), {"rule": "fix_software", "stack": f"{v}/{s_}",
                                                                   "value": False, "y": y}))

    # assemble the elastic copy
    vars_ = dict(mb0.vars)
    vars_["z"] = dataclasses.replace(z, lower=np.zeros(z.size), upper=np.ones(z.size))
    if w is not None and w.size:
        vars_["w"] = dataclasses.replace(w, lower=np.zeros(w.size), upper=_natural_w_upper(data, w.labels))
    e = dataclasses.replace(mb0, vars=vars_, cons=dict(mb0.cons), costs=[], notes=[])
    n_soft, n_bound = len(soft), len(bound_items)
    n_all = n_soft + n_bound
    if n_all == 0:
        return _no_rule(built, items)
    sv = e.add_vars("violation", pd.DataFrame({"item": np.arange(n_all)}), 0.0, np.inf, integer=False,
                    description="violation of a business rule")
    by_block: dict[str, list[tuple[int, int, float]]] = {}
    for k, s in enumerate(soft):
        by_block.setdefault(s.block, []).append((s.row, int(sv.offset + k), s.sign))
    for blk, trip in by_block.items():
        cb = e.cons[blk]
        r, c, v = zip(*trip)
        e.cons[blk] = dataclasses.replace(cb, row=np.concatenate([cb.row, np.array(r, dtype=np.int64)]),
                                          col=np.concatenate([cb.col, np.array(c, dtype=np.int64)]),
                                          val=np.concatenate([cb.val, np.array(v, dtype=float)]))
    if n_bound:
        k0 = n_soft
        rows = np.concatenate([np.arange(n_bound), np.arange(n_bound)])
        cols = np.concatenate([[vars_[fam].offset + j for j, fam, _, _, _ in bound_items],
                               sv.offset + k0 + np.arange(n_bound)])
        vals = np.concatenate([np.ones(n_bound), [sg for _, _, sg, _, _ in bound_items]])
        lo = np.array([1.0 if sg > 0 else -np.inf for _, _, sg, _, _ in bound_items])
        hi = np.array([np.inf if sg > 0 else 0.0 for _, _, sg, _, _ in bound_items])
        e.add_cons("fixed_decisions", pd.DataFrame({"item": np.arange(n_bound)}), rows, cols, vals, lo, hi,
                   "fixed z / w bound, elastic")
    weights = np.concatenate([[s.weight for s in soft], np.full(n_bound, 1.0 / max(t, 1))])
    e.add_cost("violation", sv.cols, -weights)
    s_opt = built.instance.settings.solver
    limit = s_opt.time_limit_s if time_limit is None else time_limit
    rep = solve_blocks(e, SolveOptions(time_limit=limit, mip_gap=mip_gap, threads=threads, seed=s_opt.seed))
    if not rep.has_solution or rep.solution is None:
        items.append({"rule": "-", "where": "-", "required": None, "reachable": None, "shortfall": None, "years": [],
                      "message": f"the elastic model could not be solved ({rep.status}) within {limit:g} s; "
                      "run `optimizer diagnose` with a longer --time-limit"})
        return Diagnosis(name, False, items, str(rep.status))
    x = rep.solution
    viol = x[sv.cols]

    # activities of the rule rows (for "while ... holds")
    a, _, _ = mb0.matrix()
    act = a @ x[: mb0.n_cols]

    groups: dict[tuple[Any, ...], list[tuple[_Soft, float]]] = {}
    for k, s in enumerate(soft):
        size = 1.0 / s.weight
        if viol[k] > 1e-6 * max(1.0, size):
            groups.setdefault(s.group, []).append((s, float(viol[k])))
    tight: list[str] = []
    for k, s in enumerate(soft):
        if s.block in ("demand",) or s.group in groups:
            continue
        cb = mb0.cons[s.block]
        bound = cb.lower[s.row] if s.sign > 0 else cb.upper[s.row]
        a_ = act[cb.offset + s.row]
        if abs(a_ - bound) <= 1e-6 * max(1.0, abs(bound)):
            label = _holds(s)
            if label not in tight:
                tight.append(label)
    for g, lst in groups.items():
        items.append(_soft_item(lst, multi, jc, mb0, x))
    # fixed decisions
    zplan = np.round(x[z.cols]) > 0.5
    bgroups: dict[tuple[Any, ...], list[tuple[dict[str, Any], float]]] = {}
    for k, (j, fam, sg, grp, info) in enumerate(bound_items):
        if viol[n_soft + k] > 1e-6:
            bgroups.setdefault(grp, []).append((info, float(viol[n_soft + k])))
    for grp, lst in bgroups.items():
        items.append(_bound_item(grp, lst, multi, z, zplan, w, x))
    tight = _merge_exact(tight)
    if tight and items:
        suffix = " while " + ", ".join(tight) + (" holds" if len(tight) == 1 else " hold")
        for it in items[n_pre:]:
            it["message"] += suffix
    return Diagnosis(name, not items, items, str(rep.status))


def _merge_exact(tight: list[str]) -> list[str]:
    """'plants_kept min 10', 'plants_kept max 10' -> 'plants_kept 10' (an exact rule, as the user wrote it)."""
    out = list(tight)
    for t in tight:
        parts = t.split(" ")
        if len(parts) == 3 and parts[1] == "min":
            twin = f"{parts[0]} max {parts[2]}"
            if twin in out:
                out[out.index(t)] = f"{parts[0]} {parts[2]}"
                out.remove(twin)
    return out


def _no_rule(built: Any, items: list[dict[str, Any]]) -> Diagnosis:
    return Diagnosis(built.instance.name, not items, items, "no rule")


def _holds(s: _Soft) -> str:
    i = s.info
    if s.block == "jobs_cut":
        return f"{i['name']} {_n(i['required'])}"
    if s.block == "co2_cap":
        return f"{i['name']} {_n(i['required'])}"
    return f"{i['name']} {i['side']} {_n(i['required'])}"


def _soft_item(lst: list[tuple[_Soft, float]], multi: bool, jc: Any, mb0: Any, x: np.ndarray) -> dict[str, Any]:
    s, worst = max(lst, key=lambda t: t[1])
    i = s.info
    yrs = sorted({int(t[0].info["y"]) for t in lst}) if multi else []
    req = i["required"]
    ytxt = (f" in {yrs[0]}" if len(yrs) == 1 else f" in {yrs[0]}-{yrs[-1]}" if yrs else "")
    short = _round(worst)
    if s.block == "demand":
        reach = _round(req - worst)
        msg = (f"min_units {_n(req)} of {i['v']} in {i['m']}{ytxt}: the closest plan sells {_n(reach)} "
               f"(short by {_n(short)})")
    elif s.block == "jobs_cut":
        reach = _round(req - worst)
        msg = f"{i['name']} {_n(req)}: the closest plan cuts {_n(reach)} (short by {_n(short)})"
    elif s.block == "co2_cap":
        reach = _round(req + worst)
        msg = f"{i['name']} max {_n(req)} t{ytxt}: the closest plan emits {_n(reach)} t (over by {_n(short)})"
    else:
        what = "plants open" if s.block == "plants_kept" else "units/yr of capacity open"
        if i["side"] == "min":
            reach = _round(req - worst)
            msg = (f"{i['name']} min {_n(req)}{ytxt}: the closest plan keeps {_n(reach)} {what} "
                   f"(short by {_n(short)})")
        else:
            reach = _round(req + worst)
            msg = (f"{i['name']} max {_n(req)}{ytxt}: the closest plan keeps {_n(reach)} {what} "
                   f"(over by {_n(short)})")
    return {"rule": i["rule"], "where": i["where"], "required": req, "reachable": reach, "shortfall": short,
            "years": yrs, "message": msg}


def _bound_item(grp: tuple[Any, ...], lst: list[tuple[dict[str, Any], float]], multi: bool, z: Any,
                zplan: np.ndarray, w: Any, x: np.ndarray) -> dict[str, Any]:
    info = lst[0][0]
    yrs = sorted({int(t[0]["y"]) for t in lst})
    short = float(len(lst))  # plant-years (stack-years) that differ
    if grp[0] == "z":
        p, col, val = info["plant"], info["rule"], info["value"]
        mask = (z.labels["plant"] == p).to_numpy()
        closed_years = z.labels.loc[mask, "year"].to_numpy()[~zplan[mask]]
        reach: Any = ("kept" if len(closed_years) == 0 else
                      (f"closed from {int(closed_years.min())}" if multi else "closed"))
        where = f"plants[plant={p}].{col}" if col != "fixed" else f"z[{p}] (fixed through BuiltModel.fix)"
        req = val
        if col == "status":
            head = f"plant {p} status {val}"
        elif col == "fixed":
            head = f"plant {p} fixed {val}"
        else:
            head = f"plant {p} {col} {val}"
        msg = f"{head}: the closest plan has it {reach}" + (f" (differs in {', '.join(map(str, yrs))})" if multi else "")
        return {"rule": col if col != "fixed" else "fix", "where": where, "required": req, "reachable": reach,
                "shortfall": short if multi else 1.0, "years": yrs if multi else [], "message": msg}
    stack, dev = info["stack"], info["value"]
    v, s = stack.split("/", 1)
    mask = ((w.labels["model"] == v) & (w.labels["stack"] == s)).to_numpy()
    on = np.round(x[w.cols[mask]]) > 0.5
    reach = "developed" if on.any() else "not developed"
    msg = (f"fix_software {stack} developed: {str(dev).lower()}: the closest plan has it {reach}")
    return {"rule": "fix_software", "where": f"fix_software[{stack}]", "required": bool(dev), "reachable": reach,
            "shortfall": short if multi else 1.0, "years": yrs if multi else [], "message": msg}


def diagnose(
    source: str | Path | Instance | Any,
    *,
    scenario: str | None = None,
    scenarios_file: str | Path | None = None,
    time_limit: float | None = None,
    out: str | Path | None = None,
) -> Diagnosis:
    """Solve ``source`` (or its ``scenario``); if infeasible, say which written rules have to give.

    Returns a :class:`Diagnosis` (``feasible`` True and no items when the instance has a
    plan). With ``out``, ``diagnosis.json`` is written there.
    """
    import json

    from ..api import BuiltModel, build
    from ..solver.highs import SolveOptions, Status, solve_blocks

    if scenario is not None:
        from ..api import load
        from .scenarios import apply_scenario, build_scenario, load_scenarios

        inst = source if isinstance(source, Instance) else load(source)
        applied = apply_scenario(inst, scenario, load_scenarios(inst, scenarios_file))
        built = build_scenario(applied)
    else:
        built = source if isinstance(source, BuiltModel) else build(source)
    s = built.instance.settings.solver
    feasible = False
    if not built.blocks.notes:
        # feasibility only: a zero objective stops at the first feasible plan
        probe = dataclasses.replace(built.blocks, costs=[])
        rep = solve_blocks(probe, SolveOptions(time_limit=s.time_limit_s if time_limit is None else time_limit,
                                               threads=s.threads, seed=s.seed))
        feasible = rep.status in (Status.OPTIMAL, Status.FEASIBLE)
    diag = Diagnosis(built.instance.name, True, [], "feasible") if feasible else \
        diagnose_built(built, time_limit=time_limit or max(TIME_LIMIT, s.time_limit_s))
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "diagnosis.json").write_text(json.dumps({"instance": diag.instance, "feasible": diag.feasible,
                                                      "status": diag.status, "diagnosis": diag.items},
                                                     indent=2, default=_json) + "\n", encoding="utf-8")
    return diag


def _json(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        f = float(o)
        return None if math.isnan(f) else f
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)
