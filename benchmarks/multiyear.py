"""Build time of a 10-year plan against the same number of flows in one year (issue 10's target).

    python -m benchmarks.multiyear [--flows 1000000] [--years 10] [--repeat 2] [--out benchmarks/results/multiyear.md]

Two generated instances (``optimizer.bench.generate``, seed 1) measured in one run:

- ``one year``: a v1 instance of about ``flows`` flows;
- ``years``: a v1 instance of about ``flows / years`` flows made a plan over ``years`` years
  (``periods`` added, ``horizon_years`` removed; every row applies in every year, so the
  model has about ``flows`` flow-years).

Each measurement is a fresh subprocess running ``optimizer.build`` (load, validate,
prepare, build) and the assembly of the CSC matrix that ``passModel`` receives; the best of
``repeat`` runs is kept (the machine is shared: the minimum is the least disturbed).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
import optimizer
t0 = time.perf_counter()
b = optimizer.build(sys.argv[1])
t1 = time.perf_counter()
a, lo, hi = b.blocks.matrix()
b.blocks.bounds(); b.blocks.objective()
t2 = time.perf_counter()
print("RESULT " + json.dumps({"flow_years": b.data.n_flows, "timings": b.timings, "build_total": t1 - t0,
      "assemble": t2 - t1, "nnz": int(a.nnz), "rows": int(a.shape[0]), "cols": int(a.shape[1]),
      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _generate(folder: Path, flows: int) -> Path:
    from optimizer.bench.generate import density_for_flows, generate

    sizes = {1_000: (8, 6, 40), 10_000: (24, 12, 80), 100_000: (60, 20, 150), 400_000: (100, 30, 250),
             1_000_000: (150, 40, 300)}  # the scale suite's shapes (benchmarks/suites.py)
    plants, models, markets = next(v for k, v in sorted(sizes.items()) if k >= flows) if flows <= 1_000_000 else \
        (150, 40, 300)
    density = density_for_flows(flows, plants=plants, models=models, markets=markets)
    return generate(folder, plants=plants, models=models, markets=markets, seed=1, density=density)


def _make_years(folder: Path, years: int) -> None:
    """Turn a generated v1 instance into a plan over ``years`` years (first 2026)."""
    y = folder / "instance.yaml"
    doc = yaml.safe_load(y.read_text())
    doc.pop("horizon_years", None)
    doc["periods"] = {"first": 2026, "last": 2025 + years}
    y.write_text(yaml.safe_dump(doc, sort_keys=False))


def _measure(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    line = next(s for s in out.stdout.splitlines() if s.startswith("RESULT "))
    return json.loads(line[7:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "multiyear.md")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        one = _generate(Path(tmp) / "one", args.flows)
        multi = _generate(Path(tmp) / "multi", args.flows // args.years)
        _make_years(multi, args.years)
        runs: dict[str, list[dict]] = {"one": [], "multi": []}
        for _ in range(args.repeat):
            runs["one"].append(_measure(one))
            runs["multi"].append(_measure(multi))
    best = {k: min(v, key=lambda r: r["build_total"] + r["assemble"]) for k, v in runs.items()}
    t1 = best["one"]["build_total"] + best["one"]["assemble"]
    tm = best["multi"]["build_total"] + best["multi"]["assemble"]
    import highspy
    import pandas

    lines = [
        "# Multi-year build against one year, same number of flow variables",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, pandas {pandas.__version__}, highspy {highspy.Highs().version()}); "
        f"`python -m benchmarks.multiyear --flows {args.flows} --years {args.years} --repeat {args.repeat}`; "
        "best of the runs (shared machine).",
        "",
        "| instance | flow-years | rows | nonzeros | load | validate+prepare | build | assemble CSC | total | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, label in (("one", "one year"), ("multi", f"{args.years} years")):
        r = best[k]
        tm_ = r["timings"]
        lines.append(f"| {label} | {r['flow_years']:,} | {r['rows']:,} | {r['nnz']:,} | {tm_['load']:.2f} | "
                     f"{tm_['validate']:.2f} | {tm_['build']:.2f} | {r['assemble']:.2f} | "
                     f"{r['build_total'] + r['assemble']:.2f} | {r['peak_mb']:,.0f} |")
    lines += ["", f"Ratio {args.years} years / one year (total before HiGHS): **{tm / t1:.2f}x** (target: within 2x).",
              ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
