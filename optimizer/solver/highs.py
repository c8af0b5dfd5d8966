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
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal


import numpy as np

from ..data.schema import MAX_SEED, MAX_THREADS
from ..errors import InvalidOptionError, SolveError, SolverCallError, SolverUnavailableError

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


HIGHS_INFINITE_BOUND = 1e20
"""HiGHS treats bounds and costs of this size or more as infinite."""
HIGHS_LARGE_MATRIX_VALUE = 1e15
"""HiGHS refuses a model (``passModel`` error) with a matrix value of this size or more."""


@dataclass(frozen=True)
class SolveProgress:
    """A snapshot of a running MIP solve, from HiGHS's callbacks (``SolveOptions.progress``)."""

    elapsed: float
    """Seconds since HiGHS started."""
    objective: float | None
    """Best plan's objective in HiGHS's sense (the NPV for this model), ``None`` before the first plan."""
    bound: float | None
    gap: float | None
    """Relative gap (fraction), ``None`` while unknown."""
    nodes: int | None


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
    progress: Callable[[SolveProgress], None] | None = None
    """Called from the solver's thread with a :class:`SolveProgress` about twice a second during a MIP solve."""


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


def check_call(status: Any, what: str) -> None:
    """Raise :class:`SolverCallError` when a HiGHS call returned ``kError`` (a warning is logged)."""
    name = getattr(status, "name", str(status))
    if name == "kError":
        msg = f"HiGHS refused {what}"
        raise SolverCallError(msg)
    if name == "kWarning":
        log.warning("HiGHS warned on %s", what)


def check_options(opts: SolveOptions) -> None:
    """Refuse options HiGHS cannot take, before anything is built or run (:class:`InvalidOptionError`)."""
    bad: list[str] = []
    if opts.time_limit is not None and not (isinstance(opts.time_limit, (int, float)) and opts.time_limit >= 0
                                            and not math.isnan(opts.time_limit)):
        bad.append(f"time_limit must be a number of seconds >= 0 (got {opts.time_limit!r})")
    if opts.mip_gap is not None and not (isinstance(opts.mip_gap, (int, float)) and 0 <= opts.mip_gap <= 1):
        bad.append(f"mip_gap must be a fraction between 0 and 1 (got {opts.mip_gap!r})")
    if opts.threads is not None and not (isinstance(opts.threads, int) and 1 <= opts.threads <= MAX_THREADS):
        bad.append(f"threads must be an integer from 1 to {MAX_THREADS} (got {opts.threads!r}; "
                   f"this machine has {os.cpu_count() or 1} CPUs)")
    if opts.seed is not None and not (isinstance(opts.seed, int) and 0 <= opts.seed <= MAX_SEED):
        bad.append(f"seed must be an integer from 0 to {MAX_SEED} (HiGHS's random_seed is 32-bit; got {opts.seed!r})")
    if bad:
        raise InvalidOptionError("; ".join(bad))


def apply_options(h: Any, opts: SolveOptions) -> None:
    """Check ``opts`` and set them on ``h``; every ``setOptionValue`` is checked (:class:`SolverCallError`)."""
    check_options(opts)
    check_call(h.setOptionValue("output_flag", bool(opts.log)), "option output_flag")
    if opts.time_limit is not None:
        check_call(h.setOptionValue("time_limit", float(opts.time_limit)), f"option time_limit = {opts.time_limit!r}")
    if opts.mip_gap is not None:
        check_call(h.setOptionValue("mip_rel_gap", float(opts.mip_gap)), f"option mip_rel_gap = {opts.mip_gap!r}")
    if opts.threads is not None:
        if opts.threads > (os.cpu_count() or 1):
            log.warning("threads = %d is more than the %d CPUs of this machine", opts.threads, os.cpu_count() or 1)
        # HiGHS keeps one thread pool per process; a different thread count needs a fresh pool.
        type(h).resetGlobalScheduler(True)
        check_call(h.setOptionValue("threads", int(opts.threads)), f"option threads = {opts.threads!r}")
    if opts.seed is not None:
        check_call(h.setOptionValue("random_seed", int(opts.seed)), f"option random_seed = {opts.seed!r}")
    for k, v in opts.highs_options.items():
        try:
            check_call(h.setOptionValue(k, v), f"option {k} = {v!r}")
        except SolverCallError:
            msg = f"HiGHS option {k} = {v!r} refused: unknown name, wrong type or out of range"
            raise InvalidOptionError(msg) from None


def check_representable(cost: np.ndarray, col_lower: np.ndarray, col_upper: np.ndarray, row_lower: np.ndarray,
                        row_upper: np.ndarray, values: np.ndarray, offset: float = 0.0) -> str | None:
    """Why HiGHS cannot hold this model exactly (``None`` if it can).

    HiGHS reads finite bounds and costs of 1e20 or more as infinite (a silent change of the
    model) and refuses matrix values of 1e15 or more; NaN is never a number it can use.
    """
    def first(arr: np.ndarray, limit: float, what: str) -> str | None:
        a = np.asarray(arr, dtype=float)
        if a.size == 0:
            return None
        if np.isnan(a).any():
            return f"a {what} is NaN"
        big = np.isfinite(a) & (np.abs(a) >= limit)
        if big.any():
            return f"a {what} of {a[big][0]:g} is at or above HiGHS's limit {limit:g}"
        return None

    if not math.isfinite(offset) or abs(offset) >= HIGHS_INFINITE_BOUND:
        return f"the objective constant {offset:g} is at or above HiGHS's limit {HIGHS_INFINITE_BOUND:g}"
    for arr, limit, what in ((cost, HIGHS_INFINITE_BOUND, "objective coefficient"),
                             (col_lower, HIGHS_INFINITE_BOUND, "variable bound"),
                             (col_upper, HIGHS_INFINITE_BOUND, "variable bound"),
                             (row_lower, HIGHS_INFINITE_BOUND, "constraint bound"),
                             (row_upper, HIGHS_INFINITE_BOUND, "constraint bound"),
                             (values, HIGHS_LARGE_MATRIX_VALUE, "constraint coefficient")):
        why = first(arr, limit, what)
        if why:
            return why
    if np.isinf(np.asarray(cost, dtype=float)).any() or np.isinf(np.asarray(values, dtype=float)).any():
        return "an objective or constraint coefficient is infinite"
    return None


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`run_interruptible` saw: HiGHS's return status and whether the user interrupted."""

    status: Any
    interrupted: bool


def run_interruptible(h: Any, on_progress: Callable[[SolveProgress], None] | None = None,
                      every: float = 0.5) -> RunOutcome:
    """``h.run()`` in a worker thread; Ctrl-C asks HiGHS to stop through its interrupt callbacks.

    The main thread waits; a ``KeyboardInterrupt`` sets a flag that the simplex, IPM and MIP
    interrupt callbacks pass to HiGHS, which then stops and keeps its incumbent (model
    status ``kInterrupt``).  ``on_progress`` gets a :class:`SolveProgress` at most every
    ``every`` seconds during a MIP solve.  The run's return code is not checked here
    (see :func:`check_call`): the caller reads the model status either way.
    """
    stop = threading.Event()
    last = [-math.inf]

    def on_interrupt(e: Any) -> None:
        if stop.is_set():
            e.interrupt()

    def on_mip(e: Any) -> None:
        if stop.is_set():
            e.interrupt()
        if on_progress is None:
            return
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        d = e.data_out
        prim, dual = float(d.mip_primal_bound), float(d.mip_dual_bound)
        obj = prim if math.isfinite(prim) and abs(prim) < HIGHS_INFINITE_BOUND else None
        bnd = dual if math.isfinite(dual) and abs(dual) < HIGHS_INFINITE_BOUND else None
        gap = float(d.mip_gap) if obj is not None and bnd is not None and math.isfinite(d.mip_gap) else None
        try:
            on_progress(SolveProgress(elapsed=float(d.running_time), objective=obj, bound=bnd, gap=gap,
                                      nodes=int(d.mip_node_count)))
        except Exception:  # a broken display must not stop the solve
            log.debug("progress callback failed", exc_info=True)

    h.cbSimplexInterrupt.subscribe(on_interrupt)
    h.cbIpmInterrupt.subscribe(on_interrupt)
    h.cbMipInterrupt.subscribe(on_mip)
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["status"] = h.run()
        except BaseException as exc:  # pragma: no cover - reported to the caller below
            box["error"] = exc
        finally:
            done.set()

    # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave the
    # thread looking finished while HiGHS still runs (CPython issue 90882).
    t = threading.Thread(target=target, name="highs-run", daemon=True)
    t.start()
    interrupted = False
    try:
        while not done.is_set():
            try:
                done.wait(0.1)
            except KeyboardInterrupt:
                interrupted = True
                stop.set()
    finally:
        for cb, fn in ((h.cbSimplexInterrupt, on_interrupt), (h.cbIpmInterrupt, on_interrupt), (h.cbMipInterrupt, on_mip)):
            try:
                cb.unsubscribe(fn)
            except Exception:  # pragma: no cover
                log.debug("unsubscribe failed", exc_info=True)
    if "error" in box:
        raise box["error"]
    return RunOutcome(status=box.get("status"), interrupted=interrupted)


@dataclass(frozen=True)
class RunResult:
    """What a finished (or interrupted) HiGHS run holds, read by :func:`read_outcome`."""

    status: Status
    termination: Termination
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    nodes: int | None
    message: str
    highs_status: str
    values: np.ndarray | None
    """Column values when a solution is held (else ``None``)."""


def read_outcome(h: Any, outcome: RunOutcome, n: int, nrow: int, is_mip: bool, offset: float = 0.0) -> RunResult:
    """Status, figures and column values of a HiGHS run, honestly.

    ``kModelEmpty`` is optimal only when the model passed really was empty (``n`` columns and
    ``nrow`` rows); a run that returned ``kError`` holds no solution; an interrupt keeps the
    incumbent (status feasible, with its gap); a non-finite objective is an error; an error
    status always has a message.
    """
    ms = h.getModelStatus()
    name = h.modelStatusToString(ms)
    key = ms.name if hasattr(ms, "name") else str(ms)
    term = HIGHS_STATUS_MAP.get(key, Termination.UNKNOWN)
    if term is Termination.UNKNOWN:
        log.warning("HiGHS model status %s (%s) is not mapped; reported as unknown", key, name)
    if outcome.interrupted and term is not Termination.OPTIMAL:
        term = Termination.INTERRUPTED
    message = ""
    if term is Termination.EMPTY and (n or nrow or h.getNumCol() or h.getNumRow()):
        term, message = Termination.ERROR, (f"HiGHS reported an empty model but {n} variables and {nrow} rows were "
                                            "passed: the model did not reach HiGHS")
    run_error = getattr(outcome.status, "name", "") == "kError" and term is not Termination.INTERRUPTED
    if run_error:
        term, message = Termination.ERROR, f"HiGHS run returned an error (model status '{name}')"
    info = h.getInfo()
    has_sol = (int(info.primal_solution_status) == 2 or term is Termination.EMPTY) and not run_error
    if term is Termination.EMPTY:
        term = Termination.OPTIMAL
    objective = bound = gap = None
    nodes = int(info.mip_node_count) if is_mip else None
    values = None
    if has_sol:
        values = np.asarray(h.getSolution().col_value, dtype=float) if n else np.zeros(0)
        objective = float(info.objective_function_value) if n else offset
        if is_mip:
            bound = float(info.mip_dual_bound)
            gap = _gap(objective, bound)
        else:
            bound, gap = objective, 0.0
    if has_sol and objective is not None and not math.isfinite(objective):
        has_sol, objective, bound, gap, term = False, None, None, None, Termination.ERROR
        message = "HiGHS returned a non-finite objective: the instance's numbers are too large to solve reliably"
    status = derive_status(term, has_sol)
    if term is Termination.INTERRUPTED:
        message = "interrupted by the user " + (f"with a feasible plan; gap {gap:.3%}" if has_sol and gap is not None
                                                else "with a feasible plan" if has_sol else "before a feasible plan was found")
    if status is Status.ERROR and not message:
        message = f"HiGHS stopped with model status '{name}' and no usable solution"
    if not has_sol:
        values = None
    return RunResult(status=status, termination=term, has_solution=has_sol, objective=objective, bound=bound,
                     gap=gap, nodes=nodes, message=message, highs_status=name, values=values)


def error_report(message: str, version: str = "", transfer_seconds: float = 0.0, highs_status: str = "",
                 sizes: dict[str, int] | None = None) -> SolveReport:
    """A :class:`SolveReport` with status ``error``, no solution, and ``message`` saying why."""
    return SolveReport(
        status=Status.ERROR, termination=Termination.ERROR, has_solution=False, objective=None, bound=None,
        gap=None, nodes=None, solver="HiGHS", solver_version=version, transfer_seconds=transfer_seconds,
        solver_seconds=0.0, message=message or "the solver failed without saying why", highs_status=highs_status,
        sizes=dict(sizes or {}),
    )


def _gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None or not (math.isfinite(obj) and math.isfinite(bound)):
        return None
    return abs(obj - bound) / max(abs(obj), 1e-10) if obj != bound else 0.0


def objective_disagrees(evaluated: float, objective: float) -> bool:
    """True when c.x + offset of HiGHS's solution is not its reported objective (beyond 1e-6 relative)."""
    return abs(evaluated - objective) > 1e-6 * max(1.0, abs(objective))


MODEL_HIGHS_DEFAULTS: dict[str, Any] = {"mip_heuristic_run_root_reduced_cost": False}
"""HiGHS options the engine sets for the network-design MIP (a user's ``highs_options`` override them).

HiGHS's root reduced-cost heuristic took 0.3 of the 0.8 s HiGHS spends on ``nissan_2026``
and never helped on the instances measured (nissan_2026 0.87 -> 0.52 s, nissan_2026_v1
0.22 -> 0.13 s, pmed6 14.9 -> 11.8 s, gen_10k 5.1 -> 4.5 s, cap71/131/134 and pmed11 unchanged,
same optima; benchmarks/results/NOTES.md, run 4)."""


def solve_blocks(mb: Blocks, opts: SolveOptions, start: np.ndarray | None = None) -> SolveReport:
    """Assemble the blocks into one CSC matrix, one ``passModel`` to highspy, solve.

    ``start`` (values by column, NaN = unknown) is handed to HiGHS as a MIP start.
    """
    t0 = time.perf_counter()
    a, row_lower, row_upper = mb.csc()
    col_lower, col_upper, integrality = mb.bounds()
    c, offset = mb.objective()
    idx = np.flatnonzero(~np.isnan(start)) if start is not None else np.zeros(0, dtype=np.int64)
    return pass_and_run(opts, -1, offset, c, col_lower, col_upper, row_lower, row_upper, a, integrality,
                        idx, start[idx] if start is not None else np.zeros(0), t0)


def pass_and_run(opts: SolveOptions, sense: int, offset: float, c: np.ndarray, col_lower: np.ndarray,
                 col_upper: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray, A: Any, integrality: np.ndarray,
                 start_idx: np.ndarray, start_val: np.ndarray, t0: float, import_seconds: float = 0.0) -> SolveReport:
    """Hand one model (CSC ``A``) to HiGHS, every return code checked; run it (Ctrl-C stops it); report.

    ``sense`` -1 maximises.  The report's ``solution`` holds the values by column.
    """
    highspy = _highspy()
    h = highspy.Highs()
    opts = replace(opts, highs_options={**MODEL_HIGHS_DEFAULTS, **opts.highs_options})
    n, nrow = len(c), len(row_lower)
    sizes = {"variables": n, "binaries": int(integrality.sum()), "rows": int(nrow), "nonzeros": int(A.nnz)}
    why = check_representable(c, col_lower, col_upper, row_lower, row_upper, A.data, offset)
    if why:
        return error_report(f"the model holds numbers HiGHS cannot represent: {why}; check the instance's "
                            "largest capacities, costs and bounds", h.version(), time.perf_counter() - t0, sizes=sizes)
    try:
        apply_options(h, opts)  # values out of range raise InvalidOptionError (a usage mistake)
        check_call(h.passModel(n, nrow, int(A.nnz), 1, sense, offset, c, col_lower, col_upper, row_lower, row_upper,
                               np.asarray(A.indptr, dtype=np.int32), np.asarray(A.indices, dtype=np.int32),
                               np.asarray(A.data, dtype=float), integrality),
                   "the model (passModel)")
        if len(start_idx) and integrality.any():
            check_call(h.setSolution(len(start_idx), np.asarray(start_idx, dtype=np.int32),
                                     np.asarray(start_val, dtype=float)), "the MIP start (setSolution)")
    except SolverCallError as exc:
        return error_report(str(exc), h.version(), time.perf_counter() - t0, sizes=sizes)
    transfer = time.perf_counter() - t0
    outcome = run_interruptible(h, opts.progress)
    highs_time = h.getRunTime()
    r = read_outcome(h, outcome, n, nrow, bool(integrality.any()), offset)
    if r.values is not None and r.objective is not None and integrality.any() and not outcome.interrupted:
        mine = float(c @ r.values) + offset
        if objective_disagrees(mine, r.objective):
            # HiGHS 1.16 can return the MIP start as the solution with the objective of another point (seen
            # with a partial start and presolve on, tests/test_scenario_sets.py seed 65): solve again without
            # presolve, so that the values we report are the ones optimised
            log.info("HiGHS objective %.12g but its solution evaluates to %.12g: solving again without presolve",
                     r.objective, mine)
            h.clearSolver()
            h.setOptionValue("presolve", "off")
            outcome = run_interruptible(h, opts.progress)
            highs_time = h.getRunTime()
            r = read_outcome(h, outcome, n, nrow, True, offset)
            if r.values is not None and r.objective is not None:
                mine = float(c @ r.values) + offset
                if objective_disagrees(mine, r.objective):
                    r = replace(r, objective=mine, gap=_gap(mine, r.bound))
    return SolveReport(
        status=r.status, termination=r.termination, has_solution=r.has_solution, objective=r.objective,
        bound=r.bound, gap=r.gap, nodes=r.nodes, solver="HiGHS", solver_version=h.version(),
        transfer_seconds=transfer, solver_seconds=float(highs_time), highs_status=r.highs_status,
        import_seconds=import_seconds, sizes=sizes, message=r.message, solution=r.values,
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
    start = [(j, v.value) for j, v in enumerate(cols) if v.value is not None]
    idx = np.array([j for j, _ in start], dtype=np.int64)
    val = np.array([v for _, v in start], dtype=float)
    report = pass_and_run(opts, sense, offset, c, col_lower, col_upper, row_lower, row_upper, A, integrality, idx, val,
                          t0, import_seconds)
    if report.solution is not None:
        for v, x in zip(cols, report.solution.tolist()):
            v.set_value(float(x), skip_validation=True)
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

    check_options(opts)
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
    status = derive_status(term, has_sol)
    return SolveReport(
        status=status, termination=term, has_solution=has_sol, objective=objective,
        message=f"HiGHS (through Pyomo) stopped with '{tc}' and no usable solution" if status is Status.ERROR else "",
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
