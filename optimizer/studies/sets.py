"""Scenario sets: one plan (closure and development schedule) chosen across several scenarios.

A set (``scenario_sets:`` in ``instance.yaml`` or in the scenarios file) names
scenarios of the existing format with weights and a criterion (contract v2,
section 8)::

    scenario_sets:
      tariff_risk:
        criterion: expected          # expected | worst_case | max_regret
        scenarios: {base: 0.5, eu_duty_up: 0.2, mexico_duty_up: 0.2, trade_war: 0.1}

The model is the deterministic equivalent, built from the scenarios' own blocks: the
plan columns (z_(p,y), w_(v,s,y)) are shared, every other column and row is copied
per scenario, and the objective is

- ``expected``:   max sum_s pi_s NPV_s;
- ``worst_case``: max t  s.t.  t <= NPV_s for every s;
- ``max_regret``: min r  s.t.  NPV*_s - NPV_s <= r for every s (NPV*_s: each scenario solved alone).

Then: NPV_s of the set's plan per scenario (flows re-optimised), regrets, the value of
the stochastic solution VSS = E[NPV of the set's plan] - E[NPV of the unchanged
instance's optimal plan with flows re-optimised per scenario], and the expected value
of perfect information EVPI = sum_s pi_s NPV*_s - E[NPV of the set's plan].  Under
``worst_case`` and ``max_regret`` the weights are used for VSS/EVPI when they sum to 1,
otherwise equal weights (clarification 10.9).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.instance import Instance, read_yaml
from ..errors import InstanceValidationError, InvalidOptionError, Problem
from .scenarios import BASE, DEFAULT_FILE, apply_scenario, load_scenarios

CRITERIA = ("expected", "worst_case", "max_regret")
SHARED_PLANT_COLUMNS = ("status", "earliest_closure", "closure_year", "headcount", "jobs_cut")
SHARED_SOFTWARE_COLUMNS = ("default", "available_from")
SET_KEYS = ("description", "criterion", "scenarios", "note")


@dataclass(frozen=True)
class ScenarioSet:
    """One scenario set: its scenarios with weights and the criterion."""

    name: str
    criterion: str
    weights: Mapping[str, float]
    description: str = ""
    where: str = "instance.yaml"


@dataclass
class SetResult:
    """The answer of a scenario-set solve (see the module docstring for the figures)."""

    name: str
    criterion: str
    status: Any
    value: float | None
    plan: dict[str, Any] | None
    scenarios: dict[str, dict[str, Any]]
    vss: float | None
    evpi: float | None
    weights_used: dict[str, float]
    notes: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict, repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    message: str = ""
    method: dict[str, Any] = field(default_factory=dict)
    """How the set's model was solved: ``method`` used, ``requested``, ``reason`` and, for
    Benders, the decomposition's rounds, cuts, pieces and timings."""

    def summary(self) -> dict[str, Any]:
        """The ``scenario_set`` block of ``summary.json``."""
        return {"name": self.name, "criterion": self.criterion, "status": str(self.status), "value": self.value,
                "vss": self.vss, "evpi": self.evpi, "weights_used": self.weights_used, "notes": self.notes,
                "scenarios": self.scenarios, "method": self.method}

    def table(self, name: str) -> pd.DataFrame:
        """A result table of every scenario (the set's plan, flows re-optimised), with a ``scenario`` column."""
        frames = [res.table(name).assign(scenario=s) for s, res in self.results.items() if res.status.has_solution]
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        return df[["scenario"] + [c for c in df.columns if c != "scenario"]]

    def write(self, out: str | Path) -> Path:
        """summary.json (with ``scenario_set`` and ``plan``) and the tables with a ``scenario`` column."""
        import json

        from ..results.tables import TABLE_NAMES, YEAR_TABLES

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        first = next((r for r in self.results.values() if r.status.has_solution), None)
        body = {"instance": first.instance if first else "", "status": str(self.status), "objective": self.value,
                "plan": self.plan, "scenario_set": self.summary(), "timings": self.timings, "message": self.message}
        (out / "summary.json").write_text(json.dumps(body, indent=2, default=_json) + "\n")
        if first is not None:
            names = TABLE_NAMES + (YEAR_TABLES if first.multi_year else ())
            for name in names:
                self.table(name).to_csv(out / f"{name}.csv", index=False)
        return out


def _json(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    return str(o)


# --------------------------------------------------------------------------- reading
def _parse_sets(raw: Any, where: str) -> tuple[dict[str, ScenarioSet], list[Problem]]:
    out: dict[str, ScenarioSet] = {}
    problems: list[Problem] = []
    if raw in (None, {}):
        return out, problems
    if not isinstance(raw, Mapping):
        return out, [Problem(where, "'scenario_sets' must be a mapping of name -> {criterion, scenarios}.",
                             column="scenario_sets")]
    for name, body in raw.items():
        col = f"scenario_sets.{name}"
        if not isinstance(body, Mapping):
            problems.append(Problem(where, f"scenario set '{name}' must be a mapping.", column=col,
                                    fix="Give {criterion: expected, scenarios: {name: weight, ...}}."))
            continue
        bad = [k for k in body if k not in SET_KEYS]
        if bad:
            problems.append(Problem(where, f"scenario set '{name}': unknown key(s) {bad}.", column=col,
                                    fix=f"Use: {', '.join(SET_KEYS)}."))
        crit = body.get("criterion", "expected")
        if crit not in CRITERIA:
            problems.append(Problem(where, f"scenario set '{name}': unknown criterion {crit!r}.", column=f"{col}.criterion",
                                    fix=f"Use one of: {', '.join(CRITERIA)}."))
        sc = body.get("scenarios")
        if isinstance(sc, list):
            sc = {str(s): 1.0 for s in sc}
        if not isinstance(sc, Mapping) or not sc:
            problems.append(Problem(where, f"scenario set '{name}': 'scenarios' must map scenario names to weights.",
                                    column=f"{col}.scenarios", fix="e.g. scenarios: {base: 0.5, eu_duty_up: 0.5}"))
            continue
        weights: dict[str, float] = {}
        for s, w in sc.items():
            ok = isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(float(w)) and float(w) >= 0
            if not ok:
                problems.append(Problem(where, f"scenario set '{name}': weight of '{s}' must be a number >= 0 "
                                        f"(got {w!r}).", column=f"{col}.scenarios.{s}"))
                continue
            weights[str(s)] = float(w)
        if crit == "expected" and weights and abs(sum(weights.values()) - 1.0) > 1e-9:
            problems.append(Problem(where, f"scenario set '{name}': probabilities sum to {sum(weights.values()):.6g}, "
                                    "not 1.", column=f"{col}.scenarios",
                                    fix="Make the probabilities of an 'expected' set sum to 1."))
        out[str(name)] = ScenarioSet(str(name), str(crit), weights, str(body.get("description") or ""), where)
    return out, problems


def load_scenario_sets(inst: Instance, file: str | Path | None = None) -> dict[str, ScenarioSet]:
    """Every scenario set of ``inst``: ``scenario_sets:`` of instance.yaml and of the scenarios file."""
    sets, problems = _parse_sets(getattr(inst.settings, "scenario_sets", {}), "instance.yaml")
    path = Path(file) if file is not None else (inst.path / DEFAULT_FILE if inst.path is not None else None)
    if path is not None and path.is_file():
        more, p2 = _parse_sets(read_yaml(path).get("scenario_sets"), str(path))
        problems += p2
        for k in sorted(set(sets) & set(more)):
            problems.append(Problem(str(path), f"scenario set '{k}' is also defined in instance.yaml.",
                                    column=f"scenario_sets.{k}", fix="Define each set in one place."))
        sets.update(more)
    if problems:
        raise InstanceValidationError(problems, instance=inst.name)
    return sets


def _shared_changes(base: Instance, inst: Instance) -> list[str]:
    """What scenario ``inst`` changes that the plan shares (spec section 8), as text; empty = nothing."""
    out: list[str] = []
    bs, ss = base.settings.model_dump(), inst.settings.model_dump()
    for k in bs:
        if k in ("tables", "scenarios", "scenario_sets", "name", "description", "sources", "metadata"):
            continue
        if bs[k] != ss.get(k):
            out.append(f"setting {k} ({bs[k]!r} -> {ss.get(k)!r})")
    for table, key, cols in (("plants", ["plant"], SHARED_PLANT_COLUMNS),
                             ("software", ["model", "stack"], SHARED_SOFTWARE_COLUMNS)):
        a, b = base.tables[table], inst.tables[table]
        ka = set(map(tuple, a[key].astype(str).to_numpy().tolist()))
        kb = set(map(tuple, b[key].astype(str).to_numpy().tolist()))
        if ka != kb:
            out.append(f"rows of '{table}' added or removed ({sorted(ka ^ kb)[:5]})")
            continue
        ia, ib = a.set_index(key).sort_index(), b.set_index(key).sort_index()
        for c in cols:
            if c in ia and c in ib:
                x, y = ia[c], ib[c].reindex(ia.index)
                diff = ~((x == y) | (x.isna() & y.isna()))
                if diff.any():
                    out.append(f"{table}.{c} of {', '.join(map(str, ia.index[diff.to_numpy()][:5]))}")
    return out


# --------------------------------------------------------------------------- the model
def _combine(parts: list[tuple[str, float, Any]], criterion: str, optimum: dict[str, float] | None) -> tuple[Any, dict]:
    """The deterministic equivalent of the scenarios' built models (see the module docstring).

    Returns the combined blocks and, per scenario, the map from its columns to the combined ones.
    """
    from ..models import Blocks
    from ..models.blocks import add_year_order
    from ..models.software import development_coefficients

    first = parts[0][2].blocks
    mb = Blocks(name="scenario_set")
    z0 = first.vars["z"]
    z = mb.add_vars("z", z0.labels, z0.lower, z0.upper, True, z0.description)
    wl = pd.concat([p[2].blocks.vars["w"].labels.assign(
        _ub=p[2].blocks.vars["w"].upper) for p in parts], ignore_index=True)
    wl = wl.groupby(["model", "stack", "year"], as_index=False, sort=True)["_ub"].max()
    w = mb.add_vars("w", wl[["model", "stack", "year"]], 0.0, wl["_ub"].to_numpy(float), True, "stack developed")
    t = None
    if criterion in ("worst_case", "max_regret"):
        t = mb.add_vars("t", pd.DataFrame({"criterion": [criterion]}), -np.inf if criterion == "worst_case" else 0.0,
                        np.inf, False, "worst NPV" if criterion == "worst_case" else "largest regret")
    maps: dict[str, np.ndarray] = {}
    for name, weight, built in parts:
        sb = built.blocks
        if not (sb.vars["z"].labels.equals(z0.labels) and np.array_equal(sb.vars["z"].lower, z0.lower)
                and np.array_equal(sb.vars["z"].upper, z0.upper)):
            msg = f"scenario '{name}' changes which plants can close when (not allowed in a scenario set)"
            raise InstanceValidationError([Problem("scenario set", msg)])
        cmap = np.empty(sb.n_cols, dtype=np.int64)
        for fam, vb in sb.vars.items():
            if fam == "z":
                cmap[vb.cols] = z.cols
            elif fam == "w":
                cmap[vb.cols] = w.col(vb.labels)
            else:
                nv = mb.add_vars(f"{fam}[{name}]", vb.labels.assign(scenario=name), vb.lower, vb.upper, vb.integer,
                                 vb.description)
                cmap[vb.cols] = nv.cols
        for fam, cb in sb.cons.items():
            mb.add_cons(f"{fam}[{name}]", cb.labels.assign(scenario=name), cb.row, cmap[cb.col], cb.val, cb.lower,
                        cb.upper, cb.description)
        cols = [cmap[c.col] for c in sb.costs if c.name != "development"]
        coefs = [c.coef for c in sb.costs if c.name != "development"]
        cols.append(w.cols)
        coefs.append(development_coefficients(built.data, w.labels))
        const = float(sum(c.constant for c in sb.costs))
        col, coef = np.concatenate(cols), np.concatenate(coefs)
        if t is None:
            mb.add_cost(f"npv[{name}]", col, weight * coef, weight * const)
        else:
            sign = -1.0 if criterion == "worst_case" else 1.0
            row = np.zeros(len(col) + 1, dtype=np.int64)
            lab = pd.DataFrame({"scenario": [name]})
            allc = np.append(col, t.cols[0])
            if criterion == "worst_case":  # t - NPV_s <= 0
                mb.add_cons(f"worst[{name}]", lab, row, allc, np.append(sign * coef, 1.0), -np.inf, const)
            else:  # NPV_s + r >= NPV*_s
                mb.add_cons(f"regret[{name}]", lab, row, allc, np.append(coef, 1.0),
                            float(optimum[name]) - const, np.inf)
        maps[name] = cmap
    if t is not None:
        mb.add_cost("criterion", t.cols, np.array([1.0 if criterion == "worst_case" else -1.0]))
    add_year_order(mb, "development_order", w, len(parts[0][2].data.years), increasing=True)
    mb.notes = [f"{name}: {n}" for name, _, b in parts for n in b.blocks.notes]
    return mb, maps


def _fix_plan(built: Any, plan: Mapping[str, Any]) -> bool:
    """Fix z and w of ``built`` to ``plan``; False if the plan contradicts the model's fixed bounds."""
    z = built.blocks.vars["z"]
    cy = z.labels["plant"].map(plan["closures"])
    closed = cy.notna().to_numpy() & (z.labels["year"].to_numpy() >= cy.fillna(np.inf).to_numpy(float))
    val = np.where(closed, 0.0, 1.0)
    if ((val < z.lower) | (val > z.upper)).any():
        return False
    z.lower[:] = val
    z.upper[:] = val
    w = built.blocks.vars["w"]
    if w.size:
        key = w.labels["model"] + "/" + w.labels["stack"]
        dy = key.map(plan["developments"])
        wv = np.where(dy.notna().to_numpy() & (w.labels["year"].to_numpy() >= dy.fillna(np.inf).to_numpy(float)),
                      1.0, 0.0)
        if (wv > w.upper).any():
            return False
        w.lower[:] = wv
        w.upper[:] = wv
    return True


def _plan_dev_cost(built: Any, plan: Mapping[str, Any]) -> float:
    """Development cost of stacks the plan develops that have no column in this scenario (none of its flows use them)."""
    data = built.data
    have = set(zip(built.blocks.vars["w"].labels["model"], built.blocks.vars["w"].labels["stack"]))
    dev = data.stacks.set_index(["model", "stack"])["dev_cost"]
    total = 0.0
    years = list(data.years)
    for key, y in plan["developments"].items():
        if y is None:
            continue
        v, s = key.split("/", 1)
        if (v, s) not in have and (v, s) in dev.index:
            total += float(dev[(v, s)]) * float(data.oneoff[years.index(y)] if y in years else 1.0)
    return total


def solve_set(source: str | Path | Instance, name: str, *, scenarios_file: str | Path | None = None,
              time_limit: float | None = None, mip_gap: float | None = None, threads: int | None = None,
              seed: int | None = None, build_options: Any = None, method: str | None = None,
              benders: Any = None) -> SetResult:
    """Choose one plan across the scenarios of set ``name`` (contract v2, section 8); see :class:`SetResult`.

    ``method`` (``auto`` | ``monolithic`` | ``benders``; ``None`` = the instance's ``solver.method``) and ``benders``
    (:class:`~optimizer.BendersOptions`) as in :func:`optimizer.solve`, for the set's model
    and for the per-scenario solves; see :func:`solve_instances`.
    """
    from ..api import load

    inst = source if isinstance(source, Instance) else load(source)
    sets = load_scenario_sets(inst, scenarios_file)
    if name not in sets:
        raise InstanceValidationError([Problem("scenario_sets", f"unknown scenario set '{name}'.", column=name,
                                               fix=f"Use one of: {', '.join(sets) or '(none defined)'}.")],
                                      instance=inst.name)
    ss = sets[name]
    catalogue = load_scenarios(inst, scenarios_file)
    problems: list[Problem] = []
    applied: dict[str, Any] = {}
    for s in ss.weights:
        if s != BASE and s not in catalogue:
            problems.append(Problem(ss.where, f"scenario set '{name}' names unknown scenario '{s}'.",
                                    column=f"scenario_sets.{name}.scenarios.{s}",
                                    fix=f"Use one of: base, {', '.join(catalogue)}."))
            continue
        a = apply_scenario(inst, s, catalogue)
        why = _shared_changes(inst, a.instance)
        if a.fix_software:
            why.append("fix_software")
        if why:
            problems.append(Problem(ss.where, f"scenario '{s}' in set '{name}' changes what the plan shares: "
                                    + "; ".join(why) + ".", column=f"scenario_sets.{name}.scenarios.{s}",
                                    fix="Scenarios of a set may change table values and rows other than plants and "
                                        "software, not the plan's structure or the settings."))
            continue
        applied[s] = a
    if problems:
        raise InstanceValidationError(problems, instance=inst.name)
    return solve_instances(inst, {s: a.instance for s, a in applied.items()}, ss.criterion, dict(ss.weights),
                           name=name, time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed,
                           build_options=build_options, method=method, benders=benders)


def solve_instances(inst: Instance, scenarios: Mapping[str, Instance], criterion: str,
                    weights: Mapping[str, float] | None = None, *, name: str = "set", time_limit: float | None = None,
                    mip_gap: float | None = None, threads: int | None = None, seed: int | None = None,
                    build_options: Any = None, method: str | None = None, benders: Any = None) -> SetResult:
    """The scenario-set solve on explicit scenario instances (``inst`` is the unchanged instance, for the VSS).

    ``weights`` are the probabilities (``expected``) or the weights used for VSS and
    EVPI when they sum to 1 (otherwise, or when ``None``, equal weights).

    The set's model (the deterministic equivalent) is solved as one MIP or by Benders
    decomposition (:mod:`optimizer.solver.benders`): the shared plan is the master and the
    flow LP splits by scenario and year, so each round solves one piece per (scenario, year)
    (in a thread pool or on a Dask cluster with ``benders``).  ``auto`` takes Benders from
    ``BENDERS_AUTO_MIN_FLOWS`` flow-years summed over the scenarios, as for one instance.
    Under ``worst_case`` and ``max_regret`` the criterion variable links the scenarios, which
    then form one piece per year.  The scenarios are built with the valid inequalities unless
    the method is ``monolithic`` or ``build_options`` turns them off.
    """
    from ..api import METHODS, build, solve
    from ..results.tables import extract_tables
    from ..solver.highs import SolveOptions, Status

    method = inst.settings.solver.method if method is None else method
    if method not in METHODS:
        raise InvalidOptionError(f"unknown method '{method}'; use one of {', '.join(METHODS)}")
    build_options = _set_options(build_options, method)

    t0 = time.perf_counter()
    s0 = inst.settings.solver
    opts = SolveOptions(time_limit=s0.time_limit_s if time_limit is None else time_limit,
                        mip_gap=s0.mip_rel_gap if mip_gap is None else mip_gap,
                        threads=s0.threads if threads is None else threads, seed=s0.seed if seed is None else seed)
    kw = dict(time_limit=opts.time_limit, mip_gap=opts.mip_gap, threads=opts.threads, seed=opts.seed,
              method=method, benders=benders)
    names = list(scenarios)
    given = dict(weights or {})
    if criterion == "expected" or (given and abs(sum(given.values()) - 1.0) <= 1e-9):
        weights = {s: float(given.get(s, 0.0)) for s in names}
    else:
        weights = {s: 1.0 / len(names) for s in names}
    ss = ScenarioSet(name, criterion, weights)
    notes: list[str] = []

    optimum: dict[str, float] = {}
    proven: dict[str, bool] = {}
    for s in names:
        r = solve(build(scenarios[s], build_options), **kw)
        if not r.status.has_solution:
            return SetResult(name, ss.criterion, r.status, None, None, {s: {"probability": weights[s], "npv": None}},
                             None, None, weights, [f"scenario '{s}' alone is {r.status}: {r.message}"],
                             message=f"scenario '{s}' has no feasible plan on its own ({r.status})")
        optimum[s] = float(r.objective)
        proven[s] = r.status is Status.OPTIMAL
        if not proven[s]:
            notes.append(f"NPV*_{s} not proven optimal (gap {r.gap}): its regret is a bound")

    def operate(plan: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """Each scenario's result with ``plan`` fixed and its flows re-optimised (None + why if it cannot run)."""
        got: dict[str, Any] = {}
        for s in names:
            b = build(scenarios[s], build_options)
            if not _fix_plan(b, plan):
                return None, f"the plan contradicts scenario '{s}'"
            r = solve(b, **kw)
            if not r.status.has_solution:
                return None, f"the plan cannot be operated in scenario '{s}' ({r.status})"
            r.scenario = s
            got[s] = (r, float(r.objective) - _plan_dev_cost(b, plan))
        return got, ""

    # the unchanged instance's optimal plan: for the VSS, and (when it runs everywhere) as the MIP start
    base_res = solve(build(inst, build_options), **kw)
    base_ops, base_why = operate(base_res.plan) if base_res.status.has_solution else (None, "")
    parts = [(s, weights.get(s, 0.0) if ss.criterion == "expected" else 1.0, build(scenarios[s], build_options))
             for s in names]
    mb, maps = _combine(parts, ss.criterion, optimum)
    if mb.notes:
        return SetResult(name, ss.criterion, Status.INFEASIBLE, None, None, {}, None, None, weights, list(mb.notes),
                         message="; ".join(mb.notes))
    start = None
    if base_ops is not None:
        start = np.full(mb.n_cols, np.nan)
        for s in names:
            sol_s = base_ops[s][0].report.solution
            if sol_s is not None and len(sol_s) == len(maps[s]):
                start[maps[s]] = sol_s
        if "t" in mb.vars:
            npv_b = [base_ops[s][1] for s in names]
            tv = min(npv_b) if ss.criterion == "worst_case" else max(optimum[s] - base_ops[s][1] for s in names)
            start[mb.vars["t"].cols[0]] = tv - 1e-7 * max(1.0, abs(tv)) if ss.criterion == "worst_case" else \
                tv + 1e-7 * max(1.0, abs(tv))
    n_flows = sum(p[2].data.n_flows for p in parts)
    rep, how = _solve_set_model(mb, opts, start, method, benders, n_flows)
    if not rep.has_solution:
        return SetResult(name, ss.criterion, rep.status, None, None, {}, None, None, weights, notes,
                         message=rep.message or f"the scenario set has no plan ({rep.status})", method=how)
    sol = rep.solution
    first = parts[0][2]
    plan = extract_tables(first.blocks, first.data, sol[maps[names[0]]])["plan"]
    w = mb.vars["w"]
    if w.size:
        n = len(first.data.years)
        wv = sol[w.cols].reshape(-1, n)
        keys = w.labels[["model", "stack"]].iloc[::n]
        for (v, s_), row in zip(keys.itertuples(index=False, name=None), wv):
            hit = row > 0.5
            plan["developments"][f"{v}/{s_}"] = int(first.data.years[np.argmax(hit)]) if hit.any() else None
    ops, why = operate(plan)
    if ops is None:  # cannot happen for a plan the set model found feasible; reported rather than hidden
        return SetResult(name, ss.criterion, Status.ERROR, None, plan, {}, None, None, weights, notes + [why],
                         message=why)
    results = {s: ops[s][0] for s in names}
    per: dict[str, dict[str, Any]] = {
        s: {"probability": weights.get(s, 0.0), "npv": ops[s][1], "optimum": optimum[s], "optimum_proven": proven[s],
            "regret": optimum[s] - ops[s][1]} for s in names}
    npvs = {s: per[s]["npv"] for s in names}
    if ss.criterion == "expected":
        value = sum(weights[s] * npvs[s] for s in names)
    elif ss.criterion == "worst_case":
        value = min(npvs.values())
    else:
        value = max(per[s]["regret"] for s in names)
    e_plan = sum(weights[s] * npvs[s] for s in names)
    evpi = sum(weights[s] * optimum[s] for s in names) - e_plan
    vss = None
    if not base_res.status.has_solution:
        notes.append(f"VSS is null: the unchanged instance is {base_res.status}")
    elif base_ops is None:
        notes.append(f"VSS is null: the unchanged instance's optimal plan cannot be used: {base_why}")
    else:
        vss = e_plan - sum(weights[s] * base_ops[s][1] for s in names)
    if rep.status is not Status.OPTIMAL:
        notes.append(f"the set's plan is not proven optimal ({rep.status}, gap {rep.gap})")
    return SetResult(name, ss.criterion, rep.status, float(value), plan, per, vss, evpi, weights, notes, results,
                     {"total": time.perf_counter() - t0, "set_solve": rep.solver_seconds}, method=how)


def _set_options(build_options: Any, method: str) -> Any:
    """The scenarios' build options: valid inequalities on for a decomposition unless turned off explicitly."""
    from dataclasses import replace

    from ..models import BuildOptions

    bo = build_options if build_options is not None else BuildOptions()
    if method != "monolithic" and bo.valid_inequalities is None:
        return replace(bo, valid_inequalities=True)
    return bo


def _solve_set_model(mb: Any, opts: Any, start: np.ndarray | None, method: str, benders: Any,
                     n_flows: int) -> tuple[Any, dict[str, Any]]:
    """Solve the set's model by ``method``; the report and how it was solved (for ``SetResult.method``)."""
    from dataclasses import replace

    from ..api import choose_method_for_blocks
    from ..solver.highs import solve_blocks

    used, why = choose_method_for_blocks(mb, n_flows, method)
    info = {"method": used, "requested": method, "reason": why}
    if used == "benders":
        from ..solver.benders import solve_benders

        rep = solve_benders(mb, opts, start, benders)
        return rep, info | dict(rep.decomposition) | {"requested": method}
    return replace(solve_blocks(mb, opts, start), method="monolithic"), info
