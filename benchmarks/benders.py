"""Monolithic vs Benders (``optimizer.solve(method=...)``) on the same instances, one run each.

``python -m benchmarks.benders [--time-limit 60] [--only cap131 capa_8000 ...] [--methods monolithic benders]``

For every instance (OR-Library ``orlib`` suite names, ``random`` suite names, or
``v2:SEED`` for a random multi-year instance of ``tests/randinst_v2.py``, or an instance
folder of the repository such as ``instances/nissan_2026``) and method:
``optimizer.solve(path, time_limit=T, mip_gap=G (--gap, default 0), method=M,
build_options=BuildOptions(valid_inequalities=True))`` in this process (the build is
shared and not timed), and the row records status, objective in the instance's sense
(minimum cost for the converted sets), bound, gap, match with the published optimum
(1e-3 absolute, proven-optimal rows only), wall time of the solve, and the
decomposition's figures.  Rows are appended to ``benchmarks/results/benders.csv``.
Method ``benders-noknap`` is the decomposition without the knapsack-strengthened cuts
(``BendersOptions(knapsack_cuts=False)``), for a comparison in the same run.
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

from . import runner
from . import suites as S

RESULTS = S.ROOT / "benchmarks" / "results"
FIELDS = ["instance", "method", "used", "status", "objective", "bound", "gap", "published_optimum", "matches",
          "flows", "seconds", "rounds", "lp_rounds", "cuts", "master_solves", "pieces", "master_seconds",
          "sub_seconds", "lp_bound", "reason", "time_limit", "mip_gap", "started_utc"]


def _path(name: str) -> tuple[Any, Path | None]:
    if name.startswith("v2:"):
        sys.path.insert(0, str(S.ROOT / "tests"))
        import randinst_v2

        from optimizer.data.instance import from_dict

        return from_dict(randinst_v2.generate(int(name[3:]))), None
    if (S.ROOT / name / "instance.yaml").is_file():
        return S.ROOT / name, S.ROOT / name
    for suite in ("orlib", "random", "scale", "pmed"):
        for spec in S.suite(suite):
            if spec.name == name:
                p = spec.path()
                return p, p
    raise SystemExit(f"unknown instance {name}")


def run(names: list[str], methods: list[str], time_limit: float, out: Path,
        gap: float = 0.0) -> list[dict[str, Any]]:
    import optimizer
    from optimizer.models import BuildOptions
    from optimizer.solver.benders import BendersOptions

    rows = []
    new = not out.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, FIELDS)
        if new:
            w.writeheader()
        for name in names:
            src, path = _path(name)
            meta = runner._meta(path) if path is not None else {}
            pub = runner._f(meta.get("published_optimum"))
            sign = -1.0 if (meta.get("optimum_sense") == "min_cost") else 1.0
            built = optimizer.build(src, BuildOptions(valid_inequalities=True))
            for m in methods:
                started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                t0 = time.perf_counter()
                # "benders-noknap": the decomposition without the knapsack-strengthened cuts (for comparison)
                bo = BendersOptions(knapsack_cuts=False) if m == "benders-noknap" else None
                res = optimizer.solve(built, time_limit=time_limit, mip_gap=gap, method=m.split("-")[0], benders=bo)
                secs = time.perf_counter() - t0
                rep = res.report
                d = dict(rep.decomposition) if rep is not None else {}
                obj = None if res.objective is None else sign * res.objective
                bound = None if res.bound is None else sign * res.bound
                match: Any = ""
                if str(res.status) == "optimal" and pub is not None and obj is not None:
                    match = abs(obj - pub) <= runner.MATCH_TOL
                row = {"instance": name, "method": m, "used": rep.method if rep else "", "status": str(res.status),
                       "objective": obj, "bound": bound, "gap": res.gap, "published_optimum": pub, "matches": match,
                       "flows": built.data.n_flows, "seconds": round(secs, 3), "rounds": d.get("rounds"),
                       "lp_rounds": d.get("lp_rounds"), "cuts": d.get("cuts"), "master_solves": d.get("master_solves"),
                       "pieces": d.get("pieces"), "master_seconds": d.get("master_seconds"),
                       "sub_seconds": d.get("sub_seconds"),
                       "lp_bound": None if d.get("lp_bound") is None else sign * d["lp_bound"],
                       "reason": d.get("reason", ""), "time_limit": time_limit, "mip_gap": gap, "started_utc": started}
                w.writerow(row)
                fh.flush()
                rows.append(row)
                print(f"{name:14s} {m:10s} {row['used']:10s} {row['status']:9s} obj {obj} bound {bound} "
                      f"match {match} {secs:7.2f} s rounds {row['rounds']} cuts {row['cuts']}", flush=True)
    return rows


def machine() -> str:
    import highspy
    import numpy

    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    import os

    return (f"{cpu}, {os.cpu_count()} logical CPUs (shared with other jobs); Python {platform.python_version()}, "
            f"highspy {highspy.Highs().version()}, numpy {numpy.__version__}, {platform.platform()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.benders", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", default=["cap131", "cap132", "cap133", "cap134", "capa_8000"])
    ap.add_argument("--methods", nargs="+", default=["monolithic", "benders"])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=0.0, help="relative MIP gap of the solves (0: proven optimal)")
    ap.add_argument("--results", type=Path, default=RESULTS / "benders.csv")
    a = ap.parse_args(argv)
    print(machine())
    rows = run(a.only, a.methods, a.time_limit, a.results, a.gap)
    bad = [r for r in rows if r["matches"] is False]
    return 1 if bad or any(not math.isfinite(float(r["seconds"])) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
