"""Build + transfer time of two versions of the engine on the same instances, in one run.

    python -m benchmarks.build_ab --old REV [--new REV] [--sizes 100000,400000,1000000] [--repeat 2]
                                  [--out benchmarks/results/build_ab.md]

``--old`` (and ``--new``, default: the working tree) is checked out into a temporary
``git worktree``; each measurement is a fresh subprocess that imports the engine from that
tree and runs ``optimizer.solve(path, time_limit=0.5)`` on a scale-suite instance (generated,
seed 1) with the engine's default build options. The engine's own timings are read from the
result: ``build`` (Pyomo model), ``transfer`` (standard-form compile + ``passModel``); the
subprocess's peak memory is its ``ru_maxrss``. Runs alternate old and new; the best of each is
reported (a shared machine: the minimum is the least disturbed), and the model sizes of the two
versions are compared (same columns, rows and nonzeros, or the comparison says so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "build_ab.md"

CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import optimizer
res = optimizer.solve(sys.argv[2], time_limit=0.5)
t = res.timings
print("RESULT " + json.dumps({"build": t.get("build"), "transfer": t.get("transfer"), "sizes": res.sizes,
      "file": optimizer.__file__, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _measure(tree: Path, inst: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(inst)], capture_output=True, text=True,
                         timeout=3600, cwd=tempfile.gettempdir())
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"measurement failed ({tree}, {inst}):\n{out.stderr[-2000:]}")
    d = json.loads(line[len("RESULT "):])
    if not d["file"].startswith(str(tree)):
        raise RuntimeError(f"the child imported {d['file']}, not the engine of {tree}")
    return d


def _worktree(rev: str, into: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(into), rev], cwd=ROOT, check=True,
                   capture_output=True, text=True)
    return into


def _rev_label(rev: str | None) -> str:
    r = subprocess.run(["git", "log", "-1", "--format=%h %s", rev or "HEAD"], cwd=ROOT, capture_output=True, text=True)
    label = r.stdout.strip()[:90]
    return f"{label} (+ working tree)" if rev is None else label


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="git revision of the old engine")
    ap.add_argument("--new", default=None, help="git revision of the new engine (default: the working tree)")
    ap.add_argument("--sizes", default="100000,400000,1000000", help="scale-suite sizes (flows)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    from benchmarks import suites as S

    tmp = Path(tempfile.mkdtemp(prefix="build-ab-"))
    trees: dict[str, Path] = {}
    try:
        trees["old"] = _worktree(args.old, tmp / "old")
        trees["new"] = _worktree(args.new, tmp / "new") if args.new else ROOT
        sizes = [int(x) for x in args.sizes.split(",")]
        specs = {s.target_flows: s for s in S.scale()}
        rows = []
        for size in sizes:
            spec = specs[size]
            path = spec.path()
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            for r in range(args.repeat):
                for which in ("old", "new"):
                    d = _measure(trees[which], path)
                    runs[which].append(d)
                    print(f"{spec.name} {which} run {r + 1}: build {d['build']:.2f} s, transfer {d['transfer']:.2f} s, "
                          f"peak {d['peak_mb']:.0f} MB (load {os.getloadavg()[0]:.2f})", flush=True)
            best = {w: min(runs[w], key=lambda d: d["build"] + d["transfer"]) for w in runs}
            same = runs["old"][0]["sizes"] == runs["new"][0]["sizes"]  # columns, rows, nonzeros
            rows.append((spec.name, runs, best, same))
        lines = [
            "# Build + transfer: two engine versions, one run",
            "",
            (f"Measured {datetime.now(UTC).isoformat(timespec='seconds')} by `python -m benchmarks.build_ab` "
             f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs)."),
            "",
            f"- old: `{_rev_label(args.old)}`",
            f"- new: `{_rev_label(args.new)}`",
            ("- Each run is a fresh subprocess: `optimizer.solve(path, time_limit=0.5)` with the default build "
             f"options on the scale-suite instance; runs alternate old/new, {args.repeat} each; best of each shown."),
            "",
            "| instance | columns | rows | nonzeros | same size | build old / new (s) | transfer old / new (s) | "
            "build + transfer old / new (s) | speed-up | peak MB old / new |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for name, _runs, best, same in rows:
            o, n = best["old"], best["new"]
            bo, bn = o["build"] + o["transfer"], n["build"] + n["transfer"]
            sz = n["sizes"]
            lines.append(
                f"| {name} | {sz.get('variables', 0):,} | {sz.get('rows', 0):,} | {sz.get('nonzeros', 0):,} | "
                f"{'yes' if same else 'NO'} | {o['build']:.2f} / {n['build']:.2f} | "
                f"{o['transfer']:.2f} / {n['transfer']:.2f} | {bo:.2f} / {bn:.2f} | {bo / bn:.2f}x | "
                f"{o['peak_mb']:,.0f} / {n['peak_mb']:,.0f} |")
        def every(ds: list[dict]) -> str:
            return ", ".join(f"{d['build'] + d['transfer']:.2f}" for d in ds)

        lines += ["", "Every run (build + transfer, s): " + "; ".join(
            f"{name} old {every(runs['old'])}, new {every(runs['new'])}" for name, runs, _b, _s in rows), ""]
        text = "\n".join(lines)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(text)
        return 0
    finally:
        for which, tree in trees.items():
            if tree != ROOT:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
