"""Scenario sets: time of the set's model against the number of scenarios, monolithic vs Benders.

``python -m benchmarks.scenario_sets [--counts 1 4 16 64] [--time-limit 300] [--dask 2]``

One plan-sized generated instance (``optimizer.bench.generate``, by default 20 plants, 5
models, 25 markets, seed 1: 23 plan binaries, about 1,500 columns per scenario; ``--size``); scenario k
scales every demand row's ``max_units`` and every lane's freight ``unit_cost`` by
factors drawn (seed k) from U(0.7, 1.3), equal weights, criterion ``expected``.  For
each count N the scenarios 0..N-1 are built once (not timed), combined into the
deterministic equivalent (:func:`optimizer.studies.sets._combine`, not timed) and the
set's model is solved (timed, wall clock, no MIP start) by

- ``monolithic``: one HiGHS MIP;
- ``benders``: the decomposition, pieces solved one after another in this process;
- with ``--dask W``, also ``benders`` with the pieces held by actors on a local Dask
  cluster (``distributed.LocalCluster``, W worker processes of one thread), and on a
  cluster of one worker, for the speed-up (cluster start-up not timed).

The relative MIP gap is 1e-4 for every row; ``agree`` compares the objective with the
monolithic row's when both are proven.  Rows are appended to
``benchmarks/results/scenario_sets.csv`` (``--results``).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import suites as S

RESULTS = S.ROOT / "benchmarks" / "results"
FIELDS = ["size", "scenarios", "method", "runner", "used", "status", "objective", "bound", "gap", "agree", "flows",
          "columns", "rows", "seconds", "rounds", "lp_rounds", "cuts", "pieces", "master_seconds", "sub_seconds",
          "time_limit", "started_utc"]
GAP = 1e-4


def _scenario(base: Path, out: Path, k: int) -> Path:
    """Scenario k: demand max_units and freight unit_cost scaled by U(0.7, 1.3) factors (seed k)."""
    shutil.copytree(base, out)
    rng = np.random.default_rng(1000 + k)
    for table, col in (("demand.csv", "max_units"), ("freight.csv", "unit_cost")):
        df = pd.read_csv(out / table)
        df[col] = (df[col] * rng.uniform(0.7, 1.3, len(df))).round(3)
        df.to_csv(out / table, index=False)
    return out


def _solve(mb: Any, method: str, time_limit: float, scheduler: str | None) -> tuple[Any, dict[str, Any], float]:
    from optimizer.solver.benders import BendersOptions
    from optimizer.solver.highs import SolveOptions
    from optimizer.studies.sets import _solve_set_model

    opts = SolveOptions(time_limit=time_limit, mip_gap=GAP)
    t0 = time.perf_counter()
    rep, how = _solve_set_model(mb, opts, None, method, BendersOptions(scheduler=scheduler), 10**9)
    return rep, how, time.perf_counter() - t0


def run(counts: list[int], methods: list[str], time_limit: float, out: Path, dask: int = 0,
        size: tuple[int, int, int] = (20, 5, 25)) -> list[dict[str, Any]]:
    from optimizer.api import build
    from optimizer.bench.generate import generate
    from optimizer.models import BuildOptions
    from optimizer.studies.sets import _combine

    tmp = Path(tempfile.mkdtemp(prefix="scenario_sets_"))
    base = generate(tmp / "base", *size, seed=1)
    built = [build(_scenario(base, tmp / f"s{k}", k), BuildOptions(valid_inequalities=True))
             for k in range(max(counts))]
    clusters: dict[int, Any] = {}
    if dask:
        from distributed import LocalCluster

        for w in sorted({1, dask}):
            clusters[w] = LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    runs = [(m, "local", None) for m in methods]
    runs += [("benders", f"dask-{w}", c.scheduler_address) for w, c in sorted(clusters.items())]
    rows: list[dict[str, Any]] = []
    new = not out.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, FIELDS)
            if new:
                w.writeheader()
            for n in counts:
                parts = [(f"s{k}", 1.0 / n, built[k]) for k in range(n)]
                mb, _ = _combine(parts, "expected", None)
                ref = None
                for method, where, address in runs:
                    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    rep, how, secs = _solve(mb, method, time_limit, address)
                    proven = str(rep.status) == "optimal"
                    if method == "monolithic" and proven:
                        ref = rep.objective
                    agree: Any = ""
                    if proven and ref is not None and method != "monolithic":
                        agree = abs(rep.objective - ref) <= GAP * max(1.0, abs(ref))
                    row = {"size": "x".join(map(str, size)), "scenarios": n, "method": method, "runner": where, "used": how.get("method"),
                           "status": str(rep.status), "objective": rep.objective, "bound": rep.bound, "gap": rep.gap,
                           "agree": agree, "flows": sum(p[2].data.n_flows for p in parts), "columns": mb.n_cols,
                           "rows": mb.n_rows, "seconds": round(secs, 3), "rounds": how.get("rounds"),
                           "lp_rounds": how.get("lp_rounds"), "cuts": how.get("cuts"), "pieces": how.get("pieces"),
                           "master_seconds": how.get("master_seconds"), "sub_seconds": how.get("sub_seconds"),
                           "time_limit": time_limit, "started_utc": started}
                    w.writerow(row)
                    fh.flush()
                    rows.append(row)
                    print(f"N={n:3d} {method:10s} {where:8s} {row['status']:9s} obj {rep.objective} gap {rep.gap} "
                          f"{secs:8.2f} s rounds {row['rounds']} pieces {row['pieces']} agree {agree}", flush=True)
    finally:
        for c in clusters.values():
            c.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from .benders import machine

    ap = argparse.ArgumentParser(prog="python -m benchmarks.scenario_sets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", nargs="+", type=int, default=[1, 4, 16, 64])
    ap.add_argument("--methods", nargs="+", default=["monolithic", "benders"])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--dask", type=int, default=0, metavar="W",
                    help="also Benders on local Dask clusters of W workers and of 1 worker (0: no Dask)")
    ap.add_argument("--size", nargs=3, type=int, default=[20, 5, 25], metavar=("PLANTS", "MODELS", "MARKETS"),
                    help="the generated instance (default 20 5 25)")
    ap.add_argument("--results", type=Path, default=RESULTS / "scenario_sets.csv")
    a = ap.parse_args(argv)
    print(machine())
    rows = run(a.counts, a.methods, a.time_limit, a.results, a.dask, tuple(a.size))
    return 1 if any(r["agree"] is False for r in rows) or any(not math.isfinite(r["seconds"]) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
