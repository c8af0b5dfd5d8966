"""Run the fuzz suite for many cases (not in CI): ``python -m tests.fuzz.run --cases 2000 [--workers 2]``.

Each worker process runs cases in process through the command line; results go to a JSON-lines
file and a summary (cases, classes, verdicts, failures) is printed and, with --record, written
to tests/fuzz/RESULTS.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _base_npv() -> dict[str, float]:
    import optimizer

    return {"tiny": float(optimizer.solve(HERE.parents[1] / "instances" / "tiny", mip_gap=0.0, threads=1).objective)}


def _init() -> None:
    os.environ.setdefault("OPTIMIZER_FUZZ", "1")
    global BASE
    BASE = _base_npv()


def _one(seed: int) -> dict:
    from .mutate import make_case
    from .oracle import run_case

    work = Path(tempfile.mkdtemp(prefix=f"fuzz{seed}-"))
    try:
        case = make_case(seed, work, BASE)
        return asdict(run_case(case, work))
    except Exception as exc:  # noqa: BLE001 - a generator bug is a failure of the suite, recorded
        return {"seed": seed, "klass": "generator", "detail": "", "exit_code": None, "verdict": "FAIL",
                "reasons": [f"generator: {type(exc).__name__}: {exc}"], "seconds": 0.0, "oracle": ""}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.run")
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--log", type=Path, default=Path("fuzz-results.jsonl"))
    ap.add_argument("--record", action="store_true", help="write tests/fuzz/RESULTS.md")
    a = ap.parse_args(argv)
    t0 = time.time()
    seeds = range(a.start, a.start + a.cases)
    rows = []
    with a.log.open("w") as log, multiprocessing.get_context("spawn").Pool(a.workers, initializer=_init,
                                                                         maxtasksperchild=200) as pool:
        for row in pool.imap_unordered(_one, seeds, chunksize=4):
            rows.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()
            if len(rows) % 100 == 0:
                fails = sum(r["verdict"] == "FAIL" for r in rows)
                print(f"{len(rows)}/{a.cases} cases, {fails} failure(s), {time.time() - t0:.0f} s", flush=True)
    text = summarize(rows, a.start, time.time() - t0)
    print(text)
    if a.record:
        (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    return 1 if any(r["verdict"] == "FAIL" for r in rows) else 0


def summarize(rows: list[dict], start: int, seconds: float) -> str:
    by_class: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    oracle = collections.Counter()
    for r in rows:
        by_class[r["klass"]][r["verdict"]] += 1
        if r.get("oracle"):
            oracle[r["oracle"].split(" ")[0]] += 1
    verdicts = ["refused", "solved", "no_solution", "ok", "FAIL"]
    lines = ["# Fuzz suite results", "",
             f"Seeds {start}..{start + len(rows) - 1}: **{len(rows)} cases** in {len(by_class)} classes, "
             f"**{sum(r['verdict'] == 'FAIL' for r in rows)} failures**, {seconds / 60:.0f} min on 2 workers.",
             "Rerun: `PYTHONPATH=. python -m tests.fuzz.run --cases N --start S` (a case is a pure function of its "
             "seed). Verdicts: refused = exit 2 naming the changed file or key; solved / no_solution = a sane "
             "status, result files that match it, and for the small instance the brute-force oracle's status and "
             "NPV; ok = validate or batch ran with a sane index.", "",
             "| class | cases | " + " | ".join(verdicts) + " |", "|---|---|" + "---|" * len(verdicts)]
    for k in sorted(by_class):
        c = by_class[k]
        lines.append(f"| {k} | {sum(c.values())} | " + " | ".join(str(c[v]) for v in verdicts) + " |")
    lines += ["", f"Brute-force oracle (tests/reference.py) on solved or infeasible small cases: "
                  f"{oracle['agrees']} agree, {oracle['n/a']} not readable by the oracle.", ""]
    fails = [r for r in rows if r["verdict"] == "FAIL"]
    if fails:
        lines += ["## Failures", ""]
        for r in sorted(fails, key=lambda r: r["seed"])[:100]:
            lines.append(f"- seed {r['seed']} ({r['klass']}: {r['detail'][:100]}): {'; '.join(r['reasons'])[:300]}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
