"""Batch speed-up: the same 20 jobs of about 2 s each on 1 and on 2 local workers.

    python -m benchmarks.batch_speedup [--jobs 20] [--repeat 2] [--out benchmarks/results/batch_speedup.md]

The jobs are a sweep over ``solver.seed`` on one generated instance (``optimizer.bench.generate``,
35 plants x 7 models x 40 markets, seed 3: about 2 s per job), each solved with one HiGHS
thread (the batch default), so every job does about the same work. Wall-clock time is measured around
``optimizer.run_batch`` into a fresh folder, so it includes starting the pool
(spawned worker processes, import and warm-up), reading the instance, every job and
writing results and index. Runs alternate 1 and 2 workers; the best time of each is
reported (the machine is shared, the minimum is the least disturbed), next to every
run and the load average, and the speed-up is best(1 worker) / best(2 workers).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "batch_speedup.md"


def one_solve_seconds(inst: Path, n: int = 3) -> float:
    import optimizer

    optimizer.solve(inst, threads=1)  # warm-up (imports, first-solve costs)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        optimizer.solve(inst, threads=1)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2, help="runs per worker count")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--size", default="35,7,40", help="plants,models,markets of the generated instance")
    args = ap.parse_args(argv)

    from optimizer.studies.batch import run_batch
    from optimizer.bench.generate import generate

    work = Path(tempfile.mkdtemp(prefix="batch-speedup-"))
    try:
        p, v, m = (int(x) for x in args.size.split(","))
        inst = work / "instance"
        generate(inst, plants=p, models=v, markets=m, seed=3)
        job_s = one_solve_seconds(inst)
        spec = {"sweeps": [{"instance": str(inst), "id": "job", "parameters": {"solver.seed": list(range(args.jobs))}}]}
        runs: dict[int, list[float]] = {1: [], 2: []}
        loads = []
        for r in range(args.repeat):
            for w in (1, 2):
                out = work / f"out-{w}-{r}"
                loads.append(os.getloadavg()[0])
                t = time.perf_counter()
                idx = run_batch(spec, out, workers=w)
                runs[w].append(time.perf_counter() - t)
                assert idx["status"].eq("optimal").all(), idx[["job", "status", "message"]]
                print(f"workers={w} run {r + 1}: {runs[w][-1]:.1f} s (load {loads[-1]:.2f})", flush=True)
                shutil.rmtree(out)
        loads.append(os.getloadavg()[0])
        t1, t2 = min(runs[1]), min(runs[2])
        speedup = t1 / t2
        lines = [
            "# Batch speed-up: 1 vs 2 local workers",
            "",
            (f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} by `python -m benchmarks.batch_speedup`"
            f" ({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{platform.machine()})."),
            "",
            (f"- Jobs: {args.jobs} = a `solver.seed` sweep on a generated instance ({p} plants x {v} models x "
            f"{m} markets, seed 3); one HiGHS thread per job (batch default)."),
            f"- One job solved in-process (after warm-up): {job_s:.2f} s (load, validate, build, solve, extract).",
            ("- Time = wall clock of `run_batch` into a fresh folder: pool start-up (spawned workers, import, "
            "warm-up), every job, job folders and index."),
            f"- Runs alternate 1 and 2 workers, {args.repeat} each; best of each is used.",
            "",
            "| workers | runs (s) | best (s) | per job (s) |",
            "|---:|---|---:|---:|",
            f"| 1 | {', '.join(f'{x:.1f}' for x in runs[1])} | {t1:.1f} | {t1 / args.jobs:.2f} |",
            f"| 2 | {', '.join(f'{x:.1f}' for x in runs[2])} | {t2:.1f} | {t2 / args.jobs:.2f} |",
            "",
            f"**Speed-up (best 1 worker / best 2 workers): {speedup:.2f}x** (target: >= 1.7x).",
            "",
            (f"Load average (1 min) before each run and at the end: {', '.join(f'{x:.2f}' for x in loads)}. "
            "The machine has 2 cores and was shared with other work; a load above ~2 means the two workers "
            "competed with other processes, which lowers the 2-worker figure."),
            "",
        ]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
