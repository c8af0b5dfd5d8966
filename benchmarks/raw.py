"""The yardstick of issue 9: a raw vectorised build of the model straight from the instance folder.

No engine code: ``pandas.read_csv`` of the tables (and ``yaml`` for the settings), pandas
joins on integer codes for the flow set, numpy for every per-unit term and row, the
matrix assembled once as CSC arrays (``scipy.sparse``) and handed to HiGHS in one
``passModel``.  It covers what ``optimizer generate`` writes (a v1 instance: one
period valued with the annuity factor; plants with keep/close/free status; production
with optional line capacities; freight lanes; demand with min/max units and an optional
customs value; software stacks with bans by market; tariffs at every specificity level;
export channels; ``plants_kept`` and ``min_jobs_cut``) and refuses anything else
(``NotImplementedError``).  The valid inequalities are left out (the engine's default
above 5,000 flows; they do not change the optimum).

The model (maximise the NPV, A = annuity factor of ``horizon_years`` at ``discount_rate``):

    x_f >= 0 for each flow f = (p, v, s, m): production(p, v), freight(p, m), demand(v, m),
    stack s of v not banned in m;  z_p in {0, 1} (keep: 1, close: 0);  w_vs in {0, 1} for
    each non-default stack some flow uses.

    max  sum_f A margin_f x_f + sum_p (closure_p - A fixed_p) z_p - sum_p closure_p - sum dev_vs w_vs
    margin = price - production - freight - duty - software - channel fee
    duty (non-domestic only) = ad_valorem (customs_value + freight if cif) + specific, of the most
    specific matching tariff row; channel fee for non-domestic flows from an origin with a channel.

    sum_{f in F(p)} x_f - capacity_p z_p <= 0            plants with flows
    sum_{f in F(p, v)} x_f - line_pv z_p <= 0             (p, v) with a line capacity and flows
    min_vm <= sum_{f in F(v, m)} x_f <= max_vm            (v, m) with flows
    sum_{f in F(v, s, m)} x_f - max_vm w_vs <= 0          non-default stacks
    sum_{f non-domestic from o} x_f <= channel_o          origins with a channel
    kept_min <= sum_p z_p <= kept_max;  sum_p headcount_p z_p <= sum_p headcount_p - min_jobs_cut

``python -m benchmarks.raw PATH [--time-limit S] [--json FILE]`` builds it (timing read,
build, pass), runs HiGHS with the time limit and prints a JSON line of figures.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUPPORTED_TABLES = {"plants", "models", "production", "software", "markets", "demand", "freight", "tariffs",
                    "export_channels"}


@dataclass
class RawModel:
    highs: Any
    times: dict[str, float]
    sizes: dict[str, int]
    offset: float
    extra: dict[str, Any] = field(default_factory=dict)


def read(folder: str | Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """instance.yaml and every table as read by pandas (nothing checked)."""
    import yaml

    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    doc = yaml.safe_load((folder / "instance.yaml").read_text(encoding="utf-8"))
    tables = doc.get("tables") or {}
    extra = set(tables) - SUPPORTED_TABLES
    if extra or doc.get("periods") or doc.get("co2_cap") or doc.get("capacity_kept"):
        raise NotImplementedError(f"raw yardstick: generated v1 instances only (found {sorted(extra) or 'v2 settings'})")
    dfs = {name: pd.read_csv(folder / rel, keep_default_na=True) for name, rel in tables.items()}
    for name in ("plants", "production", "demand", "freight", "tariffs"):
        if {"from_year", "to_year", "equity_share", "jobs_cut", "co2"} & set(dfs.get(name, pd.DataFrame()).columns):
            raise NotImplementedError(f"raw yardstick: {name} has columns it does not cover")
    return doc, dfs


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    c = index.get_indexer(values)
    if (c < 0).any():
        raise ValueError(f"unknown id in {values.name}")
    return c


def build(doc: dict[str, Any], t: dict[str, pd.DataFrame]) -> tuple[dict[str, Any], dict[str, float]]:
    """The model's arrays (CSC matrix, bounds, costs) from the tables; seconds per step."""
    import scipy.sparse as sp

    tm: dict[str, float] = {}
    t0 = time.perf_counter()
    if doc.get("single_sourcing"):
        raise NotImplementedError("raw yardstick: no single sourcing")
    r = float(doc.get("discount_rate", 0.0))
    hz = int(doc.get("horizon_years", 1))
    ann = float(hz) if r == 0 else float(sum((1.0 + r) ** -k for k in range(1, hz + 1)))
    cif = (doc.get("duty_basis") or "cif") == "cif"

    pl, mo, mk = t["plants"], t["models"], t["markets"]
    P, V, M = pd.Index(pl["plant"]), pd.Index(mo["model"]), pd.Index(mk["market"])
    countries = pd.Index(pd.unique(pd.concat([pl["country"], mk["country"]], ignore_index=True)))
    p_cty = _codes(pl["country"], countries)
    m_cty = _codes(mk["country"], countries)
    powertrains = pd.Index(pd.unique(mo["powertrain"]))
    v_pt = _codes(mo["powertrain"], powertrains)

    # stacks: the software rows, plus an implicit default stack for models without any
    sw = t.get("software", pd.DataFrame(columns=["model", "stack", "origin", "dev_cost", "unit_cost", "default"]))
    missing = np.setdiff1d(np.arange(len(V)), _codes(sw["model"], V))
    st = pd.DataFrame({"v": np.concatenate([_codes(sw["model"], V), missing]),
                       "s_origin": np.concatenate([sw["origin"].astype(object).to_numpy(), np.full(len(missing), None)]),
                       "sw_cost": np.concatenate([sw["unit_cost"].to_numpy(float), np.zeros(len(missing))]),
                       "dev": np.concatenate([sw["dev_cost"].to_numpy(float), np.zeros(len(missing))]),
                       "default": np.concatenate([sw["default"].astype(str).str.lower().eq("true").to_numpy(),
                                                  np.ones(len(missing), bool)])})
    st["s"] = np.arange(len(st))

    # software bans: (origin, market) pairs
    bcol = mk["banned_software_origins"] if "banned_software_origins" in mk else pd.Series("", index=mk.index)
    ban = pd.Series(np.where(bcol.isna(), "", bcol.astype(str))).str.split(";")
    ban = pd.DataFrame({"m": np.repeat(np.arange(len(M)), ban.str.len()), "s_origin": np.concatenate(ban.to_numpy())})
    ban = ban[ban["s_origin"] != ""]

    prod = pd.DataFrame({"p": _codes(t["production"]["plant"], P), "v": _codes(t["production"]["model"], V),
                         "c_prod": t["production"]["unit_cost"].to_numpy(float)})
    fr = pd.DataFrame({"p": _codes(t["freight"]["plant"], P), "m": _codes(t["freight"]["market"], M),
                       "c_fr": t["freight"]["unit_cost"].to_numpy(float)})
    d = t["demand"]
    dem = pd.DataFrame({"v": _codes(d["model"], V), "m": _codes(d["market"], M), "d": np.arange(len(d))})
    tm["codes"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ the flow set (pandas joins)
    t1 = time.perf_counter()
    f = prod.merge(fr, on="p").merge(dem, on=["v", "m"]).merge(st[["v", "s", "s_origin"]], on="v")
    if len(ban):
        f = f.merge(ban.assign(_b=True), on=["m", "s_origin"], how="left")
        f = f[f["_b"].isna()]
    p = f["p"].to_numpy()
    v = f["v"].to_numpy()
    m = f["m"].to_numpy()
    s = f["s"].to_numpy()
    di = f["d"].to_numpy()
    c_prod = f["c_prod"].to_numpy()
    c_fr = f["c_fr"].to_numpy()
    n = len(p)
    tm["flows"] = time.perf_counter() - t1

    # ------------------------------------------------------------------ per-unit terms (numpy)
    t2 = time.perf_counter()
    price = d["price"].to_numpy(float)
    maxu = d["max_units"].to_numpy(float)
    minu = d["min_units"].to_numpy(float) if "min_units" in d else np.zeros(len(d))
    minu = np.nan_to_num(minu)
    cv = d["customs_value"].to_numpy(float) if "customs_value" in d else np.full(len(d), np.nan)
    cv = np.where(np.isnan(cv), price, cv)
    orig = p_cty[p]
    foreign = orig != m_cty[m]
    # tariffs: the most specific row matching (origin country, market, powertrain); ties do not occur
    ta = t["tariffs"]
    nC, nM, nT = len(countries), len(M), len(powertrains)
    key = (orig * nM + m) * nT + v_pt[v]                   # one code per (origin, market, powertrain)
    uk, inv = np.unique(key[foreign], return_inverse=True)
    ko, km, kt = uk // (nM * nT), (uk // nT) % nM, uk % nT
    av = np.zeros(len(uk))
    spec = np.zeros(len(uk))
    best = np.full(len(uk), -1)
    to = np.where(ta["origin"] == "*", -1, countries.get_indexer(ta["origin"]))
    tmk = np.where(ta["market"] == "*", -1, M.get_indexer(ta["market"]))
    tpt = np.where(ta["powertrain"] == "*", -1, powertrains.get_indexer(ta["powertrain"]))
    tav = ta["ad_valorem"].to_numpy(float)
    tsp = np.nan_to_num(ta["specific"].to_numpy(float)) if "specific" in ta else np.zeros(len(ta))
    tspec = (ta["origin"] != "*").to_numpy().astype(int) + (ta["market"] != "*").to_numpy() + (
        ta["powertrain"] != "*").to_numpy()
    # per wildcard pattern (8 at most), a dense look-up of the rows of that pattern, then keep the most specific
    tpat = (to >= 0) * 4 + (tmk >= 0) * 2 + (tpt >= 0)
    # a row naming an origin, market or powertrain that does not exist matches nothing (not a wildcard)
    dead = ((ta["origin"] != "*").to_numpy() & (to < 0)) | ((ta["market"] != "*").to_numpy() & (tmk < 0)) | (
        (ta["powertrain"] != "*").to_numpy() & (tpt < 0))
    for pat in np.unique(tpat[~dead]):
        rows = np.flatnonzero((tpat == pat) & ~dead)
        dims = (nC if pat & 4 else 1, nM if pat & 2 else 1, nT if pat & 1 else 1)
        look = np.full(dims, -1)
        zr, zk = np.zeros(len(rows), np.int64), np.zeros(len(uk), np.int64)
        look[to[rows] if pat & 4 else zr, tmk[rows] if pat & 2 else zr, tpt[rows] if pat & 1 else zr] = rows
        hit = look[ko if pat & 4 else zk, km if pat & 2 else zk, kt if pat & 1 else zk]
        ok = hit >= 0
        better = ok & (best < 0) | ok & (best >= 0) & (tspec[np.maximum(hit, 0)] > tspec[np.maximum(best, 0)])
        best = np.where(better, hit, best)
    has_t = best >= 0
    av[has_t], spec[has_t] = tav[best[has_t]], tsp[best[has_t]]
    duty = np.zeros(n)
    basis = cv[di] + (c_fr if cif else 0.0)
    duty[foreign] = av[inv] * basis[foreign] + spec[inv]
    # export channels
    ch = t.get("export_channels", pd.DataFrame(columns=["origin", "capacity", "unit_fee"]))
    ch_c = countries.get_indexer(ch["origin"])
    ch_of = np.full(nC, -1)
    ch_of[ch_c[ch_c >= 0]] = np.flatnonzero(ch_c >= 0)
    chan = np.where(foreign, ch_of[orig], -1)
    fee = np.where(chan >= 0, ch["unit_fee"].to_numpy(float)[np.maximum(chan, 0)] if len(ch) else 0.0, 0.0)
    margin = price[di] - c_prod - c_fr - duty - st["sw_cost"].to_numpy()[s] - fee
    tm["terms"] = time.perf_counter() - t2

    # ------------------------------------------------------------------ columns: x | z | w
    t3 = time.perf_counter()
    nP = len(P)
    status = pl["status"].astype(str).to_numpy()
    zlb = (status == "keep").astype(float)
    zub = np.where(status == "close", 0.0, 1.0)
    nd = ~st["default"].to_numpy()
    w_used = np.zeros(len(st), bool)
    w_used[np.unique(s[nd[s]])] = True
    w_of = np.full(len(st), -1)
    w_of[w_used] = n + nP + np.arange(int(w_used.sum()))
    ncol = n + nP + int(w_used.sum())
    cap = pl["capacity"].to_numpy(float)
    fixed = pl["fixed_cost"].to_numpy(float)
    closure = pl["closure_cost"].to_numpy(float)
    cost = np.concatenate([ann * margin, closure - ann * fixed, -st["dev"].to_numpy()[w_used]])
    offset = -float(closure.sum())
    lb = np.concatenate([np.zeros(n), zlb, np.zeros(int(w_used.sum()))])
    ub = np.concatenate([np.full(n, np.inf), zub, np.ones(int(w_used.sum()))])
    integ = np.concatenate([np.zeros(n, np.int32), np.ones(ncol - n, np.int32)])

    # ------------------------------------------------------------------ rows
    # x's coefficients are all 1 and each flow is in at most one row of each family: its rows go
    # into one (flows x families) array, so x's CSC part is a mask and a flatten (no sort).  The
    # other terms (z, w: a few per row) are (row, col, val) triples.
    XR: list[np.ndarray] = []
    R: list[np.ndarray] = []
    C: list[np.ndarray] = []
    X: list[np.ndarray] = []
    LO: list[np.ndarray] = []
    HI: list[np.ndarray] = []
    nrow = 0
    fx = np.arange(n)

    def family(code: np.ndarray, items: np.ndarray, lo: Any, hi: Any, extra: Any = None) -> np.ndarray:
        """Rows "sum of x over items with the same code" (+ one extra term per row); the distinct codes.

        Codes are small non-negative integers: distinct codes by a dense mark (O(n), no sort)."""
        nonlocal nrow
        used = np.zeros(int(code.max()) + 1, dtype=bool)
        used[code] = True
        u = np.flatnonzero(used)
        row = (np.cumsum(used) - 1)[code]
        k = len(u)
        xr = np.full(n, -1, dtype=np.int64)
        xr[items] = row + nrow
        XR.append(xr)
        if extra is not None:
            ec, ev = extra(u) if callable(extra) else extra
            R.append(np.arange(k) + nrow)
            C.append(ec)
            X.append(ev)
        LO.append(np.broadcast_to(lo(u) if callable(lo) else np.asarray(lo, float), (k,)))
        HI.append(np.broadcast_to(hi(u) if callable(hi) else np.asarray(hi, float), (k,)))
        nrow += k
        return u

    family(p, fx, -np.inf, 0.0, extra=lambda u: (n + u, -cap[u]))                               # plant capacity
    line = t["production"]["capacity"].to_numpy(float) if "capacity" in t["production"] else np.full(len(prod), np.nan)
    line_pv = np.full(nP * len(V), np.nan)
    line_pv[prod["p"].to_numpy() * len(V) + prod["v"].to_numpy()] = line
    pv = p * len(V) + v
    has = ~np.isnan(line_pv[pv])
    if has.any():
        family(pv[has], fx[has], -np.inf, 0.0, extra=lambda u: (n + u // len(V), -line_pv[u]))   # line capacity
    family(di, fx, lambda u: minu[u], lambda u: maxu[u])                                          # demand
    sel = nd[s]
    if sel.any():                                                                                 # software
        code = s[sel].astype(np.int64) * (len(d) + 1) + di[sel]
        family(code, fx[sel], -np.inf, 0.0,
               extra=lambda u: (w_of[u // (len(d) + 1)], -maxu[u % (len(d) + 1)]))
    sel = chan >= 0
    if sel.any():                                                                                 # export channels
        family(chan[sel], fx[sel], -np.inf, lambda u: ch["capacity"].to_numpy(float)[u])
    kept = doc.get("plants_kept") or {}
    if kept.get("min") is not None or kept.get("max") is not None:                               # plants kept
        R.append(np.full(nP, nrow))
        C.append(n + np.arange(nP))
        X.append(np.ones(nP))
        LO.append(np.array([-np.inf if kept.get("min") is None else float(kept["min"])]))
        HI.append(np.array([np.inf if kept.get("max") is None else float(kept["max"])]))
        nrow += 1
    jobs = doc.get("min_jobs_cut")
    if jobs:                                                                                      # jobs cut
        hc = pl["headcount"].to_numpy(float)
        R.append(np.full(nP, nrow))
        C.append(n + np.arange(nP))
        X.append(hc)
        LO.append(np.array([-np.inf]))
        HI.append(np.array([hc.sum() - float(jobs)]))
        nrow += 1
    tm["rows"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    xr = np.stack(XR, axis=1)                                   # (flows, families), rows ascending
    mask = xr >= 0
    x_ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
    x_idx = xr[mask]                                            # row-major: column by column
    rest = sp.csc_matrix((np.concatenate(X), (np.concatenate(R), np.concatenate(C) - n)), shape=(nrow, ncol - n))
    rest.sum_duplicates()
    rest.eliminate_zeros()
    A = sp.csc_matrix((np.concatenate([np.ones(len(x_idx)), rest.data]), np.concatenate([x_idx, rest.indices]),
                       np.concatenate([x_ptr, x_ptr[-1] + rest.indptr[1:]])), shape=(nrow, ncol))
    tm["csc"] = time.perf_counter() - t4
    arrays = dict(n=ncol, nrow=nrow, A=A, c=cost, lb=lb, ub=ub, rlo=np.concatenate(LO), rhi=np.concatenate(HI),
                  integ=integ, offset=offset, flows=n)
    return arrays, tm


def pass_model(a: dict[str, Any], time_limit: float | None = None) -> Any:
    """One ``passModel`` of the arrays into a fresh Highs (maximise)."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    A = a["A"]
    st = h.passModel(a["n"], a["nrow"], int(A.nnz), 1, -1, a["offset"], a["c"], a["lb"], a["ub"], a["rlo"], a["rhi"],
                     A.indptr.astype(np.int32), A.indices.astype(np.int32), A.data, a["integ"])
    if getattr(st, "name", "") == "kError":
        raise RuntimeError("passModel refused the raw model")
    return h


def build_raw(folder: str | Path, time_limit: float | None = None) -> RawModel:
    """read + build + pass, each timed; a populated Highs."""
    t0 = time.perf_counter()
    doc, tables = read(folder)
    t1 = time.perf_counter()
    a, steps = build(doc, tables)
    t2 = time.perf_counter()
    h = pass_model(a, time_limit)
    t3 = time.perf_counter()
    A = a["A"]
    sizes = {"variables": a["n"], "binaries": int(a["integ"].sum()), "rows": a["nrow"], "nonzeros": int(A.nnz)}
    times = {"read": t1 - t0, "build": t2 - t1, "pass": t3 - t2, "total": t3 - t0}
    return RawModel(h, times, sizes, a["offset"], {"steps": steps, "flows": a["flows"]})


def run(h: Any) -> dict[str, Any]:
    """Run HiGHS on a populated model; its status, objective and run time."""
    h.run()
    info = h.getInfo()
    has = int(info.primal_solution_status) == 2
    return {"status": h.modelStatusToString(h.getModelStatus()),
            "objective": float(info.objective_function_value) if has else None,
            "bound": float(info.mip_dual_bound) if has else None, "highs": float(h.getRunTime())}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import resource

    ap = argparse.ArgumentParser(prog="python -m benchmarks.raw", description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--mip-gap", type=float, default=None)
    ap.add_argument("--no-solve", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    a = ap.parse_args(argv)
    t_imp = time.perf_counter()
    import highspy  # noqa: F401  (imports timed apart: not part of the build)
    import scipy.sparse  # noqa: F401
    import yaml  # noqa: F401
    imports = time.perf_counter() - t_imp
    rm = build_raw(a.path, a.time_limit)
    out: dict[str, Any] = {"imports": imports, **rm.times, "steps": rm.extra["steps"], "flows": rm.extra["flows"],
                           **rm.sizes}
    out["peak_mb_after_build"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if not a.no_solve:
        if a.mip_gap is not None:
            rm.highs.setOptionValue("mip_rel_gap", float(a.mip_gap))
        out.update(run(rm.highs))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    text = json.dumps(out)
    if a.json:
        a.json.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
