"""Command line: ``python -m benchmarks run SUITE [--time-limit S] [--resume/--fresh] [--only NAME...]``.

Other commands: ``summary`` (regenerate results/SUMMARY.md), ``interfaces`` (direct vs
pyomo transfer on one large generated instance), ``vi`` (valid inequalities on/off),
``yardstick`` (issue 9's targets: the engine against the raw build of ``benchmarks/raw.py``),
``list SUITE`` (instances and their time limits).
"""

from __future__ import annotations

import argparse
import calendar
import os
import sys
import time
from pathlib import Path

from . import runner
from . import suites as S


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run a suite (results appended to SUITE.csv in the scratch folder, "
                                   "or in --results DIR)")
    r.add_argument("suite", choices=S.SUITES)
    r.add_argument("--time-limit", type=float, default=None,
                   help=f"seconds per instance for every instance (default {S.SHORT_LIMIT:g}, "
                        f"{S.LONG_LIMIT:g} for the large ones)")
    r.add_argument("--long-limit", type=float, default=None,
                   help=f"time limit of the large instances only (default {S.LONG_LIMIT:g})")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="skip instances already in the CSV (default)")
    g.add_argument("--fresh", dest="resume", action="store_false", help="rerun (drop the existing rows)")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these instances of the suite")
    r.add_argument("--large", choices=("all", "only", "skip"), default="all",
                   help="run all instances, only the large (600 s) ones, or skip them")
    r.add_argument("--ref", choices=("auto", "solve", "build", "none"), default="auto",
                   help="reference path: auto = build + MPS read always, solve too when our HiGHS time "
                        f"<= {runner.REF_SOLVE_MAX:g} s; solve = always; build = never solve; none = skip it")
    r.add_argument("--mip-gap", type=float, default=runner.MIP_GAP)
    r.add_argument("--vi", choices=("on", "off", "auto"), default="on",
                   help="valid inequalities: on (default; what the committed results used), off, or auto = the "
                        "engine's default (BuildOptions(valid_inequalities=None))")
    r.add_argument("--results", type=Path, default=None,
                   help="results folder (default benchmarks/scratch or $BENCH_RESULTS, so a fresh clone measures; "
                        "pass benchmarks/results to update the committed results)")
    r.add_argument("--stop-at", default=None, help="HH:MM (UTC): start no new instance after this time")
    r.add_argument("--quiet", action="store_true")

    s = sub.add_parser("summary", help="regenerate results/SUMMARY.md from the CSVs")
    s.add_argument("--results", type=Path, default=None)

    i = sub.add_parser("interfaces", help='build + transfer with interface="direct" vs "pyomo"')
    i.add_argument("--flows", type=int, default=400_000, help="the scale-suite instance nearest this size")
    i.add_argument("--instance", default=None, metavar="SUITE/NAME",
                   help="any suite's instance instead (results go to interfaces_NAME.md)")
    i.add_argument("--results", type=Path, default=None, help="default benchmarks/scratch or $BENCH_RESULTS")

    v = sub.add_parser("vi", help="valid inequalities on/off on a few instances")
    v.add_argument("--time-limit", type=float, default=120.0)
    v.add_argument("--fresh", action="store_true")
    v.add_argument("--results", type=Path, default=None, help="default benchmarks/scratch or $BENCH_RESULTS")
    v.add_argument("--stop-at", default=None)

    y = sub.add_parser("yardstick", help="issue 9's targets in one run: engine vs the raw build (benchmarks/raw.py), "
                                         "peak memory, start-up")
    y.add_argument("--flows", type=int, default=1_000_000, help="generated instance of this many target flows")
    y.add_argument("--runs", type=int, default=3, help="pairs of engine/raw subprocesses (medians reported)")
    y.add_argument("--time-limit", type=float, default=1.0, help="HiGHS time limit of both (s)")
    y.add_argument("--no-startup", action="store_true", help="skip timing --help and the nissan_2026 solve")
    y.add_argument("--max-rss-mb", type=float, default=12_000, help="kill a subprocess above this resident memory")
    y.add_argument("--results", type=Path, default=None, help="default benchmarks/scratch or $BENCH_RESULTS")

    ls = sub.add_parser("list", help="list a suite's instances and time limits")
    ls.add_argument("suite", choices=S.SUITES)

    a = ap.parse_args(argv)
    if a.cmd in ("run", "interfaces", "vi", "yardstick") and a.results is None:
        a.results = scratch()
        print(f"results go to {a.results} (pass --results benchmarks/results to update the committed ones)",
              file=sys.stderr)
    if a.cmd == "run":
        only = a.only
        if a.large != "all":
            specs = S.suite(a.suite)
            names = [x.name for x in specs if x.large == (a.large == "only") and (not only or x.name in only)]
            only = names
            if not only:
                print("nothing to run", file=sys.stderr)
                return 0
        rows = runner.run_suite(a.suite, time_limit=a.time_limit, long_limit=a.long_limit, resume=a.resume,
                                only=only, ref="none" if a.ref == "none" else ("build" if a.ref == "build" else a.ref),
                                mip_gap=a.mip_gap, results=a.results, quiet=a.quiet, stop_at=_stop(a.stop_at),
                                vi={"on": True, "off": False, "auto": None}[a.vi])
        bad = [r for r in rows if r.get("matches") is False]
        return 1 if bad else 0
    if a.cmd == "summary":
        print(runner.summary(a.results))
        return 0
    if a.cmd == "interfaces":
        print(runner.run_interfaces(a.flows, results=a.results, instance=a.instance))
        return 0
    if a.cmd == "vi":
        print(runner.run_vi(a.time_limit, a.results, resume=not a.fresh, stop_at=_stop(a.stop_at)))
        return 0
    if a.cmd == "yardstick":
        from . import yardstick

        res = yardstick.measure(a.flows, a.time_limit, a.runs, startup=not a.no_startup, max_rss_mb=a.max_rss_mb)
        print(yardstick.write(res, a.results))
        return 0
    if a.cmd == "list":
        for x in S.suite(a.suite):
            print(f"{x.name}\t{x.time_limit():g}")
        return 0
    return 2


SCRATCH = S.ROOT / "benchmarks" / "scratch"
"""Where measuring commands write unless told otherwise (git-ignored), so the committed CSVs never count
as done in a fresh clone and a trial run never overwrites them.  ``BENCH_RESULTS`` overrides it."""


def scratch() -> Path:
    """The default results folder of ``run``, ``interfaces`` and ``vi``."""
    env = os.environ.get("BENCH_RESULTS")
    return Path(env) if env else SCRATCH


def _stop(hhmm: str | None) -> float | None:
    if not hhmm:
        return None
    h, m = map(int, hhmm.split(":"))
    now = time.gmtime()
    t = calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, h, m, 0, 0, 0, 0))
    return t if t > time.time() - 12 * 3600 else t + 86400


if __name__ == "__main__":
    sys.exit(main())
