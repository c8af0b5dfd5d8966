"""Benders decomposition of a built model (:class:`~optimizer.models.Blocks`) on HiGHS.

The model is split by columns:

- **plan** columns: the integer families ``z`` (plant open per year) and ``w``
  (stack developed per year).  They stay in the *master*, with every constraint
  block that involves plan columns only (closure_order, development_order,
  plants_kept, capacity_kept, jobs_cut, ...), one value variable ``theta_k`` per
  subproblem piece, and valid aggregate rows (per year: total open capacity covers
  the total minimum demand of that year, see :func:`_aggregate_rows`);
- **flow** columns (``x``, ``q``, anything continuous): with the plan fixed they
  form an LP.  The rows that touch flow columns go to the subproblem, with the
  plan terms moved into the row bounds: ``L - A_P p <= A_F x <= U - A_P p``.

The subproblem is split into *pieces*: the connected components of its
row/column graph (in a multi-year plan no row links two years' flows, so every
year is at least one piece; in a scenario set every scenario; independent groups
within a year are further pieces), merged into at most ``max_pieces`` pieces.
Rows that no flow can violate for any plan in the box are left out first
(:func:`_redundant_rows`: a p-median plant's capacity once ``x <= d z`` holds), so
that, e.g., p-median customers fall apart into one piece each.  Each piece is a persistent
highspy model whose row bounds are changed between rounds (warm-started dual
simplex).

**Cuts.** For the piece's LP ``min -c_F x`` (HiGHS convention: a row dual
``y_i > 0`` prices the lower bound, ``y_i < 0`` the upper one), the reduced costs
``d = -c_F - A_F^T y`` and weak duality give, for *every* plan ``p``,

    value_k(p) <= -[ sum_i y_i B_i(p) + sum_j d_j b_j ]   (B_i = L_i(p) or U_i(p) by the sign of y_i)

which is linear in ``p`` (the optimality cut ``theta_k <= value_k(p^) +
(A_P^T y)(p - p^)``).  Because the cut is derived from weak duality it is valid
whatever the quality of the duals, so the master's bound is a proven bound.

**Knapsack-strengthened cuts** (Fischetti, Ljubic & Sinnl, EJOR 2016) for pieces with capacitated
facility-location structure (every row with a plan term is a capacity row ``sum_j a_j x_j <= C_i z_i``
or a bound ``x_j <= U_j z_i`` of one 0/1 plan column, every flow in the rows of at most one plant;
:func:`_knapsack_structure`): the rows without plan terms are relaxed with the LP's duals as
Lagrange multipliers, and what is left splits by plant into continuous knapsacks ``KP_i`` (greedy by
reduced cost per unit of capacity), so that ``theta_k <= const + sum_i (-KP_i) z_i`` holds at every
0/1 plan.  It is tight at the plan evaluated and dominates the LP-dual cut made there at every other
0/1 plan (both are added).  Valid only at integral plans, it still leaves the master a relaxation of
the integer problem, so its bound stays a proven bound.

**Feasibility** is handled by an explicit penalty slack: every subproblem row that
``x = 0`` could violate for some plan in the plan's box gets a slack of cost
``M`` per unit, so every piece is feasible for every plan and all cuts are
optimality cuts.  ``M = penalty_factor * (1 + max |c_F|)``.  By the exact-penalty
theorem the slack is unused at the LP optimum of any plan whose flow LP is
feasible once ``M`` exceeds that LP's largest optimal dual; since the master
optimises the penalised problem (a relaxation of the true one: its bound stays
valid) this is checked, not assumed: a final plan that still uses slack means
the instance is infeasible or ``M`` was too small, and the solve is then handed
to the monolithic model (recorded in the report) so the answer is never wrong.

**Loop.** First a stabilised in-out loop on the LP master (Ben-Ameur & Neto
2007: cuts separated at ``lambda * out + (1 - lambda) * core``, the core point
moved towards the master's LP optimum; ``lambda = 1`` once a round cuts nothing
off at the LP optimum), then the integer master re-solved each round (highspy
has no lazy-constraint callback) with the best plan found so far as MIP start,
until the master's proven bound and the best plan's value meet the gap.  A master
that HiGHS ends with 'Solve error' (its optimum rejected for a violation of about
1e-6 on a cut row whose right-hand side is of the NPV's size) is solved again with
a looser MIP feasibility tolerance; the plan it gives is evaluated exactly.

**Result.** The reported bound is the master's proven (MIP dual) bound, the
objective the best plan's NPV; the result tables come from a final solve of the
monolithic blocks with ``z`` and ``w`` fixed to the plan (:func:`solve_blocks`), so
they are exactly consistent with the reported objective.

Single sourcing (``a`` binaries inside the flow part) is not accepted: with
integer flow choices the subproblem is a MIP and LP duality gives no valid cut;
such models are solved monolithically (:func:`not_applicable` says why).
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph.connected_components)

from .highs import (
    SolveOptions,
    SolveReport,
    Status,
    Termination,
    _gap,
    _highspy,
    apply_options,
    objective_disagrees,
    solve_blocks,
)

if TYPE_CHECKING:
    from ..models import Blocks

log = logging.getLogger(__name__)

PLAN_FAMILIES = ("z", "w")
"""Variable families that form the master's plan."""

INF = math.inf


@dataclass(frozen=True)
class BendersOptions:
    """Tuning of the decomposition (the defaults are what the tests and benchmarks use)."""

    max_pieces: int = 512
    """At most this many subproblem pieces (value variables); more components are merged."""
    penalty_factor: float = 1e3
    """M = penalty_factor * (1 + max |flow cost coefficient|) per unit of slack."""
    lp_rounds: int = 60
    """At most this many in-out rounds on the LP master."""
    lp_gap: float = 1e-4
    """The LP phase stops when its relative gap is at most this (its cuts are a start; the integer
    rounds close the rest)."""
    lp_time_share: float = 0.5
    """The LP phase ends once it has used this share of the time limit, so that integer rounds are
    left time to find a plan (gen_1M: 18 LP rounds of ~33 s each used all of 600 s, no plan)."""
    in_out_lambda: float = 0.5
    """Weight of the master's LP point in the separation point (1 = no stabilisation)."""
    max_rounds: int = 500
    """At most this many integer master solves."""
    workers: int = 1
    """Solve the pieces of a round in a thread pool of this size (1 = in a loop)."""
    scheduler: str | None = None
    """Address of a Dask scheduler (``tcp://host:port``): the pieces are held by one actor per worker
    there (models with one piece stay in this process)."""
    master_gap: float = 1e-3
    """Early integer masters stop at min(master_gap, gap / 10) (never below the requested gap)."""
    extra_plans: int = 4
    """Also cut at up to this many of the master's other improving solutions of each solve."""
    relaxed_cuts: bool = False
    """Also cut the *relaxed* flow LP: the plan-linked rows that couple several flows (plant
    capacities) dropped, the rest falls apart into blocks (one per customer in a facility-location
    model), each with its own value variable ``eta_j`` and ``theta_k <= sum_(j in k) eta_j``."""
    relaxed_max_blocks: int = 50_000
    """No relaxed cuts when the relaxed flow LP has more blocks than this."""
    knapsack_cuts: bool = True
    """For pieces with capacitated facility-location structure, also add the knapsack-strengthened
    cut of Fischetti, Ljubic & Sinnl (EJOR 2016) at every evaluated plan (:func:`_knapsack_cut`)."""
    master_time_share: float = 0.25
    master_time_min: float = 10.0
    """One integer master may use max(master_time_min, master_time_share * time left) seconds; its
    incumbent is then cut and the master re-solved (with all the time left once that cuts nothing)."""


def not_applicable(mb: Blocks) -> str | None:
    """Why the decomposition cannot solve ``mb`` (``None`` when it can)."""
    a = mb.vars.get("a")
    if a is not None and a.size:
        return ("single sourcing: the sourcing binaries a are part of the flow subproblem, which is then a MIP "
                "without LP duals for valid cuts")
    plan = set(PLAN_FAMILIES)
    for name, vb in mb.vars.items():
        if vb.integer and vb.size and name not in plan:
            return f"integer variables {name} outside the plan (z, w) would make the subproblem a MIP"
    n_plan = sum(mb.vars[n].size for n in PLAN_FAMILIES if n in mb.vars)
    if n_plan == 0:
        return "no plan variables: the model is one LP"
    if mb.n_cols == n_plan:
        return "no flow variables"
    lo, hi, _ = mb.bounds()
    flow = np.ones(mb.n_cols, dtype=bool)
    for n in PLAN_FAMILIES:
        if n in mb.vars:
            flow[mb.vars[n].cols] = False
    if (lo[flow] > 0).any() or (hi[flow] < 0).any():
        return "a flow column's bounds exclude 0 (the penalty slack could not make every piece feasible)"
    return None


@dataclass
class _Piece:
    cols: np.ndarray          # global flow column indices
    rows: np.ndarray          # global row indices
    ap: sp.csr_matrix         # rows x plan (local plan positions)
    l0: np.ndarray
    u0: np.ndarray
    cost: np.ndarray          # minimisation costs of all local columns (flow then slack)
    clo: np.ndarray
    cup: np.ndarray
    a_full: sp.csc_matrix     # rows x (flow + slack)
    n_flow: int
    bcol: np.ndarray          # rows turned into bounds: local column,
    bcoef: np.ndarray         # its coefficient,
    bl0: np.ndarray           # the row's bounds
    bu0: np.ndarray
    bap: sp.csr_matrix        # and its plan terms
    knap: _Knap | None = None  # facility-location structure for the knapsack-strengthened cut
    h: Any = None
    solves: int = 0
    first: bool = True


@dataclass
class _Knap:
    """A piece's capacitated facility-location structure (see :func:`_knapsack_structure`)."""

    plan_rows: np.ndarray     # kept rows with a plan term (capacity rows): their duals are not used
    linked: np.ndarray        # local flow columns that belong to one plan column
    owner: np.ndarray         # that plan column (local plan position)
    weight: np.ndarray        # their coefficient in its capacity row (0 when they have none)
    upper: np.ndarray         # their upper bound with the plan column at 1 (inf if none)
    cap: np.ndarray           # per plan position: its capacity C (inf without a capacity row)
    free: np.ndarray          # local columns (flows and slacks) linked to no plan column
    free_lo: np.ndarray       # and their bounds (column bounds and bound rows without plan terms)
    free_up: np.ndarray


@dataclass
class _Eval:
    value: float              # max-form value of the piece at the plan (penalised)
    slack: float              # total slack used
    g: np.ndarray             # cut slope on plan columns: theta <= const + g.p
    const: float
    g2: np.ndarray | None = None  # the knapsack-strengthened cut, when the piece has the structure
    const2: float = 0.0


@dataclass
class _State:
    rounds: int = 0
    lp_rounds: int = 0
    cuts: int = 0
    master_solves: int = 0
    sub_solves: int = 0
    master_seconds: float = 0.0
    sub_seconds: float = 0.0
    master_nodes: int = 0
    master_retries: int = 0
    relaxed_cuts: int = 0
    log: list[str] = field(default_factory=list)


class _Decomposition:
    def __init__(self, mb: Blocks, opts: SolveOptions, bopts: BendersOptions) -> None:
        self.mb, self.opts, self.bopts = mb, opts, bopts
        self.highspy = _highspy()
        lo, hi, _ = mb.bounds()
        c, self.const = mb.objective()
        a, rl, ru = mb.matrix()
        n = mb.n_cols
        is_plan = np.zeros(n, dtype=bool)
        for name in PLAN_FAMILIES:
            if name in mb.vars:
                is_plan[mb.vars[name].cols] = True
        self.plan = np.flatnonzero(is_plan)
        self.flow = np.flatnonzero(~is_plan)
        self.plo, self.phi = lo[self.plan], hi[self.plan]
        self.cp = c[self.plan]
        ar = a.tocsr()
        a_f = ar[:, self.flow]
        a_p = ar[:, self.plan]
        has_f = np.diff(a_f.indptr) > 0
        has_p = np.diff(a_p.indptr) > 0
        self.master_rows = np.flatnonzero(~has_f & has_p)
        empty = np.flatnonzero(~has_f & ~has_p)
        self.trivially_infeasible = bool(((rl[empty] > 1e-9) | (ru[empty] < -1e-9)).any())
        sub_rows = np.flatnonzero(has_f)
        af_sub, ap_sub = a_f[sub_rows].tocsr(), a_p[sub_rows].tocsr()
        keep = ~_redundant_rows(af_sub, ap_sub, rl[sub_rows], ru[sub_rows], lo[self.flow], hi[self.flow],
                                lo[self.plan], hi[self.plan])
        self.n_redundant = int((~keep).sum())
        sub_rows = sub_rows[keep]
        self.a_master = a_p[self.master_rows]
        self.ml, self.mu = rl[self.master_rows], ru[self.master_rows]
        cf = c[self.flow]
        self.penalty = bopts.penalty_factor * (1.0 + (float(np.abs(cf).max()) if len(cf) else 0.0))
        # components of the subproblem (bipartite rows/columns graph)
        b = af_sub[keep]
        nr, nf = b.shape
        g = sp.bmat([[None, b], [b.T, None]], format="csr") if nr else sp.csr_matrix((nf, nf))
        ncomp, lab = sp.csgraph.connected_components(g, directed=False)
        col_lab = lab[nr:] if nr else lab
        row_lab = lab[:nr]
        # merge components into at most max_pieces pieces (contiguous by first column)
        order = np.unique(col_lab, return_index=True)
        comps = order[0][np.argsort(order[1])]
        if len(comps) > bopts.max_pieces:
            size = np.bincount(col_lab, minlength=ncomp)[comps]
            cum = np.cumsum(size)
            grp = np.minimum((cum - 1) * bopts.max_pieces // max(cum[-1], 1), bopts.max_pieces - 1)
        else:
            grp = np.arange(len(comps))
        comp_piece = np.full(ncomp, -1)
        comp_piece[comps] = grp
        col_piece = comp_piece[col_lab]
        row_piece = comp_piece[row_lab] if nr else np.zeros(0, dtype=int)
        self.n_components = len(comps)
        flo, fhi = lo[self.flow], hi[self.flow]
        sub_ap = ap_sub[keep]
        sub_af = b
        # range of A_P p over the plan box, for the slacks
        pos, neg = sub_ap.maximum(0), sub_ap.minimum(0)
        ap_min = pos @ self.plo + neg @ self.phi
        ap_max = pos @ self.phi + neg @ self.plo
        self.pieces: list[_Piece] = []
        for k in range(int(grp.max()) + 1 if len(grp) else 0):
            self.pieces.append(_make_piece(np.flatnonzero(col_piece == k), np.flatnonzero(row_piece == k),
                                           sub_rows, sub_af, sub_ap, rl, ru, ap_min, ap_max, flo, fhi, cf,
                                           self.flow, self.penalty))
        if bopts.knapsack_cuts:
            integral = np.zeros(n, dtype=bool)
            for name in PLAN_FAMILIES:
                vb = mb.vars.get(name)
                if vb is not None and vb.integer:
                    integral[vb.cols] = True
            binary = integral[self.plan] & np.isin(self.plo, (0.0, 1.0)) & np.isin(self.phi, (0.0, 1.0))
            for pc in self.pieces:
                pc.knap = _knapsack_structure(pc, binary)
        self.n_knapsack = sum(pc.knap is not None for pc in self.pieces)
        # monotone: raising any plan column only relaxes the flow LP, so value(plan upper bounds) bounds theta
        srl, sru = rl[sub_rows], ru[sub_rows]
        coo = sub_ap.tocoo()
        bad = (np.isfinite(sru[coo.row]) & (coo.data > 0)) | (np.isfinite(srl[coo.row]) & (coo.data < 0))
        self.monotone = not bad.any()
        self.state = _State()
        self.is_mip = False
        self.runner: PieceHost | _DaskPieces = (
            _DaskPieces(self.pieces, bopts.scheduler) if bopts.scheduler and len(self.pieces) > 1
            else PieceHost(self.pieces, bopts.workers))

    # ------------------------------------------------------------------ subproblems
    def evaluate(self, p: np.ndarray, deadline: float) -> list[_Eval] | None:
        """Every piece's value and cut at plan ``p`` (``None`` if the time ran out)."""
        t0 = time.perf_counter()
        res = self.runner.evaluate(p, deadline - t0)
        self.state.sub_seconds += time.perf_counter() - t0
        self.state.sub_solves += len(self.pieces)
        if any(r is None for r in res):
            return None
        return res  # type: ignore[return-value]

    def close(self) -> None:
        self.runner.close()

    # ------------------------------------------------------------------ master
    def _theta_bounds(self, deadline: float) -> tuple[np.ndarray | None, list[_Eval] | None]:
        """Per piece an upper bound of theta (and, when monotone, the cuts at the plan's upper bounds).

        Monotone models (raising a plan column only relaxes the flow LP, as for z and w in the
        network design): the pieces' values at the plan's upper bounds.  Otherwise the piece's LP
        with the plan free in its box at zero cost.
        """
        if self.monotone:
            ev = self.evaluate(self.phi.copy(), deadline)
            if ev is None:
                return None, None
            return np.array([e.value for e in ev]), ev
        out = []
        for pc in self.pieces:
            h = self.highspy.Highs()
            h.setOptionValue("output_flag", False)
            nb, nl = len(pc.bcol), pc.a_full.shape[1]
            unit = sp.csr_matrix((pc.bcoef, (np.arange(nb), pc.bcol)), shape=(nb, nl))
            a = sp.vstack([sp.hstack([pc.a_full, pc.ap]), sp.hstack([unit, pc.bap])], format="csc")
            m = a.shape[1]
            cost = np.concatenate([pc.cost, np.zeros(pc.ap.shape[1])])
            clo = np.concatenate([pc.clo, self.plo])
            cup = np.concatenate([pc.cup, self.phi])
            h.passModel(m, a.shape[0], int(a.nnz), 1, 1, 0.0, cost, clo, cup, np.concatenate([pc.l0, pc.bl0]),
                        np.concatenate([pc.u0, pc.bu0]), a.indptr.astype(np.int32), a.indices.astype(np.int32),
                        a.data.astype(float), np.zeros(m, dtype=np.int32))
            _set_time_limit(h, deadline, 1.0)
            h.run()
            name = h.modelStatusToString(h.getModelStatus())
            if name == "Time limit reached":
                return None, None
            if name != "Optimal":
                raise _Fallback(f"the flow LP with the plan relaxed ended '{name}'")
            out.append(-float(h.getInfo().objective_function_value))
        return np.array(out), None

    def _build_master(self, vmax: np.ndarray) -> Any:
        h = self.highspy.Highs()
        apply_options(h, replace(self.opts, log=False, time_limit=None))
        np_, k = len(self.plan), len(self.pieces)
        cost = np.concatenate([self.cp, np.ones(k)])
        self.master_cost = cost
        clo = np.concatenate([self.plo, np.full(k, -INF)])
        cup = np.concatenate([self.phi, vmax])
        h.passModel(np_ + k, 0, 0, 1, -1, self.const, cost, clo, cup, np.zeros(0), np.zeros(0),
                    np.zeros(np_ + k + 1, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0),
                    np.zeros(np_ + k, dtype=np.int32))
        rows = [self.a_master]
        lo, up = [self.ml], [self.mu]
        ag, al, au = _aggregate_rows(self.mb, self.plan)
        if ag is not None:
            rows.append(ag)
            lo.append(al)
            up.append(au)
        m = sp.vstack(rows, format="csr") if rows else None
        if m is not None and m.shape[0]:
            m = sp.hstack([m, sp.csr_matrix((m.shape[0], k))], format="csr")
            self._add_rows(h, m, np.concatenate(lo), np.concatenate(up))
        self.n_aggregate = 0 if ag is None else ag.shape[0]
        return h

    @staticmethod
    def saved_solutions(h: Any) -> list[np.ndarray]:
        """The improving solutions of the last master MIP (HiGHS's saved solutions, oldest first)."""
        try:
            return [np.asarray(s.col_value, dtype=float) for s in h.getSavedMipSolutions()]
        except Exception:  # noqa: BLE001 - older highspy: no saved solutions
            return []

    def plan_feasible(self, p: np.ndarray) -> bool:
        """Whether plan p (integral) satisfies the master's plan rows."""
        if np.any(np.abs(p - np.round(p)) > 1e-9) or np.any(p < self.plo - 1e-9) or np.any(p > self.phi + 1e-9):
            return False
        if self.a_master.shape[0] == 0:
            return True
        r = self.a_master @ p
        tol = 1e-7 * np.maximum(1.0, np.abs(r))
        return bool(np.all(r >= self.ml - tol) & np.all(r <= self.mu + tol))

    @staticmethod
    def _add_rows(h: Any, m: sp.csr_matrix, lo: np.ndarray, up: np.ndarray) -> None:
        m = m.tocsr()
        m.sum_duplicates()
        h.addRows(m.shape[0], lo, up, int(m.nnz), m.indptr[:-1].astype(np.int32), m.indices.astype(np.int32),
                  m.data.astype(float))

    def add_cuts(self, h: Any, ev: list[_Eval], p: np.ndarray, theta: np.ndarray | None) -> int:
        """Add the cuts violated at (p, theta) (all when theta is None); return how many."""
        np_, k = len(self.plan), len(self.pieces)
        rows, cols, vals, up = [], [], [], []
        r = 0
        for i, e in enumerate(ev):
            for g, const in ((e.g, e.const),) if e.g2 is None else ((e.g, e.const), (e.g2, e.const2)):
                cut_at = const + float(g @ p)
                if theta is not None and theta[i] <= cut_at + _abs_tol(cut_at):
                    continue
                nz = np.flatnonzero(np.abs(g) > 1e-12)
                rows.append(np.full(len(nz) + 1, r))
                cols.append(np.concatenate([nz, [np_ + i]]))
                vals.append(np.concatenate([-g[nz], [1.0]]))
                up.append(const)
                r += 1
        if r:
            m = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, np_ + k))
            self._add_rows(h, m, np.full(r, -INF), np.array(up))
            self.state.cuts += r
        return r

    def solve_master(self, h: Any, deadline: float, start: np.ndarray | None = None,
                     ) -> tuple[str, np.ndarray | None, float | None, float | None]:
        """(status name, column values, objective, bound) of the master.

        The objective is recomputed from the column values: HiGHS 1.16 can return a MIP
        start as its solution with the objective of another point (seen when presolve
        maps the start into the reduced space); on a mismatch the master is solved again
        without the start and without presolve.
        """
        t0 = time.perf_counter()
        _set_time_limit(h, deadline, 0.5, cumulative=not self.is_mip)
        if start is not None:
            h.setSolution(len(start), np.arange(len(start), dtype=np.int32), start.astype(float))
        h.run()
        self.state.master_solves += 1
        name = h.modelStatusToString(h.getModelStatus())
        tol0 = h.getOptionValue("mip_feasibility_tolerance")[1] if name == "Solve error" else None
        for tol in (1e-5, 1e-4):
            if name != "Solve error":
                break
            # HiGHS rejects its own optimum when a row is violated by more than mip_feasibility_tolerance
            # (1e-6, absolute); cut rows have right-hand sides of the NPV's size (1e11 seen), where 4e-6
            # is rounding: solve again with a looser tolerance (the plan is then evaluated exactly)
            log.debug("master ended 'Solve error': again with mip_feasibility_tolerance %g", tol)
            h.clearSolver()
            h.setOptionValue("mip_feasibility_tolerance", tol)
            _set_time_limit(h, deadline, 0.5, cumulative=not self.is_mip)
            if start is not None:
                h.setSolution(len(start), np.arange(len(start), dtype=np.int32), start.astype(float))
            h.run()
            self.state.master_solves += 1
            self.state.master_retries += 1
            name = h.modelStatusToString(h.getModelStatus())
        if tol0 is not None:  # the tolerance the master had (HiGHS's default or the user's highs_options)
            h.setOptionValue("mip_feasibility_tolerance", float(tol0))
        info = h.getInfo()
        out: tuple[str, np.ndarray | None, float | None, float | None] = (name, None, None, None)
        if int(info.primal_solution_status) == 2:
            v = np.asarray(h.getSolution().col_value, dtype=float)
            obj = float(info.objective_function_value)
            mine = float(self.master_cost @ v) + self.const
            if objective_disagrees(mine, obj):
                log.debug("master objective %.12g but its solution evaluates to %.12g: solving again", obj, mine)
                h.clearSolver()
                h.setOptionValue("presolve", "off")
                _set_time_limit(h, deadline, 0.5, cumulative=not self.is_mip)
                h.run()
                h.setOptionValue("presolve", "choose")
                self.state.master_solves += 1
                name = h.modelStatusToString(h.getModelStatus())
                info = h.getInfo()
                if int(info.primal_solution_status) != 2:
                    self.state.master_seconds += time.perf_counter() - t0
                    return name, None, None, None
                v = np.asarray(h.getSolution().col_value, dtype=float)
                mine = float(self.master_cost @ v) + self.const
            if self.is_mip:
                self.state.master_nodes += int(info.mip_node_count)
                bound = float(info.mip_dual_bound)
            else:
                bound = mine if name == "Optimal" else None
            out = (name, v, mine, bound)
        self.state.master_seconds += time.perf_counter() - t0
        return out


class PieceHost:
    """Subproblem pieces kept as persistent highspy models and solved at a plan.

    The unit of parallel work: in this process (the pieces of a round in a thread pool
    of ``workers`` threads; HiGHS releases the GIL while it runs) or as a Dask actor that
    holds its share of the pieces on a worker between rounds (:class:`_DaskPieces`).
    """

    def __init__(self, pieces: list[_Piece], workers: int = 1) -> None:
        self.pieces = pieces
        self.highspy = _highspy()
        self.pool = ThreadPoolExecutor(workers) if workers > 1 and len(pieces) > 1 else None

    def evaluate(self, p: np.ndarray, seconds_left: float) -> list[_Eval | None]:
        """Each piece's value and cut at ``p``; ``None`` for a piece stopped by the time limit."""
        deadline = time.perf_counter() + seconds_left
        if self.pool is not None:
            return list(self.pool.map(lambda pc: self._evaluate(pc, p, deadline), self.pieces))
        return [self._evaluate(pc, p, deadline) for pc in self.pieces]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False)

    def _evaluate(self, pc: _Piece, p: np.ndarray, deadline: float) -> _Eval | None:
        du = _solve_piece(self.highspy, pc, p, deadline)
        if du is None:
            return None
        ev = _cut(pc, du)
        if pc.knap is not None:
            g2, c2 = _knapsack_cut(pc, du)
            if not (np.allclose(g2, ev.g, rtol=1e-9, atol=1e-9) and math.isclose(c2, ev.const, rel_tol=1e-9)):
                ev.g2, ev.const2 = g2, c2
        return ev


@dataclass
class _Duals:
    """A piece's LP optimum at a plan, as the parts of its weak-duality cut."""

    y: np.ndarray       # row duals (zero on an infinite side)
    yb: np.ndarray      # duals of the rows turned into column bounds
    dterm: np.ndarray   # per local column: reduced cost times the bound it sits at (0 where infinite)
    xv: np.ndarray      # column values
    value: float        # max-form value


def _solve_piece(highspy: Any, pc: _Piece, p: np.ndarray, deadline: float) -> _Duals | None:
    """Solve piece ``pc`` at plan ``p`` (persistent model, warm start); ``None`` at the time limit."""
    if pc.h is None:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        lo, up = _row_bounds(pc, p)
        clo, cup, _, _ = _col_bounds(pc, p)
        a = pc.a_full
        h.passModel(a.shape[1], a.shape[0], int(a.nnz), 1, 1, 0.0, pc.cost, clo, cup, lo, up,
                    a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
                    np.zeros(a.shape[1], dtype=np.int32))
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 1)  # dual simplex: warm start after bound changes
        pc.h = h
    else:
        lo, up = _row_bounds(pc, p)
        n = len(lo)
        if n:
            pc.h.changeRowsBounds(n, np.arange(n, dtype=np.int32), lo, up)
        if len(pc.bcol):
            clo, cup, _, _ = _col_bounds(pc, p)
            pc.h.changeColsBounds(len(pc.bcol), pc.bcol.astype(np.int32), clo[pc.bcol], cup[pc.bcol])
    h = pc.h
    _set_time_limit(h, deadline, 1.0)
    h.run()
    pc.solves += 1
    if pc.first:
        h.setOptionValue("presolve", "off")
        pc.first = False
    name = h.modelStatusToString(h.getModelStatus())
    if name != "Optimal":
        if name == "Time limit reached":
            return None
        raise _Fallback(f"a subproblem piece ended '{name}'")
    sol = h.getSolution()
    y = np.asarray(sol.row_dual, dtype=float)
    xv = np.asarray(sol.col_value, dtype=float)
    lo, up = _row_bounds(pc, p)
    y = np.where((y > 0) & ~np.isfinite(lo), 0.0, y)
    y = np.where((y < 0) & ~np.isfinite(up), 0.0, y)
    d = pc.cost - pc.a_full.T @ y
    # a bound row carries its column's reduced cost (as the row dual d/a) where it is the tighter bound
    yb = np.zeros(len(pc.bcol))
    if len(pc.bcol):
        _, _, lo_r, up_r = _col_bounds(pc, p)
        db = d[pc.bcol]
        use = ((db > 0) & (lo_r >= pc.clo[pc.bcol])) | ((db < 0) & (up_r <= pc.cup[pc.bcol]))
        yb = np.where(use, db / pc.bcoef, 0.0)
        d[pc.bcol[use]] = 0.0
    bcol = np.where(d > 0, pc.clo, pc.cup)
    ok = np.isfinite(bcol)
    dterm = np.where(ok, d * np.where(ok, bcol, 0.0), 0.0)
    return _Duals(y=y, yb=yb, dterm=dterm, xv=xv, value=-float(h.getInfo().objective_function_value))


def _cut(pc: _Piece, du: _Duals) -> _Eval:
    """The piece's value and optimality cut from its LP optimum.

    ``D(p) = dconst - (A_P^T y).p`` is the dual objective (a lower bound of the minimisation cost
    for every plan), so ``theta <= -D(p) = -dconst + g.p``.
    """
    dconst = float(_rowterms(du.y, pc.l0, pc.u0).sum() + _rowterms(du.yb, pc.bl0, pc.bu0).sum() + du.dterm.sum())
    g = pc.ap.T @ du.y + pc.bap.T @ du.yb
    slack = float(du.xv[pc.n_flow:].sum()) if len(du.xv) > pc.n_flow else 0.0
    return _Eval(value=du.value, slack=slack, g=np.asarray(g, dtype=float), const=-dconst)

def _make_piece(cols_l: np.ndarray, rows_l: np.ndarray, sub_rows: np.ndarray, sub_af: sp.csr_matrix,
                sub_ap: sp.csr_matrix, rl: np.ndarray, ru: np.ndarray, ap_min: np.ndarray, ap_max: np.ndarray,
                flo: np.ndarray, fhi: np.ndarray, cf: np.ndarray, flow: np.ndarray, penalty: float) -> _Piece:
    """The LP of the flow columns ``cols_l`` and subproblem rows ``rows_l`` (positions in the subproblem).

    Rows that ``x = 0`` could violate for a plan in the box get a penalty slack; rows with one flow
    term and no slack become bounds of that column.
    """
    l0, u0 = rl[sub_rows[rows_l]], ru[sub_rows[rows_l]]
    slack_lo = np.isfinite(l0) & (l0 - ap_min[rows_l] > 1e-9)
    slack_hi = np.isfinite(u0) & (u0 - ap_max[rows_l] < -1e-9)
    af = sub_af[rows_l][:, cols_l].tocsr()
    single = np.flatnonzero((np.diff(af.indptr) == 1) & ~slack_lo & ~slack_hi)
    bc = af.indices[af.indptr[single]]
    _, first = np.unique(bc, return_index=True)
    brows = single[first]
    keep = np.ones(len(rows_l), dtype=bool)
    keep[brows] = False
    kr = np.flatnonzero(keep)
    need_lo, need_hi = np.flatnonzero(slack_lo[kr]), np.flatnonzero(slack_hi[kr])
    ns = len(need_lo) + len(need_hi)
    slack = sp.csc_matrix((np.concatenate([np.ones(len(need_lo)), -np.ones(len(need_hi))]),
                           (np.concatenate([need_lo, need_hi]).astype(np.int64), np.arange(ns))),
                          shape=(len(kr), ns))
    a_full = sp.hstack([af[kr], slack], format="csc")
    cost = np.concatenate([-cf[cols_l], np.full(ns, penalty)])
    return _Piece(
        cols=flow[cols_l], rows=sub_rows[rows_l[kr]], ap=sub_ap[rows_l[kr]], l0=l0[kr], u0=u0[kr],
        cost=cost, clo=np.concatenate([flo[cols_l], np.zeros(ns)]),
        cup=np.concatenate([fhi[cols_l], np.full(ns, INF)]), a_full=a_full, n_flow=len(cols_l),
        bcol=af.indices[af.indptr[brows]], bcoef=af.data[af.indptr[brows]], bl0=l0[brows], bu0=u0[brows],
        bap=sub_ap[rows_l[brows]])


def _knapsack_structure(pc: _Piece, binary: np.ndarray) -> _Knap | None:
    """The piece's capacitated facility-location structure, or ``None`` when it has none.

    Required: every row with a plan term is ``sum_j a_j x_j - C_i z_i <= 0`` with ``a_j > 0``, one
    plan column ``z_i`` that takes only the values 0 and 1 (binary or fixed) and ``C_i > 0`` (a
    capacity row: kept rows with several flow terms; a bound row ``x_j <= U_j z_i``: one flow term),
    and there is at least one capacity row; every flow column is in the rows of at most one
    plan column and in at most one capacity row, with lower bound 0.  Then ``z_i = 0`` forces its
    flows to 0 and, with the other rows relaxed, the flows of ``z_i = 1`` form one continuous
    knapsack.
    """
    n_plan = len(binary)
    ap, bap = pc.ap.tocsr(), pc.bap.tocsr()
    prow = np.flatnonzero(np.diff(ap.indptr) > 0)
    pbrow = np.flatnonzero(np.diff(bap.indptr) > 0)
    if not len(prow):  # no capacity row: the knapsacks are the bounds, and the cut is the LP-dual one
        return None
    nf = pc.n_flow
    owner = np.full(pc.a_full.shape[1], -1, dtype=np.int64)
    weight = np.zeros(pc.a_full.shape[1])
    cap = np.full(n_plan, INF)
    if np.any(np.diff(ap.indptr)[prow] != 1):
        return None
    zc = ap.indices[ap.indptr[prow]]
    coef = ap.data[ap.indptr[prow]]
    if (np.any(coef >= 0) or np.any(np.isfinite(pc.l0[prow])) or np.any(pc.u0[prow] != 0.0)
            or not binary[zc].all() or len(np.unique(zc)) != len(zc)):
        return None
    sub = pc.a_full.tocsr()[prow].tocoo()
    if np.any(sub.data <= 0) or np.any(sub.col >= nf):
        return None
    if len(np.unique(sub.col)) != len(sub.col):  # a flow in two capacity rows
        return None
    owner[sub.col] = zc[sub.row]
    weight[sub.col] = sub.data
    cap[zc] = -coef
    upper = pc.cup.copy()
    if len(pbrow):
        if np.any(np.diff(bap.indptr)[pbrow] != 1):
            return None
        zb = bap.indices[bap.indptr[pbrow]]
        coef = bap.data[bap.indptr[pbrow]]
        a = pc.bcoef[pbrow]
        if (np.any(coef >= 0) or np.any(a <= 0) or np.any(np.isfinite(pc.bl0[pbrow])) or np.any(pc.bu0[pbrow] != 0.0)
                or not binary[zb].all()):
            return None
        cols = pc.bcol[pbrow]
        if np.any((owner[cols] >= 0) & (owner[cols] != zb)):
            return None
        owner[cols] = zb
        upper[cols] = np.minimum(upper[cols], -coef / a)
    # bound rows without a plan term are plain column bounds
    lower = pc.clo.copy()
    nb = np.setdiff1d(np.arange(len(pc.bcol)), pbrow)
    if len(nb):
        _, _, lo_all, up_all = _col_bounds(pc, np.zeros(n_plan))  # without plan terms: the same at every plan
        lo_r, up_r = lo_all[nb], up_all[nb]
        cols = pc.bcol[nb]
        if np.any((owner[cols] >= 0) & (lo_r > 0)):
            return None
        upper[cols] = np.minimum(upper[cols], up_r)
        lower[cols] = np.maximum(lower[cols], lo_r)
    linked = np.flatnonzero(owner >= 0)
    if np.any(pc.clo[linked] != 0.0):
        return None
    free = np.flatnonzero(owner < 0)
    return _Knap(plan_rows=prow, linked=linked, owner=owner[linked], weight=weight[linked], upper=upper[linked],
                 cap=cap, free=free, free_lo=lower[free], free_up=upper[free])


def _knapsack_cut(pc: _Piece, du: _Duals) -> tuple[np.ndarray, float]:
    """The knapsack-strengthened cut ``theta <= const + g.z`` (Fischetti, Ljubic & Sinnl, EJOR 2016).

    Lagrangian relaxation of every row without a plan term, with the LP's duals ``y`` as multipliers
    (``r = c - A^T y`` the flows' reduced costs without the capacity rows' duals): for every plan
    ``p`` with binary ``z``,

        min cost(p) >= sum_rows y_i B_i + sum_(free j) r_j b_j + sum_i z_i KP_i,
        KP_i = min { sum_(j in i) r_j x_j : sum_j a_j x_j <= C_i, 0 <= x_j <= U_j }

    (a continuous knapsack, solved greedily by ``r_j / a_j``), since ``z_i = 0`` forces plant i's
    flows to 0 and ``z_i = 1`` leaves that knapsack.  With the LP's optimal duals it is tight at the
    plan evaluated and dominates the LP-dual cut at every other binary plan.
    """
    k = pc.knap
    assert k is not None
    y = du.y.copy()
    y[k.plan_rows] = 0.0
    lo, up = pc.l0, pc.u0
    r = pc.cost - pc.a_full.T @ y
    const_min = float(_rowterms(y, lo, up).sum())
    # free columns at the side of their box that r prefers (0 where that side is infinite)
    fr = r[k.free]
    side = np.where(fr > 0, k.free_lo, k.free_up)
    ok = np.isfinite(side)
    const_min += float((fr[ok] * side[ok]).sum())
    # one continuous knapsack per plan column: items with r < 0, best r / a first; an item without a
    # capacity row (w = 0) is limited by its own bound only
    kr = r[k.linked]
    neg = kr < 0
    g = np.zeros(len(k.cap))
    if neg.any():
        own, w, u, rr = k.owner[neg], k.weight[neg], k.upper[neg], kr[neg]
        ratio = np.where(w > 0, rr / np.where(w > 0, w, 1.0), -INF)
        order = np.lexsort((ratio, own))
        own, w, u, rr = own[order], w[order], u[order], rr[order]
        use = np.where(w > 0, w * u, 0.0)  # capacity an item takes when full (inf if unbounded)
        unbounded = ~np.isfinite(use)
        fin = np.where(unbounded, 0.0, use)
        first = np.r_[0, np.flatnonzero(np.diff(own)) + 1]
        sizes = np.diff(np.r_[first, len(own)])

        def before(v: np.ndarray) -> np.ndarray:
            """Sum of v over the earlier items of the same plan column."""
            c = np.cumsum(v) - v
            return c - np.repeat(c[first], sizes)

        left = np.where(before(unbounded.astype(float)) > 0, 0.0, np.maximum(k.cap[own] - before(fin), 0.0))
        x = np.where(w > 0, np.minimum(u, left / np.where(w > 0, w, 1.0)), u)
        if np.any(~np.isfinite(x)):  # an item with r < 0 and no finite limit: the LP-dual cut instead
            e = _cut(pc, du)
            return e.g, e.const
        g = -np.bincount(own, rr * x, minlength=len(k.cap))
    return g, -const_min


def _row_bounds(pc: _Piece, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The piece's row bounds at plan p: L - A_P p, U - A_P p."""
    shift = pc.ap @ p
    return pc.l0 - shift, pc.u0 - shift


def _col_bounds(pc: _Piece, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column bounds at p (natural bounds and the bound rows) and the bound rows' implied (lower, upper)."""
    s = pc.bap @ p
    a = pc.bcoef
    with np.errstate(invalid="ignore"):
        lo_r = np.where(a > 0, (pc.bl0 - s) / a, (pc.bu0 - s) / a)
        up_r = np.where(a > 0, (pc.bu0 - s) / a, (pc.bl0 - s) / a)
    clo, cup = pc.clo.copy(), pc.cup.copy()
    clo[pc.bcol] = np.maximum(clo[pc.bcol], lo_r)
    cup[pc.bcol] = np.minimum(cup[pc.bcol], up_r)
    return clo, cup, lo_r, up_r


class _DaskPieces:
    """The pieces spread over the workers of a Dask cluster, one :class:`PieceHost` actor per worker.

    Pieces go to workers largest first, each to the worker with the fewest nonzeros so far;
    an actor keeps its pieces' highspy models (and their warm bases) between rounds, so a
    round sends only the plan and receives the cuts.
    """

    def __init__(self, pieces: list[_Piece], address: str) -> None:
        from .cluster import connect

        self.client = connect(address)
        workers = sorted(self.client.scheduler_info()["workers"])
        if not workers:
            self.client.close()
            raise _Fallback(f"the Dask cluster at {address} has no workers")
        load = [0] * len(workers)
        share: list[list[int]] = [[] for _ in workers]
        for k in sorted(range(len(pieces)), key=lambda k: -pieces[k].a_full.nnz):
            i = load.index(min(load))
            share[i].append(k)
            load[i] += pieces[k].a_full.nnz + 1
        self.share = [(w, ks) for w, ks in zip(workers, share) if ks]
        self.n = len(pieces)
        with self.client.as_current():
            self.futures = [self.client.submit(PieceHost, [pieces[k] for k in ks], actor=True, workers=[w],
                                               pure=False) for w, ks in self.share]
            self.actors = [f.result() for f in self.futures]

    def evaluate(self, p: np.ndarray, seconds_left: float) -> list[_Eval | None]:
        out: list[_Eval | None] = [None] * self.n
        with self.client.as_current():
            calls = [a.evaluate(p, seconds_left) for a in self.actors]
            for (_, ks), c in zip(self.share, calls):
                for k, e in zip(ks, c.result()):
                    out[k] = e
        return out

    def close(self) -> None:
        try:
            self.futures.clear()
            self.actors.clear()
            self.client.close()
        except Exception:  # closing a cluster connection must not lose the result
            log.debug("closing the Dask client failed", exc_info=True)


def _redundant_rows(af: sp.csr_matrix, ap: sp.csr_matrix, rl: np.ndarray, ru: np.ndarray, flo: np.ndarray,
                    fhi: np.ndarray, plo: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Subproblem rows ``A_F x + A_P p <= u`` that no flow can violate for any plan in the box.

    A flow's upper bound is its column bound, or ``U_j p_k`` where a row ``x_j - U_j p_k <= 0`` (the
    valid inequalities ``x <= U z``) exists.  A row with ``lower = -inf`` is redundant when
    ``max_x A_F x + A_P p`` (positive terms at those upper bounds, negative ones at their lower bounds)
    is at most ``u`` for every plan ``p`` in its box: a linear function of ``p``, checked at its worst
    corner.  Example: a p-median plant's capacity row (capacity = all demand) once ``x <= d z`` holds.
    Dropping them leaves the flow LP's value unchanged for every plan, so its cuts stay exact, and
    lets customers fall apart into separate pieces.
    """
    n = af.shape[0]
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    nf, np_ = af.shape[1], ap.shape[1]
    cnt_f, cnt_p = np.diff(af.indptr), np.diff(ap.indptr)
    brow = np.flatnonzero((cnt_f == 1) & (cnt_p == 1) & ~np.isfinite(rl) & (ru == 0.0))
    a = af.data[af.indptr[brow]]
    b = ap.data[ap.indptr[brow]]
    ok = (a > 0) & (b < 0)
    brow, j, k, u = brow[ok], af.indices[af.indptr[brow[ok]]], ap.indices[ap.indptr[brow[ok]]], -b[ok] / a[ok]
    _, first = np.unique(j, return_index=True)
    j, k, u = j[first], k[first], u[first]
    linear = np.zeros(nf, dtype=bool)
    linear[j] = True
    bound = sp.csr_matrix((u, (j, k)), shape=(nf, np_))
    cand = ~np.isfinite(rl) & np.isfinite(ru)
    cand[brow] = False
    if not cand.any():
        return out
    rows = np.flatnonzero(cand)
    sub = af[rows]
    pos, neg = sub.maximum(0), sub.minimum(0)
    # an unbounded term (no finite upper bound, or a negative term without a finite lower one) rules a row out
    inf_hi = ~linear & ~np.isfinite(fhi)
    inf_lo = ~np.isfinite(flo)
    bad = (pos @ inf_hi.astype(float) > 0) | (neg @ inf_lo.astype(float) != 0)
    const = pos @ np.where(linear | inf_hi, 0.0, fhi) + neg @ np.where(inf_lo, 0.0, flo)
    coef = (pos @ bound + ap[rows]).tocsr()
    worst = const.astype(float)
    if coef.nnz:
        c = coef.tocoo()
        worst += np.bincount(c.row, np.maximum(c.data * plo[c.col], c.data * phi[c.col]), minlength=len(rows))
    red = ~bad & np.isfinite(worst) & (worst <= ru[rows] + 1e-9 * np.maximum(1.0, np.abs(ru[rows])))
    out[rows[red]] = True
    return out


def _set_time_limit(h: Any, deadline: float, least: float, cumulative: bool = True) -> None:
    """The time left (at least ``least`` seconds) as HiGHS's time_limit of the next run.

    Measured in highspy 1.16: an LP run is stopped against the object's *total* run time
    (``getRunTime``, summed over runs), a MIP run against its own time; a persistent LP
    therefore gets its run time so far plus the time left.
    """
    left = deadline - time.perf_counter()
    if math.isfinite(left):
        h.setOptionValue("time_limit", (float(h.getRunTime()) if cumulative else 0.0) + max(left, least))


def _abs_tol(v: float) -> float:
    """Absolute tolerance on a value of size v: 1e-6, or 1e-9 relative for large values."""
    return max(1e-6, 1e-9 * abs(v))


def _rowterms(y: np.ndarray, l0: np.ndarray, u0: np.ndarray) -> np.ndarray:
    """Per row y_i * (l0_i if y_i > 0 else u0_i), zero where the bound is infinite."""
    lv = np.where(np.isfinite(l0), l0, 0.0)
    uv = np.where(np.isfinite(u0), u0, 0.0)
    return np.where(y > 0, y * lv, y * uv)


class _Fallback(Exception):
    """The decomposition cannot finish this model; the monolithic model takes over."""


def _aggregate_rows(mb: Blocks, plan: np.ndarray) -> tuple[sp.csr_matrix | None, np.ndarray, np.ndarray]:
    """Per year: sum_p capacity_p z_(p,y) >= sum of the positive min_units of that year's demand rows.

    Valid because every flow-year x >= 0 is in exactly one plant_capacity row
    (``sum x - cap z <= 0``, all x coefficients 1) and in at most one demand row
    (``sum x >= min_units``, coefficients 1): summing gives
    sum min <= sum x <= sum cap z.  Checked on the blocks; skipped if they do not
    have that form.
    """
    cap, dem = mb.cons.get("plant_capacity"), mb.cons.get("demand")
    x = mb.vars.get("x")
    if cap is None or dem is None or x is None or "year" not in cap.labels or "year" not in dem.labels:
        return None, np.zeros(0), np.zeros(0)
    is_x = (cap.col >= x.offset) & (cap.col < x.offset + x.size)
    is_xd = (dem.col >= x.offset) & (dem.col < x.offset + x.size)
    if (not np.all(cap.val[is_x] == 1.0) or not np.all(dem.val == 1.0) or not is_xd.all()
            or not np.all(cap.upper == 0.0) or not np.all(x.lower >= 0)
            or np.bincount(cap.col[is_x] - x.offset, minlength=x.size).max(initial=0) > 1):
        return None, np.zeros(0), np.zeros(0)
    pos = np.full(mb.n_cols, -1)
    pos[plan] = np.arange(len(plan))
    zterms = ~is_x
    zc = pos[cap.col[zterms]]
    if (zc < 0).any():
        return None, np.zeros(0), np.zeros(0)
    cap_year = cap.labels["year"].to_numpy()[cap.row[zterms]]
    years = np.unique(dem.labels["year"].to_numpy())
    need = np.where(np.isfinite(dem.lower) & (dem.lower > 0), dem.lower, 0.0)
    dyear = dem.labels["year"].to_numpy()
    rows, cols, vals, lo = [], [], [], []
    r = 0
    for y in years:
        total = float(need[dyear == y].sum())
        if total <= 0:
            continue
        sel = cap_year == y
        rows.append(np.full(int(sel.sum()), r))
        cols.append(zc[sel])
        vals.append(-cap.val[zterms][sel])
        lo.append(total)
        r += 1
    if not r:
        return None, np.zeros(0), np.zeros(0)
    m = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, len(plan)))
    return m, np.array(lo), np.full(r, INF)


def solve_benders(mb: Blocks, opts: SolveOptions, start: np.ndarray | None = None,
                  bopts: BendersOptions | None = None) -> SolveReport:
    """Solve ``mb`` by Benders decomposition (see the module docstring); a :class:`SolveReport`.

    The report's ``method`` is ``"benders"`` and ``decomposition`` holds rounds, cuts,
    master solves, pieces and timings; when the decomposition has to give up (a
    piece ends neither optimal nor at the time limit, or the final plan still
    needs the penalty slack) the monolithic model is solved and ``method`` says
    ``"monolithic"`` with the reason.
    """
    bopts = bopts or BendersOptions()
    t_start = time.perf_counter()
    limit = opts.time_limit if opts.time_limit is not None else INF
    deadline = t_start + limit
    gap_target = 1e-4 if opts.mip_gap is None else float(opts.mip_gap)
    dec = None
    try:
        dec = _Decomposition(mb, opts, bopts)
        return _loop(dec, mb, opts, bopts, start, t_start, deadline, gap_target)
    except _Fallback as exc:
        log.info("Benders: %s; solving the monolithic model", exc)
        return _monolithic(mb, opts, start, t_start, f"decomposition gave up: {exc}", deadline)
    finally:
        if dec is not None:
            dec.close()


def _monolithic(mb: Blocks, opts: SolveOptions, start: np.ndarray | None, t_start: float, reason: str,
                deadline: float, extra: dict[str, Any] | None = None) -> SolveReport:
    left = deadline - time.perf_counter()
    o = opts if not math.isfinite(left) else replace(opts, time_limit=max(left, 1.0))
    rep = solve_blocks(mb, o, start)
    info = {"method": "monolithic", "reason": reason} | (extra or {})
    return replace(rep, method="monolithic", decomposition=info,
                   transfer_seconds=rep.transfer_seconds + (time.perf_counter() - t_start - rep.transfer_seconds
                                                            - rep.solver_seconds))


def _loop(dec: _Decomposition, mb: Blocks, opts: SolveOptions, bopts: BendersOptions, start: np.ndarray | None,
          t_start: float, deadline: float, gap_target: float) -> SolveReport:
    st = dec.state
    t_setup = time.perf_counter() - t_start
    if dec.trivially_infeasible:
        return _final(dec, mb, opts, None, None, INF, Status.INFEASIBLE, Termination.INFEASIBLE, t_start, t_setup,
                      "a constraint with no variables cannot hold")
    vmax, ev_top = dec._theta_bounds(deadline)
    if vmax is None:
        return _final(dec, mb, opts, None, None, None, Status.TIME_LIMIT, Termination.TIME_LIMIT, t_start, t_setup,
                      "time limit before the first master")
    h = dec._build_master(vmax)
    np_, k = len(dec.plan), len(dec.pieces)
    # a valid bound before any master: every plan term at its best end, every theta at its bound
    ub0 = dec.const + float(np.maximum(dec.cp * dec.plo, dec.cp * dec.phi).sum()) + float(vmax.sum())
    # ---------------- LP phase: stabilised in-out loop
    best_plan: np.ndarray | None = None
    best_val = -INF
    best_theta: np.ndarray | None = None
    timed_out = False

    def consider(p: np.ndarray, ev: list[_Eval]) -> None:
        nonlocal best_plan, best_val, best_theta
        slack = sum(e.slack for e in ev)
        if slack > 1e-6 or not dec.plan_feasible(p):
            return
        val = float(dec.cp @ p) + dec.const + sum(e.value for e in ev)
        if val > best_val:
            best_plan, best_val, best_theta = p.copy(), val, np.array([e.value for e in ev])

    if ev_top is not None:
        dec.add_cuts(h, ev_top, dec.phi, None)
        consider(dec.phi.copy(), ev_top)
    if start is not None:
        sp_ = start[dec.plan]
        if not np.isnan(sp_).any():
            p0 = np.clip(np.round(sp_), dec.plo, dec.phi)
            ev = dec.evaluate(p0, deadline)
            if ev is not None:
                dec.add_cuts(h, ev, p0, None)
                consider(p0, ev)
    core = None
    lam = bopts.in_out_lambda
    lp_ub = INF
    lp_lb = -INF
    lp_end = t_start + bopts.lp_time_share * (deadline - t_start) if math.isfinite(deadline) else INF
    for _ in range(bopts.lp_rounds):
        if time.perf_counter() > deadline:
            timed_out = True
            break
        if time.perf_counter() > lp_end:
            break
        name, v, obj, lpb = dec.solve_master(h, deadline)
        if v is None:
            if name == "Infeasible":
                return _final(dec, mb, opts, None, None, None, Status.INFEASIBLE, Termination.INFEASIBLE, t_start,
                              t_setup, "the plan constraints (master) are infeasible")
            break
        st.lp_rounds += 1
        p_out, th_out = v[:np_], v[np_:]
        lp_ub = obj
        if lpb is not None:
            ub0 = min(ub0, lpb)  # the LP master's optimum bounds the integer problem too
        core = p_out.copy() if core is None else core
        sep = lam * p_out + (1 - lam) * core
        ev = dec.evaluate(sep, deadline)
        if ev is None:
            timed_out = True
            break
        lp_lb = max(lp_lb, float(dec.cp @ sep) + dec.const + sum(e.value for e in ev))
        cut_out = [e.const + float(e.g @ p_out) for e in ev]
        violated = any(th_out[i] > cut_out[i] + 1e-7 * max(1.0, abs(cut_out[i])) for i in range(k))
        dec.add_cuts(h, ev, sep, None)
        if lam < 1.0 and not violated:
            lam = 1.0
        core = 0.5 * (core + p_out)
        log.debug("LP round %d: bound %.10g value %.10g lambda %.2f slack %.3g (%.1f s)", st.lp_rounds, lp_ub, lp_lb,
                  lam, sum(e.slack for e in ev), time.perf_counter() - t_start)
        if lp_ub - lp_lb <= bopts.lp_gap * max(1.0, abs(lp_ub)):
            break
    lp_info = {"lp_bound": None if not math.isfinite(lp_ub) else lp_ub,
               "lp_value": None if not math.isfinite(lp_lb) else lp_lb}
    # ---------------- integer phase
    integ_idx = np.arange(np_, dtype=np.int32)
    h.changeColsIntegrality(np_, integ_idx, np.ones(np_, dtype=np.uint8))
    dec.is_mip = True
    h.setOptionValue("mip_improving_solution_save", True)
    ub = ub0
    status, term = Status.TIME_LIMIT, Termination.TIME_LIMIT
    message = ""
    exact = False
    full_time = False
    master_error = ""

    def close_enough() -> bool:
        return best_plan is not None and ub - best_val <= max(gap_target * max(abs(best_val), 1e-10),
                                                                _abs_tol(best_val))

    while st.rounds < bopts.max_rounds:
        if time.perf_counter() > deadline:
            timed_out = True
            break
        # early masters to a looser gap (their dual bound is valid all the same), exact once nothing is cut off
        cur = (ub - best_val) / max(abs(best_val), 1e-10) if best_plan is not None and math.isfinite(ub) else INF
        mgap = gap_target if exact else max(gap_target, min(bopts.master_gap, 0.1 * cur))
        h.setOptionValue("mip_rel_gap", float(mgap))
        mstart = None if best_plan is None else np.concatenate([best_plan, best_theta])
        # one master may take a share of the time left, then its incumbent is cut (full time once that cuts nothing)
        now = time.perf_counter()
        cap = deadline if full_time else min(deadline, now + max(bopts.master_time_min,
                                                                  bopts.master_time_share * (deadline - now)))
        name, v, obj, bound = dec.solve_master(h, cap, mstart)
        st.rounds += 1
        if bound is not None and math.isfinite(bound):
            ub = min(ub, bound)
        if v is None:
            if name == "Infeasible":
                return _final(dec, mb, opts, None, None, None, Status.INFEASIBLE, Termination.INFEASIBLE, t_start,
                              t_setup, "the plan constraints (master) are infeasible", lp_info)
            log.debug("master ended '%s' without a solution (%.1f s)", name, time.perf_counter() - t_start)
            if not full_time and time.perf_counter() < deadline:
                full_time = True
                continue
            if name != "Time limit reached" and time.perf_counter() < deadline:
                master_error = name
                message = f"the master MIP ended '{name}' without a solution"
            timed_out = True
            break
        p = np.clip(np.round(v[:np_]), dec.plo, dec.phi)
        ev = dec.evaluate(p, deadline)
        if ev is None:
            timed_out = True
            break
        consider(p, ev)
        added = dec.add_cuts(h, ev, p, v[np_:])
        # the master's other improving solutions of this solve: more cuts per master solve
        seen = {p.tobytes()}
        for sol in reversed(dec.saved_solutions(h)[:-1][-bopts.extra_plans:]):
            q = np.clip(np.round(sol[:np_]), dec.plo, dec.phi)
            if q.tobytes() in seen or time.perf_counter() > deadline:
                continue
            seen.add(q.tobytes())
            evq = dec.evaluate(q, deadline)
            if evq is None:
                break
            consider(q, evq)
            added += dec.add_cuts(h, evq, q, sol[np_:])
        log.debug("round %d: master %s (gap %.1e) bound %.10g best %.10g plan value %.10g slack %.3g cuts %d "
                  "(%.1f s)", st.rounds, name, mgap, ub, best_val,
                  float(dec.cp @ p) + dec.const + sum(e.value for e in ev), sum(e.slack for e in ev), added,
                  time.perf_counter() - t_start)
        if close_enough():
            status, term = Status.OPTIMAL, Termination.OPTIMAL
            break
        if added == 0:
            if name != "Optimal":
                if not full_time and time.perf_counter() < deadline:
                    full_time = True  # stopped at its share of the time: give it all the time left
                    continue
                timed_out = True
                break  # master stopped at its time limit; nothing more to learn
            if not exact and mgap > gap_target:
                exact = True
                continue
            # the master's optimum is exact for the penalised problem
            if sum(e.slack for e in ev) > 1e-6:
                raise _Fallback("the best plan of the penalised master still needs the penalty slack "
                                "(instance infeasible or penalty too small)")
            status, term = Status.OPTIMAL, Termination.OPTIMAL
            break
        exact = False
        full_time = False
    else:
        message = f"stopped after {bopts.max_rounds} master rounds"
    if best_plan is None:
        if not timed_out:
            raise _Fallback("no plan without penalty slack found")
        return _final(dec, mb, opts, None, None, ub, Status.TIME_LIMIT, Termination.TIME_LIMIT, t_start, t_setup,
                      message or "time limit before a feasible plan", lp_info)
    if status is not Status.OPTIMAL:
        status, term = Status.FEASIBLE, Termination.ERROR if master_error else Termination.TIME_LIMIT
    return _final(dec, mb, opts, best_plan, best_val, ub, status, term, t_start, t_setup, message, lp_info)


def _final(dec: _Decomposition, mb: Blocks, opts: SolveOptions, plan: np.ndarray | None, value: float | None,
           ub: float | None, status: Status, term: Termination, t_start: float, t_setup: float, message: str,
           extra: dict[str, Any] | None = None) -> SolveReport:
    st = dec.state
    info: dict[str, Any] = {
        "method": "benders", "rounds": st.rounds, "lp_rounds": st.lp_rounds, "cuts": st.cuts,
        "master_solves": st.master_solves, "master_nodes": st.master_nodes, "master_retries": st.master_retries,
        "pieces": len(dec.pieces),
        "components": dec.n_components, "redundant_rows": dec.n_redundant,
        "aggregate_rows": getattr(dec, "n_aggregate", 0), "knapsack_pieces": dec.n_knapsack,
        "sub_solves": st.sub_solves, "penalty": dec.penalty, "master_seconds": round(st.master_seconds, 3),
        "sub_seconds": round(st.sub_seconds, 3), "setup_seconds": round(t_setup, 3),
    } | (extra or {})
    highspy = dec.highspy
    version = highspy.Highs().version()
    sizes = mb.sizes()
    if plan is None:
        total = time.perf_counter() - t_start
        return SolveReport(status=status, termination=term, has_solution=False, objective=None,
                           bound=ub if ub is not None and math.isfinite(ub) else None, gap=None, nodes=st.master_nodes,
                           solver="HiGHS (Benders)", solver_version=version, transfer_seconds=t_setup,
                           solver_seconds=total - t_setup, message=message, sizes=sizes, method="benders",
                           decomposition=info)
    # final solve of the monolithic blocks with the plan fixed: exactly consistent tables
    saved = {}
    try:
        for name in PLAN_FAMILIES:
            vb = mb.vars.get(name)
            if vb is None or vb.size == 0:
                continue
            saved[name] = (vb.lower.copy(), vb.upper.copy())
        pos = np.full(mb.n_cols, -1)
        pos[dec.plan] = np.arange(len(dec.plan))
        for name, (lo, hi) in saved.items():
            vb = mb.vars[name]
            vals = plan[pos[vb.cols]]
            vb.lower[:] = vals
            vb.upper[:] = vals
        t0 = time.perf_counter()
        rep = solve_blocks(mb, replace(opts, time_limit=None, mip_gap=None))
        t_final = time.perf_counter() - t0
    finally:
        for name, (lo, hi) in saved.items():
            mb.vars[name].lower[:] = lo
            mb.vars[name].upper[:] = hi
    info["final_seconds"] = round(t_final, 3)
    if not rep.has_solution:
        raise _Fallback(f"the monolithic model with the plan fixed ended {rep.status} ({rep.highs_status})")
    obj = float(rep.objective)
    if value is not None and abs(obj - value) > 1e-6 * max(1.0, abs(obj)):
        log.warning("Benders: plan value %.10g, fixed-plan monolithic solve %.10g", value, obj)
    info["plan_value"] = value
    # no master bound yet (time limit before the first integer master): no bound is claimed
    bound = None if ub is None or not math.isfinite(ub) else max(float(ub), obj)
    gap = _gap(obj, bound)
    if status is Status.OPTIMAL and gap is not None and opts.mip_gap is not None and gap > opts.mip_gap \
            and abs(bound - obj) > 10 * _abs_tol(obj):
        status, term = Status.FEASIBLE, Termination.TIME_LIMIT
    total = time.perf_counter() - t_start
    return SolveReport(status=status, termination=term, has_solution=True, objective=obj, bound=bound, gap=gap,
                       nodes=st.master_nodes, solver="HiGHS (Benders)", solver_version=version,
                       transfer_seconds=t_setup, solver_seconds=total - t_setup, message=message,
                       highs_status=rep.highs_status, sizes=sizes, solution=rep.solution, method="benders",
                       decomposition=info)
