"""The Python entry points: load, validate, build, solve."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyomo.environ as pyo

from .models import BuildOptions, build_model

from .errors import InvalidOptionError, Problem
from .data.instance import Instance
from .data.prepare import ModelData, prepare
from .results.tables import Result, extract_tables
from .solver.highs import SolveOptions, SolveProgress, SolveReport, Status, check_options, solve_model
from .data.validate import load_checked, validate

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
    """A built model ready to solve, for users who add their own components.

    ``model`` is the Pyomo ``ConcreteModel``: variables ``x[f]`` (flow f = row f of
    ``data.flows``), ``z[p]``, ``w[v, s]``, ``a[p, v, m]``; add constraints to it, then
    pass this object to :func:`solve`.
    """

    instance: Instance
    data: ModelData
    model: pyo.ConcreteModel
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def flow_index(self, plant: str, model: str, stack: str, market: str) -> int:
        """Position f of flow (plant, model, stack, market), i.e. ``model.x[f]``; KeyError if it does not exist."""
        fl = self.data.flows
        hit = fl.index[(fl["plant"] == plant) & (fl["model"] == model) & (fl["stack"] == stack) & (fl["market"] == market)]
        if len(hit) == 0:
            raise KeyError((plant, model, stack, market))
        return int(hit[0])


def build(source: str | Path | Instance, options: BuildOptions | None = None) -> BuiltModel:
    """Load (if needed), validate, prepare the sparse data and build the Pyomo model."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if isinstance(source, Instance):
        inst = source
        timings["load"] = 0.0
    else:
        inst, _ = load_checked(source)  # both stages reported together
        timings["load"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    warnings = validate(inst)
    data = prepare(inst)
    data.warnings = warnings
    timings["validate"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    m = build_model(data, options)
    timings["build"] = time.perf_counter() - t2
    for w in warnings:
        log.warning("%s", w)
    return BuiltModel(instance=inst, data=data, model=m, timings=timings, warnings=warnings)


def _set_mip_start(built: BuiltModel, start: Result | Mapping[str, bool]) -> None:
    """Give HiGHS a known plan: a previous Result (full plan) or {plant: kept} (partial)."""
    m, data = built.model, built.data
    if isinstance(start, Result):
        start.raise_for_status()
        kept = dict(zip(start.plants["plant"], start.plants["kept"]))
        units = {(r.plant, r.model, r.stack, r.market): r.units for r in start.flows.itertuples()}
        fl = data.flows
        for i, key in enumerate(zip(fl["plant"], fl["model"], fl["stack"], fl["market"])):
            m.x[i].set_value(float(units.get(key, 0.0)))
        dev = {(r.model, r.stack) for r in start.software.itertuples() if r.developed}
        for k in m.W:
            m.w[k].set_value(1.0 if k in dev else 0.0)
    else:
        kept = dict(start)
    unknown = set(kept) - set(m.P)
    if unknown:
        msg = f"MIP start names unknown plants {sorted(unknown)}"
        raise InvalidOptionError(msg)
    for p, k in kept.items():
        if not m.z[p].fixed:
            m.z[p].set_value(1.0 if k else 0.0)


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
) -> Result:
    """Solve an instance (path, :class:`Instance` or :class:`BuiltModel`) and return a :class:`Result`.

    Options left as ``None`` take the instance's ``solver`` settings.  The result's
    ``status`` says whether a solution exists; input mistakes raise
    :class:`~optimizer.InstanceError`, options out of range :class:`~optimizer.InvalidOptionError`.
    ``progress`` is called with a :class:`SolveProgress` during a MIP solve (direct interface).
    Ctrl-C during the solve stops HiGHS: the result then holds the incumbent (status
    ``feasible``, termination ``interrupted``) or none.
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
    if mip_start is not None:
        _set_mip_start(built, mip_start)
    m, data = built.model, built.data
    name = built.instance.name
    if m.trivially_infeasible:
        msg = "; ".join(m.trivially_infeasible)
        timings.update(transfer=0.0, solve=0.0, extract=0.0, total=time.perf_counter() - t_start)
        return Result(Status.INFEASIBLE, None, None, None, None, timings, instance=name, message=msg,
                      warnings=built.warnings)
    report: SolveReport = solve_model(m, opts)
    if report.import_seconds > 0.05:
        timings["import"] = report.import_seconds
    timings["transfer"] = report.transfer_seconds
    timings["solve"] = report.solver_seconds
    t3 = time.perf_counter()
    tables = extract_tables(m, data) if report.has_solution else {}
    timings["extract"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t_start
    message = report.message
    if report.status is Status.FEASIBLE and not message and report.gap is not None:
        message = f"stopped ({report.termination.value}) with a feasible plan; gap {report.gap:.3%}"
    return Result(report.status, report.objective, report.bound, report.gap, report, timings, instance=name,
                  message=message, warnings=built.warnings, sizes=report.sizes, _tables=tables)
