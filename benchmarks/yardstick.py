"""Issue 9's targets, measured in one run: the engine against the raw yardstick (:mod:`benchmarks.raw`).

For one generated instance (the scale-suite instance nearest ``--flows``, or one generated
with that target), ``runs`` pairs of subprocesses, one after the other (engine, raw, engine,
raw, ...; pairing keeps the ratio meaningful when the machine's speed drifts):

engine
    ``python -m optimizer solve PATH --time-limit T --out DIR``: the whole command as a user
    runs it.  Its phases before HiGHS starts (load, validate = validation + prepare, build,
    one-off imports, transfer = CSC assembly + ``passModel``) are the ``timings`` of the
    ``summary.json`` it writes (the printed ``Time (s):`` line comes only with a solution);
    its peak memory is the process's ``ru_maxrss`` (``os.wait4``).
raw
    ``python -m benchmarks.raw PATH --time-limit T``: read + build + pass (timed inside,
    imports apart), then the same T-second HiGHS run; peak memory the same way.

Figures per pair: ratio = engine (load + validate + build + import + transfer) / raw (read +
build + pass), and peak(engine) - peak(raw); the medians over the pairs are the result.
``startup`` also times, from outside, ``python -m optimizer --help`` and ``python -m
optimizer solve instances/nissan_2026`` (wall clock of the whole process, median of
``startup_runs``).  The load average is read before and after each subprocess.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import suites as S

ENGINE_PHASES = ("load", "validate", "build", "import", "transfer")
RAW_PHASES = ("read", "build", "pass")
ISSUE = {"raw": 0.33, "raw_read": 0.05, "raw_build": 0.24, "raw_pass": 0.04, "engine": 18.8, "ratio": 57.0,
         "raw_peak_gb": 1.44, "engine_peak_gb": 2.34}
"""The figures the issue quotes (measured outside the project on a 1,000,056-flow generated instance)."""


def run_cmd(argv: list[str], timeout: float = 3600.0, max_rss_mb: float | None = None) -> dict[str, Any]:
    """Run ``argv`` (cwd = repository root, PYTHONPATH = it); stdout, exit code, wall, peak RSS (wait4).

    ``max_rss_mb``: kill the process when its resident memory passes this (recorded in ``error``).
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="400", TERM="dumb", NO_COLOR="1")
    env["PYTHONPATH"] = str(S.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=S.ROOT, env=env)
        error = ""
        rss_max = 0.0
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _rss_mb(proc.pid)
            rss_max = max(rss_max, rss)
            if max_rss_mb is not None and rss > max_rss_mb and not error:
                proc.kill()
                error = f"killed at {rss:.0f} MB resident (over the {max_rss_mb:.0f} MB cap)"
            if time.perf_counter() - t0 > timeout and not error:
                proc.kill()
                error = f"killed after {timeout:.0f} s"
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read()
    rc = os.waitstatus_to_exitcode(status)
    return {"argv": argv, "rc": rc, "wall": wall, "peak_mb": ru.ru_maxrss / 1024.0, "stdout": text,
            "error": error, "load_before": load0, "load_after": os.getloadavg()[0]}


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


_TIME = re.compile(r"Time \(s\):\s*(.*)")


def engine_times(stdout: str) -> dict[str, float]:
    """The ``Time (s): load 0.20, validate 1.50, ...`` line of ``optimizer solve``."""
    m = None
    for m in _TIME.finditer(stdout):
        pass
    if m is None:
        return {}
    out = {}
    for part in m.group(1).split(","):
        k, _, v = part.strip().rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            continue
    return out


def instance(flows: int) -> tuple[str, Path]:
    """The scale instance of exactly ``flows`` target flows, or one generated with that target."""
    for spec in S.scale():
        if spec.target_flows == flows:
            return spec.name, spec.path()
    t, p, v, m = min(S.SCALE_SIZES, key=lambda s: abs(s[0] - flows))
    name = S.scale_name(flows)
    spec = S.Spec(name, "yardstick", S._generated(p, v, m, S.SCALE_SEED, flows), target_flows=flows)
    return name, spec.path()


def _median(xs: list[float]) -> float | None:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def measure(flows: int = 1_000_000, time_limit: float = 1.0, runs: int = 3, startup: bool = True,
            startup_runs: int = 5, max_rss_mb: float = 12_000) -> dict[str, Any]:
    """Everything the yardstick reports, as a dict (see the module docstring)."""
    name, path = instance(flows)
    py = sys.executable
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    pairs = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            # --out: summary.json holds the timings also when there is no solution (the printed
            # "Time (s):" line comes only with one); without a solution it writes just that file
            eng = run_cmd([py, "-m", "optimizer", "solve", str(path), "--time-limit", f"{time_limit:g}",
                           "--out", str(Path(tmp) / "out")], max_rss_mb=max_rss_mb)
            summ = Path(tmp) / "out" / "summary.json"
            stdout = eng.pop("stdout")
            if summ.is_file():
                doc = json.loads(summ.read_text(encoding="utf-8"))
                eng["times"] = doc.get("timings") or {}
                eng["status"] = doc.get("status")
                eng["sizes"] = doc.get("sizes")
            else:
                eng["times"] = engine_times(stdout)
                eng["tail"] = stdout[-800:]
        with tempfile.TemporaryDirectory() as tmp:
            js = Path(tmp) / "raw.json"
            raw = run_cmd([py, "-m", "benchmarks.raw", str(path), "--time-limit", f"{time_limit:g}", "--json", str(js)],
                          max_rss_mb=max_rss_mb)
            raw.pop("stdout")
            raw["times"] = json.loads(js.read_text(encoding="utf-8")) if js.is_file() else {}
        e = sum(eng["times"].get(k, 0.0) for k in ENGINE_PHASES) if eng["times"] else None
        r = sum(raw["times"].get(k, 0.0) for k in RAW_PHASES) if raw["times"] else None
        pairs.append({"engine": eng, "raw": raw, "engine_before_highs": e, "raw_before_highs": r,
                      "ratio": e / r if e and r else None, "peak_diff_mb": eng["peak_mb"] - raw["peak_mb"]})
        print(f"pair {i + 1}/{runs}: engine {e} s, raw {r} s, ratio {pairs[-1]['ratio']}, peak engine "
              f"{eng['peak_mb']:.0f} MB raw {raw['peak_mb']:.0f} MB, load {eng['load_before']:.1f}", flush=True)
    res: dict[str, Any] = {"instance": name, "path": str(path), "flows": _meta_flows(path), "time_limit": time_limit,
                           "runs": runs, "pairs": pairs, "started_utc": started,
                           "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    res["median"] = {
        "engine_before_highs": _median([p["engine_before_highs"] for p in pairs]),
        "raw_before_highs": _median([p["raw_before_highs"] for p in pairs]),
        "ratio": _median([p["ratio"] for p in pairs]),
        "engine_peak_mb": _median([p["engine"]["peak_mb"] for p in pairs]),
        "raw_peak_mb": _median([p["raw"]["peak_mb"] for p in pairs]),
        "peak_diff_mb": _median([p["peak_diff_mb"] for p in pairs]),
        **{f"engine_{k}": _median([p["engine"]["times"].get(k) for p in pairs]) for k in
           ENGINE_PHASES + ("solve", "extract", "total")},
        **{f"raw_{k}": _median([p["raw"]["times"].get(k) for p in pairs]) for k in RAW_PHASES + ("imports", "highs")},
    }
    if startup:
        res["startup"] = {}
        for label, argv in (("optimizer --help", [py, "-m", "optimizer", "--help"]),
                            ("optimizer solve instances/nissan_2026",
                             [py, "-m", "optimizer", "solve", str(S.ROOT / "instances" / "nissan_2026")])):
            walls = []
            run_cmd(argv)  # warm-up (file cache), not counted
            for _ in range(startup_runs):
                o = run_cmd(argv)
                walls.append(o["wall"])
            res["startup"][label] = {"walls": walls, "median": _median(walls), "min": min(walls), "max": max(walls),
                                     "load": os.getloadavg()[0]}
    return res


def _meta_flows(path: Path) -> int | None:
    import yaml

    doc = yaml.safe_load((path / "instance.yaml").read_text(encoding="utf-8"))
    return (doc.get("metadata") or {}).get("flows")


def write(res: dict[str, Any], results: Path) -> str:
    """yardstick.md (+ yardstick.json, every run) in ``results``."""
    from .runner import machine

    md = res["median"]
    mi = machine()

    def f(x: Any, fmt: str = "{:.2f}") -> str:
        return "-" if x is None else fmt.format(x)

    loads = [p[k]["load_before"] for p in res["pairs"] for k in ("engine", "raw")]
    lines = [
        "# Issue 9 yardstick: the engine against a raw vectorised build", "",
        f"Instance `{res['instance']}` (generated, seed {S.SCALE_SEED}; {res['flows']:,} flows), measured "
        f"{res['started_utc']}{' - ' + res['finished_utc'] if res.get('finished_utc') else ''} (the pairs) by "
        f"`python -m benchmarks yardstick --flows {res['flows'] and _target(res)}` "
        f"({res['runs']} pairs of subprocesses, engine and raw in turn; medians). HiGHS time limit "
        f"{res['time_limit']:g} s in both. Machine: {mi.get('nproc')} CPUs ({mi.get('cpu', '?')}), "
        f"{mi.get('memory', '?')} RAM, shared with other jobs: load average {min(loads):.1f}-{max(loads):.1f} "
        "during the runs (2 cores: figures are slower than on an idle machine, both sides alike). "
        f"Versions: {mi['versions']}.", "",
        "**engine** = `python -m optimizer solve PATH --time-limit 1 --out DIR`, phases from the `timings` of "
        "its `summary.json` (without a solution that is the only file `--out` writes; the printed `Time (s):` line "
        "comes only with a solution); "
        "**raw** = `python -m benchmarks.raw PATH --time-limit 1` (pandas `read_csv`, pandas joins for the flow "
        "set, numpy rows, CSC arrays, one `passModel`; no engine code). Peak memory = each whole process's "
        "`ru_maxrss` (`os.wait4`), the raw one including the same 1 s HiGHS run.", "",
        "| | this run | issue (outside the project) |", "|---|---:|---:|",
        f"| raw: read / build / pass (s) | {f(md['raw_read'])} / {f(md['raw_build'])} / {f(md['raw_pass'])} | "
        f"{ISSUE['raw_read']} / {ISSUE['raw_build']} / {ISSUE['raw_pass']} |",
        f"| raw before HiGHS (s) | {f(md['raw_before_highs'])} | {ISSUE['raw']} |",
        f"| engine: load / validate+prepare / build / import / transfer (s) | {f(md['engine_load'])} / "
        f"{f(md['engine_validate'])} / {f(md['engine_build'])} / {f(md['engine_import'])} / "
        f"{f(md['engine_transfer'])} | 0.2 / 1.5 / 5.9 / 1.0 / 10.3 |",
        f"| engine before HiGHS (s) | {f(md['engine_before_highs'])} | {ISSUE['engine']} |",
        f"| **ratio engine / raw** (target <= 3, aim 2) | **{f(md['ratio'], '{:.1f}')}x** | {ISSUE['ratio']:.0f}x |",
        f"| peak memory raw + 1 s HiGHS (GB) | {f(md['raw_peak_mb'] / 1024)} | {ISSUE['raw_peak_gb']} |",
        f"| peak memory `optimizer solve --time-limit 1` (GB) | {f(md['engine_peak_mb'] / 1024)} | "
        f"{ISSUE['engine_peak_gb']} |",
        f"| **peak difference** (target <= 0.5 GB) | **{f(md['peak_diff_mb'] / 1024)} GB** | "
        f"{ISSUE['engine_peak_gb'] - ISSUE['raw_peak_gb']:.2f} GB |", "",
        "Each pair:", "",
        "| pair | engine before HiGHS (s) | raw before HiGHS (s) | ratio | engine peak (MB) | raw peak (MB) | "
        "engine wall (s) | raw wall (s) | load before engine / raw |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, p in enumerate(res["pairs"], 1):
        e, r = p["engine"], p["raw"]
        lines.append(f"| {i} | {f(p['engine_before_highs'])} | {f(p['raw_before_highs'])} | {f(p['ratio'], '{:.1f}')} | "
                     f"{e['peak_mb']:.0f} | {r['peak_mb']:.0f} | {e['wall']:.1f} | {r['wall']:.1f} | "
                     f"{e['load_before']:.1f} / {r['load_before']:.1f} |"
                     + (f" {e['error']} {r['error']}" if e["error"] or r["error"] else ""))
    if res.get("startup"):
        lines += ["", "Start-up, the whole process timed from outside (wall clock; median of "
                  f"{len(next(iter(res['startup'].values()))['walls'])} runs after one warm-up):", "",
                  "| command | median (s) | min / max (s) | target | load |", "|---|---:|---:|---:|---:|"]
        targets = {"optimizer --help": "0.5 s", "optimizer solve instances/nissan_2026": "1.5 s"}
        for label, d in res["startup"].items():
            lines.append(f"| `{label}` | {d['median']:.2f} | {d['min']:.2f} / {d['max']:.2f} | {targets.get(label, '')} "
                         f"| {d['load']:.1f} |")
    lines += ["", f"Which targets are met and why: [NOTES.md](NOTES.md) (the run of {res['started_utc'][:10]})."]
    text = "\n".join(lines) + "\n"
    results.mkdir(parents=True, exist_ok=True)
    (results / "yardstick.md").write_text(text, encoding="utf-8")
    js = json.dumps(res, indent=1, default=float).replace(str(S.ROOT) + "/", "").replace(sys.executable, "python")
    (results / "yardstick.json").write_text(js, encoding="utf-8")
    return text


def _target(res: dict[str, Any]) -> str:
    m = re.search(r"(\d+(?:\.\d+)?)([kM])", res["instance"])
    if not m:
        return str(res["flows"])
    return str(int(float(m.group(1)) * (1000 if m.group(2) == "k" else 1_000_000)))
