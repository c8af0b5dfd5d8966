"""The reference ("the limit"): the same MIP built directly with vectorised highspy calls.

:func:`build_highs` turns the engine's prepared data (``optimizer.data.prepare.prepare``)
into a populated ``highspy.Highs`` object with a handful of numpy operations and
four highspy calls (``addVars``, ``changeColsCost``, ``changeColsIntegrality``,
``addRows``), no modelling layer.  It mirrors ``models/network_design.py`` and
``models/constraints.py`` row family by row family, including what Pyomo's
standard-form compiler does with fixed plant variables (``status`` keep/close):
they are constants, not columns, and move into the row bounds.  So the sizes
(columns, binaries, rows, nonzeros) equal the engine's and the runner records
whether they do (``ref_same_size``) and whether both reach the same optimum.

:func:`write_mps` writes that model once to an MPS file (outside any timed
region); :func:`read_mps` times highspy reading it back, the path of a user who
hands a model file to the solver alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.data.prepare import ModelData


@dataclass
class RefModel:
    highs: Any
    seconds: float
    sizes: dict[str, int]
    offset: float


class _Rows:
    """Row triplets collected family by family, then one CSR."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.n = 0

    def add(self, nrows: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
            lo: np.ndarray | float, hi: np.ndarray | float) -> None:
        if nrows == 0:
            return
        self.r.append(np.asarray(rows, dtype=np.int64) + self.n)
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (nrows,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (nrows,)))
        self.n += nrows


def build_highs(data: ModelData, valid_inequalities: bool = True, highs: Any = None,
                per_flow: bool = False) -> RefModel:
    """Build the network-design MIP of ``data`` in highspy with vectorised calls (timed).

    ``per_flow=False`` (default) mirrors the engine's current rows: software and valid
    inequalities aggregated per (v, s, m) and (p, v, m); ``per_flow=True`` writes them per
    flow as the contract states them (same integer solutions, more rows).
    """
    import highspy

    t0 = time.perf_counter()
    inf = np.inf
    fl = data.flows
    n = len(fl)
    plants = data.plants
    status = plants["status"].to_numpy()
    free = status == "free"
    zfix = np.where(status == "keep", 1.0, 0.0)           # value of a fixed z (ignored when free)
    npl = len(plants)
    zcol = np.full(npl, -1, dtype=np.int64)
    zcol[free] = n + np.arange(int(free.sum()))
    ncol = n + int(free.sum())
    fp = plants.index.get_indexer(fl["plant"])            # plant position per flow
    cap = plants["capacity"].to_numpy(float)

    # w: non-default stacks some flow uses
    used = fl[["model", "stack"]].drop_duplicates()
    nd = data.stacks[~data.stacks["default"]].merge(used, on=["model", "stack"])
    wcol0 = ncol
    ncol += len(nd)
    # a: sourcing choices (single sourcing, (v, m) with several candidate plants)
    if data.single_sourcing and n:
        pvm = fl[["plant", "model", "market"]].drop_duplicates()
        cnt = pvm.groupby(["model", "market"])["plant"].transform("size")
        A = pvm[cnt > 1].reset_index(drop=True)
    else:
        A = pd.DataFrame(columns=["plant", "model", "market"])
    acol0 = ncol
    ncol += len(A)

    R = _Rows()
    fidx = np.arange(n)
    # plant capacity: sum_F(p) x - cap_p z_p <= 0
    if n:
        gp = np.unique(fp)
        row_of_plant = np.full(npl, -1)
        row_of_plant[gp] = np.arange(len(gp))
        fr = gp[free[gp]]
        R.add(len(gp), np.concatenate([row_of_plant[fp], row_of_plant[fr]]),
              np.concatenate([fidx, zcol[fr]]), np.concatenate([np.ones(n), -cap[fr]]),
              -inf, np.where(free[gp], 0.0, cap[gp] * zfix[gp]))
    # line capacity
    if n and not data.lines.empty:
        lc = fl[["plant", "model"]].merge(data.lines, on=["plant", "model"], how="left")["capacity"].to_numpy(float)
        has = ~np.isnan(lc)
        if has.any():
            sub = fl.loc[has, ["plant", "model"]]
            code = sub.groupby(["plant", "model"], sort=True).ngroup().to_numpy()
            k = int(code.max()) + 1
            first = np.unique(code, return_index=True)[1]
            fsub = fidx[has]
            gp_ = fp[fsub][first]
            gcap = lc[fsub][first]
            fr = free[gp_]
            R.add(k, np.concatenate([code, np.arange(k)[fr]]), np.concatenate([fsub, zcol[gp_[fr]]]),
                  np.concatenate([np.ones(len(fsub)), -gcap[fr]]), -inf, np.where(fr, 0.0, gcap * zfix[gp_]))
    # demand: min_units <= sum_F(v, m) x <= max_units
    if n:
        code = fl.groupby(["model", "market"], sort=True).ngroup().to_numpy()
        k = int(code.max()) + 1
        first = np.unique(code, return_index=True)[1]
        keys = fl[["model", "market"]].iloc[first]
        d = keys.merge(data.demand[["model", "market", "min_units", "max_units"]], on=["model", "market"], how="left")
        lo = d["min_units"].to_numpy(float)
        R.add(k, code, fidx, np.ones(n), np.where(lo > 0, lo, -inf), d["max_units"].to_numpy(float))
    # software, per (v, s, m) of a non-default stack with flows: sum_p x - max_units_vm w_vs <= 0
    # (per_flow=True: the contract's x_f - max_units_vm w_vs <= 0 per flow)
    if len(nd):
        wpos = pd.MultiIndex.from_frame(nd[["model", "stack"]]).get_indexer(
            pd.MultiIndex.from_frame(fl[["model", "stack"]]))
        sel = np.flatnonzero(wpos >= 0)
        if per_flow:
            code = np.arange(len(sel))
        else:
            code = fl.iloc[sel].groupby(["model", "stack", "market"], sort=True).ngroup().to_numpy()
        k = int(code.max()) + 1 if len(sel) else 0
        first = np.unique(code, return_index=True)[1]
        R.add(k, np.concatenate([code, np.arange(k)]), np.concatenate([sel, wcol0 + wpos[sel][first]]),
              np.concatenate([np.ones(len(sel)), -fl["max_units"].to_numpy(float)[sel][first]]), -inf, 0.0)
    # export channels: sum x <= capacity_o
    ch = fl["channel"].to_numpy(dtype=object)
    has = pd.notna(ch)
    if has.any():
        sub = fl.loc[has, "channel"]
        codes, uniq = pd.factorize(sub, sort=True)
        R.add(len(uniq), codes, fidx[has], np.ones(int(has.sum())), -inf,
              data.channels["capacity"].reindex(uniq).to_numpy(float))
    # plants kept
    lo_k, hi_k = data.plants_kept
    nkeep = float((status == "keep").sum())
    if lo_k is not None or hi_k is not None:
        fz = zcol[free]
        R.add(1, np.zeros(len(fz)), fz, np.ones(len(fz)), -inf if lo_k is None else lo_k - nkeep,
              inf if hi_k is None else hi_k - nkeep)
    # jobs cut: sum hc (1 - z) >= min  ->  -sum_free hc z >= min - sum hc + sum_keep hc
    if data.min_jobs_cut is not None and data.min_jobs_cut > 0:
        hc = plants["headcount"].to_numpy(float)
        rhs = float(data.min_jobs_cut) - hc.sum() + hc[status == "keep"].sum()
        R.add(1, np.zeros(int(free.sum())), zcol[free], -hc[free], rhs, inf)
    # single sourcing
    if len(A):
        vm_code = A.groupby(["model", "market"], sort=True).ngroup().to_numpy()
        k = int(vm_code.max()) + 1
        R.add(k, vm_code, acol0 + np.arange(len(A)), np.ones(len(A)), -inf, 1.0)
        apos = pd.MultiIndex.from_frame(A).get_indexer(pd.MultiIndex.from_frame(fl[["plant", "model", "market"]]))
        sel = np.flatnonzero(apos >= 0)
        maxu = A.merge(data.demand[["model", "market", "max_units"]], on=["model", "market"], how="left")[
            "max_units"].to_numpy(float)
        R.add(len(A), np.concatenate([apos[sel], np.arange(len(A))]),
              np.concatenate([sel, acol0 + np.arange(len(A))]), np.concatenate([np.ones(len(sel)), -maxu]),
              -inf, 0.0)
    # valid inequalities: x_f - U_f z_p <= 0 (free plants, U_f > 0); a - z <= 0
    if valid_inequalities and n:
        ub = np.minimum(fl["max_units"].to_numpy(float), cap[fp])
        if not data.lines.empty:
            line = fl[["plant", "model"]].merge(data.lines, on=["plant", "model"], how="left")["capacity"].to_numpy(float)
            ub = np.fmin(ub, line)
        if per_flow:
            sel = np.flatnonzero(free[fp] & (ub > 0))
            code = np.arange(len(sel))
        else:  # per (p, v, m) with p free: sum_s x - U_pvm z_p <= 0
            sel = np.flatnonzero(free[fp])
            code = fl.iloc[sel].groupby(["plant", "model", "market"], sort=True).ngroup().to_numpy()
        k = int(code.max()) + 1 if len(sel) else 0
        first = np.unique(code, return_index=True)[1]
        gsel = sel[first]
        R.add(k, np.concatenate([code, np.arange(k)]), np.concatenate([sel, zcol[fp[gsel]]]),
              np.concatenate([np.ones(len(sel)), -ub[gsel]]), -inf, 0.0)
        if len(A):
            ap = plants.index.get_indexer(A["plant"])
            sel = np.flatnonzero(free[ap])
            k = len(sel)
            R.add(k, np.concatenate([np.arange(k), np.arange(k)]), np.concatenate([acol0 + sel, zcol[ap[sel]]]),
                  np.concatenate([np.ones(k), -np.ones(k)]), -inf, 0.0)

    # objective (maximise NPV)
    ann = data.annuity
    cost = np.zeros(ncol)
    cost[:n] = ann * fl["margin"].to_numpy(float)
    fixed = plants["fixed_cost"].to_numpy(float)
    closure = plants["closure_cost"].to_numpy(float)
    cost[zcol[free]] = -ann * fixed[free] + closure[free]
    keep = status == "keep"
    offset = float(-closure.sum() + (-ann * fixed[keep] + closure[keep]).sum())
    if len(nd):
        cost[wcol0:wcol0 + len(nd)] = -nd["dev_cost"].to_numpy(float)

    lb = np.zeros(ncol)
    ubc = np.full(ncol, inf)
    ubc[n:] = 1.0
    nint = ncol - n
    if R.n:
        M = sp.csr_matrix((np.concatenate(R.v), (np.concatenate(R.r), np.concatenate(R.c))), shape=(R.n, ncol))
        M.sum_duplicates()
        rlo, rhi = np.concatenate(R.lo), np.concatenate(R.hi)
    else:
        M = sp.csr_matrix((0, ncol))
        rlo = rhi = np.zeros(0)

    h = highs if highs is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(ncol, lb, ubc)
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
    if nint:
        h.changeColsIntegrality(nint, np.arange(n, ncol, dtype=np.int32),
                                np.full(nint, highspy.HighsVarType.kInteger))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.changeObjectiveOffset(offset)
    if R.n:
        h.addRows(R.n, rlo, rhi, int(M.nnz), M.indptr.astype(np.int32), M.indices.astype(np.int32),
                  M.data.astype(float))
    seconds = time.perf_counter() - t0
    sizes = {"variables": int(ncol), "binaries": int(nint), "rows": int(R.n), "nonzeros": int(M.nnz)}
    return RefModel(h, seconds, sizes, offset)


def write_mps(ref: RefModel, path: str | Path) -> None:
    """Write the reference model to an MPS file (not timed)."""
    ref.highs.writeModel(str(path))


def read_mps(path: str | Path) -> tuple[Any, float]:
    """A fresh highspy reading ``path``; returns (Highs, seconds)."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    t0 = time.perf_counter()
    h.readModel(str(path))
    return h, time.perf_counter() - t0


def run_highs(h: Any, time_limit: float | None, mip_gap: float | None) -> dict[str, Any]:
    """Solve a populated highspy model; HiGHS's own figures."""
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.run()
    info = h.getInfo()
    has = int(info.primal_solution_status) == 2
    obj = float(info.objective_function_value) if has else None
    bound = float(info.mip_dual_bound) if has else None
    return {"ref_status": h.modelStatusToString(h.getModelStatus()), "ref_objective": obj, "ref_bound": bound,
            "ref_nodes": int(info.mip_node_count), "ref_highs": float(h.getRunTime())}
