"""Hand a built model to HiGHS and report honestly why it stopped.

Three paths:

:func:`solve_blocks` (default)
    The model's blocks, assembled once into a CSC matrix, go to highspy in one
    ``passModel`` call; the solution comes back as a vector by column.
:func:`solve_direct` (a Pyomo model that the user touched, ``interface="direct"``)
    Pyomo's linear standard-form compiler turns the model into sparse matrices,
    which go to highspy in one ``passModel`` call; no LP/MPS file is written.
:func:`solve_pyomo` (``interface="pyomo"``)
    Pyomo's ``contrib.solver`` HiGHS interface (persistent, term by term).

"Why the solver stopped" (:class:`Termination`) is kept apart from "what solution
we hold" (``has_solution``); the user-facing :class:`Status` is derived from both.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from typing import TYPE_CHECKING

import numpy as np

from ..errors import SolveError, SolverUnavailableError

if TYPE_CHECKING:
    import pyomo.environ as pyo

    from ..models import Blocks

log = logging.getLogger(__name__)


class Status(str, Enum):
    """Outcome of a solve, as reported to the user."""

    OPTIMAL = "optimal"
    """Proven optimal within the requested MIP gap."""
    FEASIBLE = "feasible"
    """Stopped (time or other limit) holding a feasible plan; the gap says how far from proven."""
    INFEASIBLE = "infeasible"
    """No plan satisfies the constraints."""
    UNBOUNDED = "unbounded"
    """The NPV can grow without limit (only possible with user-added components)."""
    TIME_LIMIT = "time_limit"
    """Stopped by a limit before any feasible plan was found."""
    ERROR = "error"
    """The solver failed."""

    def __str__(self) -> str:
        return self.value

    @property
    def has_solution(self) -> bool:
        """True for OPTIMAL and FEASIBLE."""
        return self in (Status.OPTIMAL, Status.FEASIBLE)


class Termination(str, Enum):
    """Why the solver stopped (independent of whether it holds a solution)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    SOLUTION_LIMIT = "solution_limit"
    OBJECTIVE_LIMIT = "objective_limit"
    INTERRUPTED = "interrupted"
    MEMORY_LIMIT = "memory_limit"
    EMPTY = "empty"
    ERROR = "error"
    UNKNOWN = "unknown"


# Every HiGHS model status, mapped.  Missing names (older/newer highspy) fall back to UNKNOWN.
HIGHS_STATUS_MAP: dict[str, Termination] = {
    "kNotset": Termination.ERROR,
    "kLoadError": Termination.ERROR,
    "kModelError": Termination.ERROR,
    "kPresolveError": Termination.ERROR,
    "kSolveError": Termination.ERROR,
    "kPostsolveError": Termination.ERROR,
    "kModelEmpty": Termination.EMPTY,
    "kOptimal": Termination.OPTIMAL,
    "kInfeasible": Termination.INFEASIBLE,
    "kUnboundedOrInfeasible": Termination.INFEASIBLE_OR_UNBOUNDED,
    "kUnbounded": Termination.UNBOUNDED,
    "kObjectiveBound": Termination.OBJECTIVE_LIMIT,
    "kObjectiveTarget": Termination.OBJECTIVE_LIMIT,
    "kTimeLimit": Termination.TIME_LIMIT,
    "kIterationLimit": Termination.ITERATION_LIMIT,
    "kUnknown": Termination.UNKNOWN,
    "kSolutionLimit": Termination.SOLUTION_LIMIT,
    "kInterrupt": Termination.INTERRUPTED,
    "kHighsInterrupt": Termination.INTERRUPTED,
    "kMemoryLimit": Termination.MEMORY_LIMIT,
}

_LIMITS = {Termination.TIME_LIMIT, Termination.ITERATION_LIMIT, Termination.SOLUTION_LIMIT,
           Termination.OBJECTIVE_LIMIT, Termination.INTERRUPTED}


def derive_status(termination: Termination, has_solution: bool) -> Status:
    """The user-facing status from why HiGHS stopped and whether it holds a solution."""
    if termination is Termination.OPTIMAL:
        return Status.OPTIMAL if has_solution else Status.ERROR
    if termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
        return Status.INFEASIBLE
    if termination is Termination.UNBOUNDED:
        return Status.UNBOUNDED
    if has_solution:
        return Status.FEASIBLE
    if termination in _LIMITS:
        return Status.TIME_LIMIT
    return Status.ERROR


@dataclass(frozen=True)
class SolveOptions:
    """Solver options (``None`` = the instance's ``solver`` settings, then HiGHS defaults)."""

    time_limit: float | None = None
    """Seconds."""
    mip_gap: float | None = None
    """Relative MIP gap (fraction)."""
    threads: int | None = None
    seed: int | None = None
    interface: Literal["direct", "pyomo"] = "direct"
    log: bool = False
    """Print HiGHS's log."""
    highs_options: dict[str, Any] = field(default_factory=dict)
    """Further HiGHS options by name (e.g. ``{"presolve": "off"}``)."""


@dataclass(frozen=True)
class SolveReport:
    """What the solver did: status, figures and timings (seconds)."""

    status: Status
    termination: Termination
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    nodes: int | None
    solver: str
    solver_version: str
    transfer_seconds: float
    solver_seconds: float
    message: str = ""
    highs_status: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    import_seconds: float = 0.0
    """One-off lazy imports on the first solve of a process (not part of the transfer)."""
    solution: np.ndarray | None = field(default=None, repr=False)
    """Primal values by column (the blocks path), ``None`` without a solution."""
    method: str = "monolithic"
    """How the model was solved: ``monolithic`` (one HiGHS MIP) or ``benders`` (:mod:`.benders`)."""
    decomposition: dict[str, Any] = field(default_factory=dict)
    """The decomposition's figures (rounds, cuts, master solves, ...) or why it was not used."""


def _highspy() -> Any:
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - highspy is a hard dependency
        msg = "HiGHS is not available: install the 'highspy' package (pip install highspy)."
        raise SolverUnavailableError(msg) from exc
    return highspy


def _apply_options(h: Any, opts: SolveOptions) -> None:
    h.setOptionValue("output_flag", bool(opts.log))
    if opts.time_limit is not None:
        h.setOptionValue("time_limit", float(opts.time_limit))
    if opts.mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    if opts.threads is not None:
        # HiGHS keeps one thread pool per process; a different thread count needs a fresh pool.
        type(h).resetGlobalScheduler(True)
        h.setOptionValue("threads", int(opts.threads))
    if opts.seed is not None:
        h.setOptionValue("random_seed", int(opts.seed))
    for k, v in opts.highs_options.items():
        h.setOptionValue(k, v)


def _gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None or not (math.isfinite(obj) and math.isfinite(bound)):
        return None
    return abs(obj - bound) / max(abs(obj), 1e-10) if obj != bound else 0.0


def solve_blocks(mb: Blocks, opts: SolveOptions, start: np.ndarray | None = None) -> SolveReport:
    """Assemble the blocks into one CSC matrix, one ``passModel`` to highspy, solve.

    ``start`` (values by column, NaN = unknown) is handed to HiGHS as a MIP start.
    """
    highspy = _highspy()
    t0 = time.perf_counter()
    a, row_lower, row_upper = mb.matrix()
    col_lower, col_upper, integrality = mb.bounds()
    c, offset = mb.objective()
    n, nrow = mb.n_cols, mb.n_rows
    h = highspy.Highs()
    _apply_options(h, opts)
    status = h.passModel(n, nrow, int(a.nnz), 1, -1, offset, c, col_lower, col_upper, row_lower, row_upper,
                         a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
                         integrality)
    if _is_error(status):
        return _error_report(h, "HiGHS refused the model (passModel): a coefficient or bound it cannot represent",
                             time.perf_counter() - t0)
    if start is not None and integrality.any():
        known = np.flatnonzero(~np.isnan(start))
        if len(known):
            h.setSolution(len(known), known.astype(np.int32), start[known].astype(float))
    transfer = time.perf_counter() - t0
    return _run(h, opts, transfer, n, nrow, int(a.nnz), integrality, offset, 0.0)


def _is_error(status: Any) -> bool:
    return getattr(status, "name", str(status)).endswith("kError")


def _error_report(h: Any, message: str, seconds: float) -> SolveReport:
    return SolveReport(
        status=Status.ERROR, termination=Termination.ERROR, has_solution=False, objective=None, bound=None, gap=None,
        nodes=None, solver="HiGHS", solver_version=h.version(), transfer_seconds=seconds, solver_seconds=0.0,
        message=message,
    )


def _run(h: Any, opts: SolveOptions, transfer: float, n: int, nrow: int, nnz: int, integrality: np.ndarray,
         offset: float, import_seconds: float) -> SolveReport:
    """Run HiGHS on the passed model and report why it stopped and what solution it holds."""
    h.run()
    highs_time = h.getRunTime()
    ms = h.getModelStatus()
    name = h.modelStatusToString(ms)
    key = ms.name if hasattr(ms, "name") else str(ms)
    term = HIGHS_STATUS_MAP.get(key, Termination.UNKNOWN)
    if term is Termination.UNKNOWN:
        log.warning("HiGHS model status %s (%s) is not mapped; reported as unknown", key, name)
    info = h.getInfo()
    has_sol = int(info.primal_solution_status) == 2 or (term is Termination.EMPTY and n == 0)
    if term is Termination.EMPTY:
        term = Termination.OPTIMAL if n == 0 else Termination.ERROR
    is_mip = bool(integrality.any())
    objective = bound = gap = None
    values = None
    nodes = int(info.mip_node_count) if is_mip else None
    if has_sol:
        values = np.asarray(h.getSolution().col_value, dtype=float) if n else np.zeros(0)
        objective = float(info.objective_function_value) if n else offset
        if is_mip:
            bound = float(info.mip_dual_bound)
            gap = _gap(objective, bound)
        else:
            bound, gap = objective, 0.0
    return SolveReport(
        status=derive_status(term, has_sol), termination=term, has_solution=has_sol, objective=objective,
        bound=bound, gap=gap, nodes=nodes, solver="HiGHS", solver_version=h.version(),
        transfer_seconds=transfer, solver_seconds=float(highs_time), highs_status=name, import_seconds=import_seconds,
        sizes={"variables": n, "binaries": int(integrality.sum()), "rows": int(nrow), "nonzeros": nnz},
        solution=values,
    )


def solve_direct(m: pyo.ConcreteModel, opts: SolveOptions) -> SolveReport:
    """Standard-form compile, one ``passModel`` to highspy, solve, load values into ``m``."""
    import pyomo.environ as pyo
    from pyomo.common.errors import InfeasibleConstraintException
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    highspy = _highspy()
    t_import = time.perf_counter()
    from pyomo.common.dependencies import scipy as _scipy

    _ = _scipy.sparse.csc_array  # Pyomo imports scipy (with scipy.stats) lazily on first use: a one-off, counted apart
    import_seconds = time.perf_counter() - t_import
    t0 = time.perf_counter()
    try:
        sf = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    except InfeasibleConstraintException as exc:
        return _trivial_infeasible(str(exc), time.perf_counter() - t0, highspy)
    cols = sf.columns
    n, nrow = len(cols), sf.A.shape[0]
    col_lower = np.array([-np.inf if v.lb is None else v.lb for v in cols], dtype=float)
    col_upper = np.array([np.inf if v.ub is None else v.ub for v in cols], dtype=float)
    integrality = np.array([1 if v.is_integer() else 0 for v in cols], dtype=np.int32)
    rhs = np.asarray(sf.rhs, dtype=float)
    mult = np.array([r[1] for r in sf.rows], dtype=int) if nrow else np.zeros(0, dtype=int)
    row_lower = np.where(mult == 1, -np.inf, rhs)
    row_upper = np.where(mult == -1, np.inf, rhs)
    obj = sf.objectives[0]
    c = sf.c.toarray()[0] if n else np.zeros(0)
    offset = float(sf.c_offset[0])
    sense = -1 if obj.sense == pyo.maximize else 1
    A = sf.A.tocsc()
    h = highspy.Highs()
    _apply_options(h, opts)
    status = h.passModel(n, nrow, int(A.nnz), 1, sense, offset, c, col_lower, col_upper, row_lower, row_upper,
                         A.indptr.astype(np.int32), A.indices.astype(np.int32), A.data.astype(float), integrality)
    if _is_error(status):
        return _error_report(h, "HiGHS refused the model (passModel): a coefficient or bound it cannot represent",
                             time.perf_counter() - t0)
    start = [(j, v.value) for j, v in enumerate(cols) if v.value is not None]
    if start and integrality.any():
        idx, val = zip(*start)
        h.setSolution(len(idx), np.array(idx, dtype=np.int32), np.array(val, dtype=float))
    transfer = time.perf_counter() - t0
    report = _run(h, opts, transfer, n, nrow, int(A.nnz), integrality, offset, import_seconds)
    if report.solution is not None:
        for v, val in zip(cols, report.solution.tolist()):
            v.set_value(float(val), skip_validation=True)
    return report


def _trivial_infeasible(message: str, seconds: float, highspy: Any) -> SolveReport:
    return SolveReport(
        status=Status.INFEASIBLE, termination=Termination.INFEASIBLE, has_solution=False, objective=None,
        bound=None, gap=None, nodes=None, solver="HiGHS", solver_version=highspy.Highs().version(),
        transfer_seconds=seconds, solver_seconds=0.0, message=message,
    )


def solve_pyomo(m: pyo.ConcreteModel, opts: SolveOptions) -> SolveReport:
    """Solve through Pyomo's ``contrib.solver`` HiGHS interface."""
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
    from pyomo.contrib.solver.solvers.highs import Highs

    _highspy()
    t0 = time.perf_counter()
    solver = Highs()
    kw: dict[str, Any] = {"load_solutions": False, "raise_exception_on_nonoptimal_result": False, "tee": opts.log}
    if opts.time_limit is not None:
        kw["time_limit"] = opts.time_limit
    if opts.mip_gap is not None:
        kw["rel_gap"] = opts.mip_gap
    if opts.threads is not None:
        _highspy().Highs.resetGlobalScheduler(True)
        kw["threads"] = opts.threads
    so = dict(opts.highs_options)
    if opts.seed is not None:
        so["random_seed"] = opts.seed
    if so:
        kw["solver_options"] = so
    res = solver.solve(m, **kw)
    total = time.perf_counter() - t0
    highs_time = float(getattr(res.timing_info, "highs_time", 0.0) or 0.0)
    tc = res.termination_condition
    tmap = {
        TerminationCondition.convergenceCriteriaSatisfied: Termination.OPTIMAL,
        TerminationCondition.maxTimeLimit: Termination.TIME_LIMIT,
        TerminationCondition.iterationLimit: Termination.ITERATION_LIMIT,
        TerminationCondition.objectiveLimit: Termination.OBJECTIVE_LIMIT,
        TerminationCondition.unbounded: Termination.UNBOUNDED,
        TerminationCondition.provenInfeasible: Termination.INFEASIBLE,
        TerminationCondition.locallyInfeasible: Termination.INFEASIBLE,
        TerminationCondition.infeasibleOrUnbounded: Termination.INFEASIBLE_OR_UNBOUNDED,
        TerminationCondition.interrupted: Termination.INTERRUPTED,
        TerminationCondition.error: Termination.ERROR,
    }
    term = tmap.get(tc, Termination.UNKNOWN)
    has_sol = res.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
    if has_sol:
        res.solution_loader.load_vars()
    objective = res.incumbent_objective if has_sol else None
    bound = res.objective_bound if has_sol else None
    return SolveReport(
        status=derive_status(term, has_sol), termination=term, has_solution=has_sol, objective=objective,
        bound=bound, gap=_gap(objective, bound), nodes=getattr(res.extra_info, "mip_node_count", None),
        solver="HiGHS (pyomo.contrib.solver)", solver_version=".".join(map(str, solver.version())),
        transfer_seconds=max(total - highs_time, 0.0), solver_seconds=highs_time, highs_status=str(tc),
    )


def solve_model(m: pyo.ConcreteModel, opts: SolveOptions) -> SolveReport:
    """Solve ``m`` with HiGHS by the chosen interface."""
    if opts.interface == "direct":
        return solve_direct(m, opts)
    if opts.interface == "pyomo":
        return solve_pyomo(m, opts)
    msg = f"unknown interface '{opts.interface}'; use 'direct' or 'pyomo'"
    raise SolveError(msg)
