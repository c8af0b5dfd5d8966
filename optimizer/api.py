"""The Python entry points: load, validate, build, solve."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data.instance import Instance
from .data.prepare import ModelData, prepare
from .data.validate import load_checked, validate
from .errors import InvalidOptionError, Problem
from .models import Blocks, BuildOptions, build_model, to_pyomo
from .results.tables import Result, context_of, extract_tables
from .solver.highs import SolveOptions, SolveProgress, SolveReport, Status, check_options, solve_blocks, solve_model

if TYPE_CHECKING:
    from .solver.benders import BendersOptions

log = logging.getLogger(__name__)


def load(path: str | Path) -> Instance:
    """Read, type-check and cross-check an instance folder (or its ``instance.yaml``).

    Raises :class:`~optimizer.InstanceError` listing every problem found.
    """
    t0 = time.perf_counter()
    inst, _ = load_checked(path)
    return inst.replace(load_seconds=time.perf_counter() - t0)


@dataclass
class BuiltModel:
    """A built model ready to solve.

    ``blocks`` is the model as arrays (what the default path hands to HiGHS).
    ``model`` is the Pyomo ``ConcreteModel`` of the same blocks, made the first time
    it is accessed: variables ``x[p, v, s, m]`` (flows), ``z[p]`` (plant open),
    ``w[v, s]`` (stack developed), ``a[p, v, m]`` (sourcing), ``q[p, v, s, m]``
    (in-quota units), with the year appended in a multi-year plan (``x[p, v, s, m, y]``,
    ``z[p, y]``, ...), one constraint component per family.  Add components to it and
    :func:`solve` goes through Pyomo's standard form and includes them; a model never
    touched is solved by the fast path.
    """

    instance: Instance
    data: ModelData
    blocks: Blocks
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    _pyomo: Any = field(default=None, repr=False)
    _columns: list[Any] = field(default_factory=list, repr=False)

    @property
    def model(self) -> Any:
        """The Pyomo model (made on first access; from then on solves go through Pyomo)."""
        if self._pyomo is None:
            t0 = time.perf_counter()
            self._pyomo, self._columns = to_pyomo(self.blocks, self.data.multi_year)
            self.timings["pyomo"] = time.perf_counter() - t0
        return self._pyomo

    @property
    def uses_pyomo(self) -> bool:
        """True once the Pyomo model exists (the solve then goes through it)."""
        return self._pyomo is not None

    def flow_index(self, plant: str, model: str, stack: str, market: str, year: int | None = None) -> int:
        """Position f of flow (plant, model, stack, market[, year]) in ``data.flows``; KeyError if it does not exist."""
        fl = self.data.flows
        hit = (fl["plant"] == plant) & (fl["model"] == model) & (fl["stack"] == stack) & (fl["market"] == market)
        if year is not None:
            hit &= fl["year"] == year
        idx = fl.index[hit]
        if len(idx) == 0:
            raise KeyError((plant, model, stack, market) + (() if year is None else (year,)))
        return int(idx[0])

    def fix(self, family: str, key: tuple[Any, ...] | str, value: float) -> None:
        """Fix variable(s) of ``family`` (``z``, ``w``, ...) whose labels start with ``key`` to ``value``.

        ``fix("w", ("N7", "global"), 1)`` develops that stack from the first year on;
        ``fix("z", "Oppama", 1)`` keeps the plant open in every year.
        """
        vb = self.blocks.vars[family]
        key = (key,) if not isinstance(key, tuple) else key
        cols = list(vb.labels.columns)[: len(key)]
        hit = np.ones(vb.size, dtype=bool)
        for c, k in zip(cols, key):
            hit &= (vb.labels[c] == k).to_numpy()
        if not hit.any():
            raise KeyError((family,) + key)
        vb.lower[hit] = value
        vb.upper[hit] = value
        if self._pyomo is not None:
            for j in np.flatnonzero(hit) + vb.offset:
                self._columns[j].setlb(value)
                self._columns[j].setub(value)

    def has(self, family: str, key: tuple[Any, ...]) -> bool:
        """Whether ``family`` has a variable whose labels start with ``key``."""
        vb = self.blocks.vars.get(family)
        if vb is None or vb.size == 0:
            return False
        hit = np.ones(vb.size, dtype=bool)
        for c, k in zip(list(vb.labels.columns), key):
            hit &= (vb.labels[c] == k).to_numpy()
        return bool(hit.any())


def build(source: str | Path | Instance, options: BuildOptions | None = None) -> BuiltModel:
    """Load (if needed), validate, prepare the sparse data and build the model's blocks."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if isinstance(source, Instance):
        inst = source
        timings["load"] = 0.0
        t1 = time.perf_counter()
        warnings = validate(inst)
    else:
        inst, warnings = load_checked(source)  # both stages, reported together; validated once
        timings["load"] = inst.load_seconds
        t1 = t0 + inst.load_seconds
    data = prepare(inst)
    data.warnings = warnings
    timings["validate"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    mb = build_model(data, options)
    timings["build"] = time.perf_counter() - t2
    for w in warnings:
        log.warning("%s", w)
    return BuiltModel(instance=inst, data=data, blocks=mb, timings=timings, warnings=warnings)


def _start_vector(built: BuiltModel, start: Result | Mapping[str, bool]) -> np.ndarray:
    """A MIP start by column (NaN = unknown): a previous Result (full plan) or {plant: kept} (partial)."""
    mb, data = built.blocks, built.data
    vec = np.full(mb.n_cols, np.nan)
    z = mb.vars["z"]
    if isinstance(start, Result):
        start.raise_for_status()
        x = mb.vars["x"]
        fl = start.flows
        keys = [c for c in x.labels.columns if c in fl.columns]
        units = x.col(fl[keys].assign(**({"year": 0} if "year" not in fl else {}))) if len(fl) else np.zeros(0, int)
        vec[x.cols] = 0.0
        ok = units >= 0
        vec[units[ok]] = fl["units"].to_numpy(float)[ok]
        closures = start.plan["closures"]
        zl = z.labels
        cy = zl["plant"].map(closures)
        closed = cy.notna().to_numpy() & (zl["year"].to_numpy() >= cy.fillna(np.inf).to_numpy(float))
        known = zl["plant"].isin(list(closures)).to_numpy()
        vec[z.cols[known]] = np.where(closed[known], 0.0, 1.0)
        w = mb.vars["w"]
        if w.size:
            dev = start.plan["developments"]
            key = w.labels["model"] + "/" + w.labels["stack"]
            dy = key.map(dev)
            vec[w.cols] = np.where(dy.notna().to_numpy() & (w.labels["year"].to_numpy() >= dy.fillna(np.inf).to_numpy(float)),
                                   1.0, 0.0)
        return vec
    kept = dict(start)
    unknown = set(kept) - set(data.plants.index)
    if unknown:
        msg = f"MIP start names unknown plants {sorted(unknown)}"
        raise InvalidOptionError(msg)
    sel = z.labels["plant"].isin(list(kept)).to_numpy()
    vec[z.cols[sel]] = z.labels["plant"][sel].map(lambda p: 1.0 if kept[p] else 0.0).to_numpy(float)
    return vec


def solve(
    source: str | Path | Instance | BuiltModel,
    *,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    threads: int | None = None,
    seed: int | None = None,
    mip_start: Result | Mapping[str, bool] | None = None,
    interface: str = "direct",
    build_options: BuildOptions | None = None,
    log_solver: bool = False,
    progress: Callable[[SolveProgress], None] | None = None,
    method: str | None = None,
    diagnose: bool = True,
    benders: BendersOptions | None = None,
) -> Result:
    """Solve an instance (path, :class:`Instance` or :class:`BuiltModel`) and return a :class:`Result`.

    Options left as ``None`` take the instance's ``solver`` settings.  The result's
    ``status`` says whether a solution exists; input mistakes raise
    :class:`~optimizer.InstanceError`, options out of range :class:`~optimizer.InvalidOptionError`.
    ``progress`` is called with a :class:`SolveProgress` during a MIP solve (direct interface).
    Ctrl-C during the solve stops HiGHS: the result then holds the incumbent (status
    ``feasible``, termination ``interrupted``) or none.

    ``method``: ``"monolithic"`` (one HiGHS MIP), ``"benders"`` (decomposition,
    :mod:`optimizer.solver.benders`; models it does not accept, e.g. single sourcing,
    are solved monolithically and the reason is recorded) or ``"auto"`` (see
    :func:`choose_method`); ``None`` = the instance's ``solver.method``.
    ``benders``: tuning of the decomposition (:class:`~optimizer.BendersOptions`: subproblem
    pieces in a thread pool with ``workers``, or on a Dask cluster with ``scheduler``).
    An infeasible solve carries ``Result.diagnosis`` (the written rules that have to give, see
    :mod:`optimizer.studies.diagnose`) unless ``diagnose=False``.
    """
    t_start = time.perf_counter()
    check_options(SolveOptions(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed))
    if interface not in ("direct", "pyomo"):
        msg = f"unknown interface '{interface}'; use 'direct' or 'pyomo'"
        raise InvalidOptionError(msg)
    built = source if isinstance(source, BuiltModel) else build(source, build_options)
    timings = dict(built.timings)
    s = built.instance.settings.solver
    opts = SolveOptions(
        time_limit=s.time_limit_s if time_limit is None else time_limit,
        mip_gap=s.mip_rel_gap if mip_gap is None else mip_gap,
        threads=s.threads if threads is None else threads,
        seed=s.seed if seed is None else seed,
        interface=interface,  # type: ignore[arg-type]
        log=log_solver,
        progress=progress,
    )
    method = s.method if method is None else method
    if method not in METHODS:
        msg = f"unknown method '{method}'; use one of {', '.join(METHODS)}"
        raise ValueError(msg)
    start = _start_vector(built, mip_start) if mip_start is not None else None
    mb, data = built.blocks, built.data
    name = built.instance.name
    if mb.notes:
        msg = "; ".join(mb.notes)
        timings.update(transfer=0.0, solve=0.0, extract=0.0, total=time.perf_counter() - t_start)
        res = Result(Status.INFEASIBLE, None, None, None, None, timings, instance=name, message=msg,
                     warnings=built.warnings, context=context_of(built.instance, data.annuity))
        if diagnose:
            res.diagnosis = _diagnosis(built, opts)
        return res
    report: SolveReport = _solve_built(built, opts, start, method, benders)
    if "pyomo" in built.timings:  # the Pyomo model, made on demand (before the solve or by it)
        timings["pyomo"] = built.timings["pyomo"]
    if report.import_seconds > 0.05:
        timings["import"] = report.import_seconds
    timings["transfer"] = report.transfer_seconds
    timings["solve"] = report.solver_seconds
    t3 = time.perf_counter()
    tables = extract_tables(mb, data, report.solution) if report.has_solution else {}
    timings["extract"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t_start
    message = report.message
    if report.status is Status.FEASIBLE and not message and report.gap is not None:
        message = f"stopped ({report.termination.value}) with a feasible plan; gap {report.gap:.3%}"
    res = Result(report.status, report.objective, report.bound, report.gap, report, timings, instance=name,
                 message=message, warnings=built.warnings, sizes=report.sizes, _tables=tables,
                 context=context_of(built.instance, data.annuity))
    if diagnose and report.status is Status.INFEASIBLE and not built.uses_pyomo:
        t4 = time.perf_counter()
        res.diagnosis = _diagnosis(built, opts)
        timings["diagnose"] = time.perf_counter() - t4
    return res


def _diagnosis(built: BuiltModel, opts: SolveOptions) -> list[dict[str, Any]] | None:
    """The written rules that have to give (an elastic re-solve, at most 20 s); ``None`` if it fails."""
    from .studies.diagnose import TIME_LIMIT, diagnose_built

    try:
        limit = TIME_LIMIT if opts.time_limit is None else min(TIME_LIMIT, opts.time_limit)
        return diagnose_built(built, time_limit=limit, threads=opts.threads).items
    except Exception as exc:  # the diagnosis is a courtesy: never lose the solve's result to it
        log.warning("could not diagnose the infeasibility: %s", exc)
        return None


METHODS = ("auto", "monolithic", "benders")
"""Solve methods (``solve(method=...)``, ``--method``, ``solver.method``)."""

BENDERS_AUTO_MIN_FLOWS = 5_000
"""``method="auto"`` uses the decomposition from this many flow-years on (benchmarks/results/benders.md)."""


def choose_method(built: BuiltModel, method: str, interface: str = "direct") -> tuple[str, str]:
    """(method used, why) for a requested ``method``.

    The decomposition needs the fast path (no Pyomo model) and a model it accepts
    (:func:`optimizer.solver.benders.not_applicable`: no single sourcing, ...).  ``auto``
    picks it from ``BENDERS_AUTO_MIN_FLOWS`` flow-years on, the monolithic model below:
    on the measured small and medium instances one HiGHS MIP is faster.
    """
    if method != "monolithic" and (interface == "pyomo" or built.uses_pyomo):
        return "monolithic", "the model goes through Pyomo (user components are not split into master and subproblem)"
    return choose_method_for_blocks(built.blocks, built.data.n_flows, method)


def choose_method_for_blocks(mb: Blocks, n_flows: int, method: str) -> tuple[str, str]:
    """(method used, why) for blocks of ``n_flows`` flow-years (the rule of :func:`choose_method`)."""
    if method == "monolithic":
        return "monolithic", "requested"
    from .solver.benders import not_applicable

    why = not_applicable(mb)
    if why is not None:
        return "monolithic", why
    if method == "auto":
        if n_flows < BENDERS_AUTO_MIN_FLOWS:
            return "monolithic", f"auto: {n_flows:,} flow-years < {BENDERS_AUTO_MIN_FLOWS:,}"
        return "benders", f"auto: {n_flows:,} flow-years >= {BENDERS_AUTO_MIN_FLOWS:,}"
    return "benders", "requested"


def _solve_built(built: BuiltModel, opts: SolveOptions, start: np.ndarray | None,
                 method: str = "monolithic", benders: BendersOptions | None = None) -> SolveReport:
    """The fast path for untouched models, Pyomo's route once the Pyomo model exists (or when asked for);
    the decomposition when ``method`` asks for it and the model allows it."""
    from dataclasses import replace as _replace

    used, why = choose_method(built, method, opts.interface)
    info = {"method": used, "requested": method, "reason": why}
    if used == "benders":
        from .solver.benders import solve_benders

        mb, added = _with_valid_inequalities(built)
        rep = solve_benders(mb, opts, start, benders)
        extra = {"requested": method, "valid_inequalities_added": added}
        return _replace(rep, decomposition=extra | rep.decomposition)
    return _replace(_solve_monolithic(built, opts, start), method="monolithic", decomposition=info)


def _with_valid_inequalities(built: BuiltModel) -> tuple[Blocks, bool]:
    """The blocks with the valid inequalities sum_s x <= U z (a copy with them added if the build left them out).

    The decomposition needs them: in the subproblem they become column bounds x <= U z, so the
    cuts price every flow's z; without them (the default build above 5,000 flow-years) gen_10k
    was not proven in 60 s by Benders (45 rounds), with them in 4.7 s (benchmarks/results/benders.md).
    Only rows are added, so solution vectors index the same columns as ``built.blocks``.
    """
    from dataclasses import replace as _replace

    from .models.flows import add_valid_inequalities

    mb = built.blocks
    if "flow_open" in mb.cons:
        return mb, False
    copy = _replace(mb, cons=dict(mb.cons), notes=list(mb.notes))
    add_valid_inequalities(copy, built.data)
    return copy, "flow_open" in copy.cons


def _solve_monolithic(built: BuiltModel, opts: SolveOptions, start: np.ndarray | None) -> SolveReport:
    if opts.interface == "pyomo" or built.uses_pyomo:
        m, cols = built.model, built._columns
        if start is not None:
            for j in np.flatnonzero(~np.isnan(start)).tolist():
                cols[j].set_value(float(start[j]), skip_validation=True)
        report = solve_model(m, opts)
        if report.has_solution:
            sol = np.array([0.0 if v.value is None else float(v.value) for v in cols])
            from dataclasses import replace

            report = replace(report, solution=sol)
        return report
    return solve_blocks(built.blocks, opts, start)
