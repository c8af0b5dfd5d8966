"""The reference ("the limit"): the same MIP built directly with vectorised highspy calls.

:func:`build_highs` turns the engine's prepared data (``optimizer.data.prepare.prepare``)
into a populated ``highspy.Highs`` object with a handful of numpy operations and
four highspy calls (``addVars``, ``changeColsCost``, ``changeColsIntegrality``,
``addRows``), no modelling layer.  It mirrors the engine's blocks (``models/plants.py``,
``flows.py``, ``software.py``) row family by row family for v1 instances.  Like the engine's
blocks (and unlike Pyomo's standard form, which the rows measured before 2026-12 compared
against), a fixed plant (``status`` keep/close) is a column with lower = upper, so the sizes
(columns, binaries, rows, nonzeros) equal the engine's; :class:`RefModel` also says how many
columns and nonzeros are such fixed plants, so a comparison with the old standard-form sizes
can remove them.  The runner records whether both reach the same optimum.

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
    fixed_columns: int = 0
    """Plant columns with lower = upper (status keep/close): columns in the engine's blocks and here,
    constants in Pyomo's standard form (what the sizes of the rows before 2026-12 counted)."""
    fixed_nonzeros: int = 0
    """Matrix entries on those fixed columns."""


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

    v1 instances only (one pseudo-year, no tariff-rate quotas, no CO2 caps, no
    ``capacity_kept``): anything else raises ``NotImplementedError``.  Like the engine,
    every plant is a column z_p; a fixed one (status keep/close) has lower = upper.

    ``per_flow=False`` (default) mirrors the engine's current rows: software and valid
    inequalities aggregated per (v, s, m) and (p, v, m); ``per_flow=True`` writes them per
    flow as the contract states them (same integer solutions, more rows).
    """
    import highspy

    if len(data.years) != 1 or data.multi_year:
        raise NotImplementedError("the vectorised reference covers v1 (single-year) instances only")
    if not data.quotas.empty or any(r.kind in ("co2_cap", "capacity_kept") for r in data.rules):
        raise NotImplementedError("the vectorised reference has no tariff-rate quotas, CO2 caps or capacity_kept")
    t0 = time.perf_counter()
    inf = np.inf
    fl = data.flows
    n = len(fl)
    plants = data.plants
    npl = len(plants)
    zlb = np.array([float(v[0]) for v in plants["z_lb"]]) if npl else np.zeros(0)
    zub = np.array([float(v[0]) for v in plants["z_ub"]]) if npl else np.zeros(0)
    free = zlb < zub
    zcol = n + np.arange(npl, dtype=np.int64)              # every plant is a column (fixed: lb = ub)
    ncol = n + npl
    fp = plants.index.get_indexer(fl["plant"])            # plant position per flow
    cap = plants["capacity"].to_numpy(float)
    maxu_f = fl["max_units"].to_numpy(float)

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
        R.add(len(gp), np.concatenate([row_of_plant[fp], np.arange(len(gp))]),
              np.concatenate([fidx, zcol[gp]]), np.concatenate([np.ones(n), -cap[gp]]), -inf, 0.0)
    # line capacity: sum_F(p, v) x - cap_pv z_p <= 0
    lines = data.lines[["plant", "model", "capacity"]] if not data.lines.empty else None
    lc = (fl[["plant", "model"]].merge(lines, on=["plant", "model"], how="left")["capacity"].to_numpy(float)
          if n and lines is not None else np.full(n, np.nan))
    has = ~np.isnan(lc)
    if has.any():
        sub = fl.loc[has, ["plant", "model"]]
        code = sub.groupby(["plant", "model"], sort=True).ngroup().to_numpy()
        k = int(code.max()) + 1
        first = np.unique(code, return_index=True)[1]
        fsub = fidx[has]
        gp_ = fp[fsub][first]
        R.add(k, np.concatenate([code, np.arange(k)]), np.concatenate([fsub, zcol[gp_]]),
              np.concatenate([np.ones(len(fsub)), -lc[fsub][first]]), -inf, 0.0)
    # demand: min_units <= sum_F(v, m) x <= max_units
    if n:
        code = fl.groupby(["model", "market"], sort=True).ngroup().to_numpy()
        k = int(code.max()) + 1
        first = np.unique(code, return_index=True)[1]
        keys = fl[["model", "market"]].iloc[first]
        d = keys.merge(data.demand[["model", "market", "min_units", "max_units"]], on=["model", "market"], how="left")
        R.add(k, code, fidx, np.ones(n), d["min_units"].to_numpy(float), d["max_units"].to_numpy(float))
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
              np.concatenate([np.ones(len(sel)), -maxu_f[sel][first]]), -inf, 0.0)
    # export channels: sum of the non-domestic x from origin o <= capacity_o
    ch = fl["channel"].to_numpy(dtype=object)
    has = pd.notna(ch)
    if has.any():
        codes, uniq = pd.factorize(fl.loc[has, "channel"], sort=True)
        ccap = data.channels.set_index("origin")["capacity"]
        R.add(len(uniq), codes, fidx[has], np.ones(int(has.sum())), -inf, ccap.reindex(uniq).to_numpy(float))
    # plant rules: min <= sum_{P_r} z <= max;  jobs: sum_{P_r} jobs_cut z <= sum_{P_r} jobs_cut - min
    jc = plants["jobs_cut"].to_numpy(float)
    for r in data.rules:
        pos = plants.index.get_indexer(list(r.plants))
        if r.kind == "plants_kept":
            R.add(1, np.zeros(len(pos)), zcol[pos], np.ones(len(pos)), -inf if r.min is None else r.min,
                  inf if r.max is None else r.max)
        elif r.kind == "min_jobs_cut":
            R.add(1, np.zeros(len(pos)), zcol[pos], jc[pos], -inf, float(jc[pos].sum()) - float(r.min or 0.0))
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
        ub = np.fmin(np.minimum(maxu_f, cap[fp]), lc)
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

    # objective (maximise NPV); v1: W = annuity factor, one-off costs once
    ann = float(data.weight[0])
    cost = np.zeros(ncol)
    cost[:n] = ann * fl["equity"].to_numpy(float) * fl["margin"].to_numpy(float)
    if data.co2_price:
        cost[:n] -= ann * data.co2_price * fl["co2"].to_numpy(float)
    e = plants["equity"].to_numpy(float)
    fixed = e * plants["fixed_cost"].to_numpy(float)
    closure = e * plants["closure_cost"].to_numpy(float)
    cost[zcol] = -ann * fixed + closure
    offset = float(-closure.sum())
    if len(nd):
        cost[wcol0:wcol0 + len(nd)] = -nd["dev_cost"].to_numpy(float)

    lb = np.zeros(ncol)
    ubc = np.full(ncol, inf)
    ubc[n:] = 1.0
    lb[zcol], ubc[zcol] = zlb, zub
    nint = ncol - n
    if R.n:
        M = sp.csr_matrix((np.concatenate(R.v), (np.concatenate(R.r), np.concatenate(R.c))), shape=(R.n, ncol))
        M.sum_duplicates()
        M.eliminate_zeros()
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
    return RefModel(h, seconds, sizes, offset, fixed_columns=int((~free).sum()),
                    fixed_nonzeros=int(np.isin(M.indices, zcol[~free]).sum()))


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
