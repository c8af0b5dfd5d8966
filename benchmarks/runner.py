"""Run benchmark suites: every instance in its own subprocess, results appended as they finish.

Per instance two subprocesses run one after the other:

``ours``
    ``optimizer.solve(path, time_limit=..., mip_gap=..., interface="direct")`` and
    its timings, sizes, status; peak memory = that process's ``ru_maxrss`` (read by
    the parent with ``os.wait4``, so it is known even when the child is killed).
``ref``
    The reference path ("the limit"), see :mod:`benchmarks.reference`: from the
    same prepared data, build the model with vectorised highspy calls (timed),
    write it once to MPS (not timed), time highspy reading the MPS back and, when
    our own HiGHS run took at most ``REF_SOLVE_MAX`` seconds, solve the MPS-read
    model alone with the same time limit and gap.

A crash, an out-of-memory kill or a hang (the parent kills a child after
``2 * time_limit + 1200`` s) is recorded in the row's ``error`` column; the run
goes on with the next instance.  Each row is appended (and flushed) to
``benchmarks/results/SUITE.csv`` as soon as it is known; a later run skips the
instances already there unless ``fresh``.
"""

from __future__ import annotations

import csv
import gc
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import suites as S

RESULTS = Path(os.environ.get("BENCH_RESULTS", S.ROOT / "benchmarks" / "results"))
MIP_GAP = 0.0
"""Relative MIP gap asked of HiGHS: 0, so that ``optimal`` means proven optimal (HiGHS's
absolute gap tolerance 1e-6 still applies), which the 1e-3 match against published optima needs."""
REF_SOLVE_MAX = 60.0
"""The reference model is also solved (same time limit) only when our HiGHS time was at most this."""
MATCH_TOL = 1e-3

COLUMNS = [
    "instance", "suite", "status", "objective", "bound", "gap", "nodes", "published_optimum", "diff", "matches",
    "sense", "variables", "binaries", "rows", "nonzeros", "flows",
    "time_load", "time_validate", "time_build", "time_import", "time_transfer", "time_highs", "time_extract",
    "time_other", "time_total", "peak_mem_mb", "time_limit", "mip_gap",
    "ref_build", "ref_mps_read", "ref_highs", "ref_status", "ref_objective", "ref_nodes", "ref_variables",
    "ref_rows", "ref_nonzeros", "ref_fixed_columns", "ref_fixed_nonzeros", "ref_peak_mem_mb", "ref_agrees",
    "overhead_ratio", "build_speed_ratio", "mps_speed_ratio", "error", "started_utc",
]


# --------------------------------------------------------------------------- child side

def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _meta(path: Path) -> dict[str, Any]:
    import yaml

    with (Path(path) / "instance.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh).get("metadata") or {}


def _phase(phase_file: str | None, text: str) -> None:
    if phase_file:
        Path(phase_file).write_text(text, encoding="utf-8")


def worker_ours(path: str, time_limit: float, mip_gap: float, interface: str = "direct",
                valid_inequalities: bool = True, phase_file: str | None = None) -> dict[str, Any]:
    import optimizer
    from optimizer.models import BuildOptions

    # in three steps (same timings as one optimizer.solve(path)), each announced to the parent, so a
    # child killed for its memory says where it was
    _phase(phase_file, "load (read + type-check)")
    t0 = time.perf_counter()
    inst = optimizer.load(path)
    load = time.perf_counter() - t0
    _phase(phase_file, f"validate + prepare + build (load took {load:.1f} s, {_peak_mb():.0f} MB peak)")
    built = optimizer.build(inst, BuildOptions(valid_inequalities=valid_inequalities))
    built.timings["load"] = load
    _phase(phase_file, f"transfer + HiGHS (built in {built.timings.get('validate', 0) + built.timings.get('build', 0):.1f}"
                       f" s, {_peak_mb():.0f} MB peak)")
    # the suites measure the monolithic model; monolithic vs Benders is benchmarks/benders.py
    res = optimizer.solve(built, time_limit=time_limit, mip_gap=mip_gap, interface=interface, method="monolithic")
    _phase(phase_file, f"extract done ({_peak_mb():.0f} MB peak)")
    t = dict(res.timings)
    t["total"] = time.perf_counter() - t0  # solve(built) times from its own start: the whole call here
    rep = res.report
    out = {
        "status": str(res.status), "objective": res.objective, "bound": res.bound, "gap": res.gap,
        "nodes": getattr(rep, "nodes", None), "message": getattr(res, "message", ""),
        "time_load": t.get("load"), "time_validate": t.get("validate"), "time_build": t.get("build"),
        "time_import": t.get("import"), "time_transfer": t.get("transfer"), "time_highs": t.get("solve"),
        "time_extract": t.get("extract"),
        "time_total": t.get("total"), "peak_mem_mb_self": _peak_mb(),
    }
    out.update(res.sizes or {})
    return out


def worker_ref(path: str, time_limit: float, mip_gap: float, solve: bool, valid_inequalities: bool | None = True,
               mps: bool = True) -> dict[str, Any]:
    import optimizer
    from optimizer.models import BuildOptions
    from optimizer.data.prepare import prepare

    from .reference import build_highs, read_mps, run_highs, write_mps

    data = prepare(optimizer.load(path))  # not timed: the engine's load/validate/prepare are its own columns
    # the same rule as the engine's build (None = its size-dependent default)
    valid_inequalities = BuildOptions(valid_inequalities=valid_inequalities).use_valid_inequalities(data.n_flows)
    ref = build_highs(data, valid_inequalities=valid_inequalities)
    out: dict[str, Any] = {"ref_build": ref.seconds, "ref_variables": ref.sizes["variables"],
                           "ref_rows": ref.sizes["rows"], "ref_nonzeros": ref.sizes["nonzeros"],
                           "ref_binaries": ref.sizes["binaries"], "ref_fixed_columns": ref.fixed_columns,
                           "ref_fixed_nonzeros": ref.fixed_nonzeros}
    h = ref.highs
    offset = ref.offset
    if mps:
        with tempfile.TemporaryDirectory(dir=S.WORK) as tmp:
            f = Path(tmp) / "model.mps"
            write_mps(ref, f)
            del ref, h
            gc.collect()
            h, secs = read_mps(f)
            out["ref_mps_read"] = secs
    if solve:
        # an MPS file carries no objective offset; give it back so objectives compare
        if mps:
            h.changeObjectiveOffset(offset)
        out.update(run_highs(h, time_limit, mip_gap))
    out["peak_mem_mb_self"] = _peak_mb()
    return out


def _child_main(argv: Sequence[str]) -> int:
    spec = json.loads(argv[0])
    out_path = Path(spec.pop("out"))
    mode = spec.pop("mode")
    try:
        if mode == "ours":
            out = worker_ours(**spec)
        elif mode == "ref":
            out = worker_ref(**spec)
        else:
            raise ValueError(mode)
        rc = 0
    except Exception as exc:  # recorded, not fatal
        out = {"error": f"{type(exc).__name__}: {exc}"[:500], "traceback": traceback.format_exc()[-3000:],
               "peak_mem_mb_self": _peak_mb()}
        rc = 3
    tmp = out_path.with_suffix(".part")
    tmp.write_text(json.dumps(out, default=float), encoding="utf-8")
    os.replace(tmp, out_path)
    return rc


# --------------------------------------------------------------------------- parent side

MAX_RSS_MB = float(os.environ.get("BENCH_MAX_RSS_MB", "12000"))
"""A child whose resident memory passes this is killed (recorded in ``error``): the machine is shared."""


def spawn(mode: str, log: Path, timeout: float, on_tick: Any = None, max_rss_mb: float | None = None,
          **kw: Any) -> dict[str, Any]:
    """Run one worker in a subprocess; returns its JSON plus peak_mem_mb, wall, error.

    ``max_rss_mb`` (default ``MAX_RSS_MB``): kill the child when its resident memory passes it.
    """
    from .yardstick import _rss_mb

    cap = MAX_RSS_MB if max_rss_mb is None else max_rss_mb
    S.WORK.mkdir(parents=True, exist_ok=True)
    fd, out = tempfile.mkstemp(suffix=".json", dir=S.WORK)
    os.close(fd)
    os.unlink(out)
    phase_file = out + ".phase"
    if mode == "ours":
        kw = {**kw, "phase_file": phase_file}
    arg = json.dumps({"mode": mode, "out": out, **kw})
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(S.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    with log.open("a", encoding="utf-8") as lf:
        lf.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {mode} {kw}\n")
        lf.flush()
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.runner", "_child", arg], stdout=lf, stderr=lf,
                                cwd=S.ROOT, env=env)
        killed = False
        oom = ""
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            el = time.perf_counter() - t0
            if on_tick:
                on_tick(el)
            if el > timeout and not killed:
                proc.send_signal(signal.SIGKILL)
                killed = True
            rss = _rss_mb(proc.pid)
            if rss > cap and not killed:
                proc.send_signal(signal.SIGKILL)
                killed = True
                oom = f"killed at {rss:.0f} MB resident after {el:.0f} s (over the {cap:.0f} MB cap)"
            time.sleep(0.25)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    res: dict[str, Any] = {}
    if os.path.exists(out):
        res = json.loads(Path(out).read_text(encoding="utf-8"))
        os.unlink(out)
    if os.path.exists(phase_file):
        res["phase"] = Path(phase_file).read_text(encoding="utf-8")
        os.unlink(phase_file)
    res["peak_mem_mb"] = ru.ru_maxrss / 1024.0
    res["wall"] = wall
    rc = proc.returncode
    if oom:
        res["error"] = oom + (f"; last phase reached: {res['phase']}" if res.get("phase") else "")
    elif killed:
        res["error"] = f"killed after {timeout:.0f} s wall (hung past the time limit)"
    elif rc < 0 and "error" not in res:
        sig = signal.Signals(-rc).name
        res["error"] = f"died with {sig}" + (" (likely out of memory: OOM killer)" if sig == "SIGKILL" else "")
    elif rc != 0 and "error" not in res:
        res["error"] = f"exit code {rc}"
    return res


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def make_row(spec_name: str, suite: str, path: Path, ours: dict[str, Any], ref: dict[str, Any],
             time_limit: float, mip_gap: float, started: str) -> dict[str, Any]:
    meta = _meta(path)
    pub = _f(meta.get("published_optimum"))
    sense = meta.get("optimum_sense") or "max_npv"
    sign = -1.0 if sense == "min_cost" else 1.0
    obj = _f(ours.get("objective"))
    bound = _f(ours.get("bound"))
    obj_own = None if obj is None else sign * obj
    bound_own = None if bound is None else sign * bound
    status = ours.get("status") or ("error" if ours.get("error") else "")
    diff = None if (obj_own is None or pub is None) else obj_own - pub
    matches: Any = ""
    if status == "optimal" and diff is not None:
        matches = abs(diff) <= MATCH_TOL
    ref_obj = _f(ref.get("ref_objective"))
    ref_own = None if ref_obj is None else sign * ref_obj
    ref_agrees: Any = ""
    if status == "optimal" and ref.get("ref_status") == "Optimal" and obj_own is not None and ref_own is not None:
        ref_agrees = abs(obj_own - ref_own) <= max(MATCH_TOL, 1e-9 * abs(obj_own))
    th, tt = _f(ours.get("time_highs")), _f(ours.get("time_total"))
    tb, ttr = _f(ours.get("time_build")), _f(ours.get("time_transfer"))
    rb, rm = _f(ref.get("ref_build")), _f(ref.get("ref_mps_read"))
    parts = [_f(ours.get(k)) for k in ("time_load", "time_validate", "time_build", "time_import", "time_transfer",
                                       "time_highs", "time_extract")]
    other = tt - sum(p or 0.0 for p in parts) if tt is not None else None
    overhead = (tt - th) / th if (th and tt is not None and th > 0) else None
    bsr = (tb + ttr) / rb if (tb is not None and ttr is not None and rb) else None
    msr = (tb + ttr) / rm if (tb is not None and ttr is not None and rm) else None
    errs = []
    if ours.get("error"):
        errs.append("ours: " + ours["error"])
    if ref.get("error"):
        errs.append("ref: " + ref["error"])
    flows = meta.get("flows")
    if flows is None and ours.get("variables") is not None:
        flows = ""
    return {
        "instance": spec_name, "suite": suite, "status": status, "objective": obj_own, "bound": bound_own,
        "gap": _f(ours.get("gap")), "nodes": ours.get("nodes"), "published_optimum": pub, "diff": diff,
        "matches": matches, "sense": sense,
        "variables": ours.get("variables"), "binaries": ours.get("binaries"), "rows": ours.get("rows"),
        "nonzeros": ours.get("nonzeros"), "flows": flows,
        "time_load": ours.get("time_load"), "time_validate": ours.get("time_validate"), "time_build": tb,
        "time_import": ours.get("time_import"), "time_transfer": ttr, "time_highs": th,
        "time_extract": ours.get("time_extract"), "time_other": other, "time_total": tt,
        "peak_mem_mb": ours.get("peak_mem_mb"), "time_limit": time_limit, "mip_gap": mip_gap,
        "ref_build": rb, "ref_mps_read": rm, "ref_highs": _f(ref.get("ref_highs")), "ref_status": ref.get("ref_status", ""),
        "ref_objective": ref_own, "ref_nodes": ref.get("ref_nodes"), "ref_variables": ref.get("ref_variables"),
        "ref_rows": ref.get("ref_rows"), "ref_nonzeros": ref.get("ref_nonzeros"),
        "ref_fixed_columns": ref.get("ref_fixed_columns"), "ref_fixed_nonzeros": ref.get("ref_fixed_nonzeros"),
        "ref_peak_mem_mb": ref.get("peak_mem_mb") if ref else None, "ref_agrees": ref_agrees,
        "overhead_ratio": overhead, "build_speed_ratio": bsr, "mps_speed_ratio": msr,
        "error": " | ".join(errs).replace("\n", " "), "started_utc": started,
    }


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.10g}"
    return "" if v is None else v


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def append_row(path: Path, row: dict[str, Any], columns: Sequence[str] = COLUMNS) -> None:
    """Append one row (flushed); a file written with an older column list is rewritten first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        target = list(columns) + [h for h in header if h not in columns]
        if header != target:
            old = read_rows(path)
            tmp = path.with_suffix(".csv.tmp")
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=target, extrasaction="ignore")
                w.writeheader()
                w.writerows(old)
            os.replace(tmp, path)
        columns = target
    with path.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: _fmt(row.get(k)) for k in columns})
        fh.flush()
        os.fsync(fh.fileno())


def run_one(spec: S.Spec, time_limit: float, mip_gap: float = MIP_GAP, ref: str = "auto",
            log: Path | None = None, on_phase: Any = None, vi: bool | None = True) -> dict[str, Any]:
    """Make the instance, run ours then the reference; the finished CSV row."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    log = log or (S.WORK / "logs" / f"{spec.suite}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    if on_phase:
        on_phase("make", 0.0)
    try:
        path = spec.path()
    except Exception as exc:
        return {"instance": spec.name, "suite": spec.suite, "status": "error",
                "error": f"making the instance failed: {type(exc).__name__}: {exc}"[:500], "started_utc": started}
    timeout = 2 * time_limit + 1200
    ours = spawn("ours", log, timeout, on_tick=(lambda e: on_phase("ours", e)) if on_phase else None,
                 path=str(path), time_limit=time_limit, mip_gap=mip_gap, valid_inequalities=vi)
    r: dict[str, Any] = {}
    if ref != "none":
        th = _f(ours.get("time_highs"))
        solve = ref == "solve" or (ref == "auto" and th is not None and th <= REF_SOLVE_MAX)
        r = spawn("ref", log, timeout, on_tick=(lambda e: on_phase("ref", e)) if on_phase else None,
                  path=str(path), time_limit=time_limit, mip_gap=mip_gap, solve=solve, valid_inequalities=vi)
    return make_row(spec.name, spec.suite, path, ours, r, time_limit, mip_gap, started)


def run_suite(name: str, *, time_limit: float | None = None, long_limit: float | None = None, resume: bool = True,
              only: Iterable[str] | None = None, ref: str = "auto", mip_gap: float = MIP_GAP,
              results: Path | None = None, quiet: bool = False, stop_at: float | None = None,
              jobs: int = 1, vi: bool | None = True) -> list[dict[str, Any]]:
    """Run suite ``name``; rows are appended to ``results/NAME.csv``.

    ``time_limit`` overrides every instance's limit; otherwise ``SHORT_LIMIT`` or, for the large
    instances, ``long_limit`` (default ``LONG_LIMIT``).  ``stop_at`` (epoch seconds): start no
    new instance after it.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    results = results or RESULTS
    csv_path = results / f"{name}.csv"
    specs = S.suite(name)
    if only:
        want = list(only)
        unknown = set(want) - {s.name for s in specs}
        if unknown:
            raise ValueError(f"not in suite {name}: {', '.join(sorted(unknown))}")
        specs = [s for s in specs if s.name in want]
    if not resume and csv_path.exists():
        if only:  # drop just those rows
            keep = [r for r in read_rows(csv_path) if r["instance"] not in set(only)]
            csv_path.unlink()
            for r in keep:
                append_row(csv_path, r)
        else:
            csv_path.unlink()
    done = {r["instance"] for r in read_rows(csv_path)}
    todo = [s for s in specs if s.name not in done]
    console = Console(stderr=False, quiet=quiet, width=None if sys.stdout.isatty() else 200)
    if done & {s.name for s in specs}:
        console.print(f"[dim]{name}: {len(done & {s.name for s in specs})} instance(s) already in {csv_path}, skipped "
                      f"(use --fresh to rerun)[/]")
    rows = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("{task.fields[phase]}"), console=console,
                  transient=False, disable=quiet) as prog:
        task = prog.add_task(name, total=len(todo), phase="")

        def one(spec: S.Spec) -> dict[str, Any] | None:
            if stop_at is not None and time.time() > stop_at:
                console.print(f"[yellow]{name}: stop time reached; {spec.name} not started[/]")
                return None
            tl = time_limit if time_limit is not None else spec.time_limit(S.SHORT_LIMIT, long_limit or S.LONG_LIMIT)

            def phase(p: str, el: float, _n: str = spec.name, _tl: float = tl) -> None:
                prog.update(task, phase=f"{_n}: {p} {el:5.0f} s (limit {_tl:g} s)")

            row = run_one(spec, tl, mip_gap, ref, on_phase=phase, vi=vi)
            with lock:
                append_row(csv_path, row)
                rows.append(row)
                prog.advance(task)
                console.print(_line(row))
            return row

        lock = threading.Lock()
        if jobs <= 1:
            for spec in todo:
                if one(spec) is None:
                    break
        else:  # several instances at once (the smoke test); timings then share the CPUs
            with ThreadPoolExecutor(max_workers=jobs) as ex:
                list(ex.map(one, todo))
    return rows


def _line(r: dict[str, Any]) -> str:
    def g(k: str, fmt: str = "{:.2f}") -> str:
        v = _f(r.get(k))
        return "-" if v is None else fmt.format(v)

    m = r.get("matches")
    mk = "[green]match[/]" if m is True else ("[red]MISMATCH[/]" if m is False else "")
    err = f" [red]{r['error'][:120]}[/]" if r.get("error") else ""
    return (f"{r['instance']:>14} {r.get('status', ''):>10} obj={g('objective', '{:.6g}')} gap={g('gap', '{:.2%}')} "
            f"{mk} highs={g('time_highs')}s total={g('time_total')}s mem={g('peak_mem_mb', '{:.0f}')}MB "
            f"overhead={g('overhead_ratio')} build/ref={g('build_speed_ratio', '{:.1f}')}{err}")


# --------------------------------------------------------------------------- interfaces, valid inequalities

def run_interfaces(flows: int = 400_000, time_limit: float = 1.0, results: Path | None = None,
                   instance: str | None = None) -> str:
    """Build + transfer with interface="direct" and "pyomo" (and the vectorised reference) on one instance.

    The instance is the scale-suite instance nearest ``flows`` (written to ``interfaces.md``/``.json``)
    or ``instance`` = ``SUITE/NAME`` of any suite (written to ``interfaces_NAME.md``/``.json``).
    """
    results = results or RESULTS
    if instance:
        suite_name, _, name = instance.partition("/")
        spec = next((s for s in S.suite(suite_name) if s.name == name), None)
        if spec is None:
            raise ValueError(f"{instance}: no instance {name!r} in suite {suite_name!r}")
        stem = f"interfaces_{name}"
    else:
        t = min(S.SCALE_SIZES, key=lambda s: abs(s[0] - flows))
        spec = next(s for s in S.scale() if s.target_flows == t[0])
        stem = "interfaces"
    path = spec.path()
    log = S.WORK / "logs" / "interfaces.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for iface in ("direct", "pyomo"):
        out[iface] = spawn("ours", log, 7200, path=str(path), time_limit=time_limit, mip_gap=MIP_GAP, interface=iface)
    out["ref"] = spawn("ref", log, 7200, path=str(path), time_limit=time_limit, mip_gap=MIP_GAP, solve=False)
    meta = _meta(path)
    lines = [
        "# Transfer paths: `interface=\"direct\"` vs `interface=\"pyomo\"`",
        "",
        f"Instance `{spec.suite}/{spec.name}` ({meta.get('flows')} flow variables; "
        f"{out['direct'].get('variables')} columns, {out['direct'].get('rows')} rows, "
        f"{out['direct'].get('nonzeros')} nonzeros). Each path in its own subprocess, HiGHS time limit "
        f"{time_limit:g} s (we time the build and the hand-over, not the solve). Peak memory = the subprocess's "
        f"ru_maxrss (includes loading the instance). Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"by `python -m benchmarks interfaces`.",
        "",
        "| path | load + validate/prepare (s) | build (s) | transfer (s) | build + transfer (s) | peak memory (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for iface in ("direct", "pyomo"):
        o = out[iface]
        if o.get("error"):
            lines.append(f"| {iface} | error: {o['error']} | | | | {o['peak_mem_mb']:.0f} |")
            continue
        lv = (o.get("time_load") or 0) + (o.get("time_validate") or 0)
        bt = o["time_build"] + o["time_transfer"]
        lines.append(f"| `{iface}` | {lv:.2f} | {o['time_build']:.2f} | {o['time_transfer']:.2f} | {bt:.2f} | "
                     f"{o['peak_mem_mb']:.0f} |")
    r = out["ref"]
    if not r.get("error"):
        lines.append(f"| reference: vectorised highspy (`benchmarks/reference.py`) | (same prepare, not timed) | "
                     f"{r['ref_build']:.2f} | (included) | {r['ref_build']:.2f} | {r['peak_mem_mb']:.0f} |")
        if r.get("ref_mps_read") is not None:
            lines.append(f"| reference: highspy `readModel` of the MPS file | | | | {r['ref_mps_read']:.2f} | |")
    d, p = out["direct"], out["pyomo"]
    if not d.get("error") and not p.get("error"):
        bd = d["time_build"] + d["time_transfer"]
        bp = p["time_build"] + p["time_transfer"]
        lines += ["", f"`pyomo` / `direct`: transfer {p['time_transfer'] / d['time_transfer']:.2f}x, build + transfer "
                  f"{bp / bd:.2f}x, peak memory {p['peak_mem_mb'] / d['peak_mem_mb']:.2f}x."]
        if not r.get("error"):
            lines.append(f"`direct` build + transfer / vectorised reference build: {bd / r['ref_build']:.1f}x.")
    text = "\n".join(lines) + "\n"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{stem}.md").write_text(text, encoding="utf-8")
    with (results / f"{stem}.json").open("w", encoding="utf-8") as fh:
        json.dump({"instance": spec.name, "suite": spec.suite, "flows": meta.get("flows"), **out}, fh, indent=1,
                  default=float)
    return text


VI_INSTANCES = (("orlib", "cap101"), ("orlib", "cap131"), ("holmberg", "p25"), ("holmberg", "p45"),
                ("holmberg", "p56"), ("scale", "gen_10k"), ("scale", "gen_100k"), ("orlib", "capa_14000"),
                ("random", "cflp_100x1000_s1"))
VI_COLUMNS = ["instance", "suite", "valid_inequalities", "status", "objective", "bound", "gap", "nodes",
              "variables", "rows", "nonzeros", "time_build", "time_transfer", "time_highs", "time_total",
              "peak_mem_mb", "time_limit", "error"]


def run_vi(time_limit: float = 120.0, results: Path | None = None, resume: bool = True,
           instances: Sequence[tuple[str, str]] = VI_INSTANCES, stop_at: float | None = None) -> str:
    """Solve a few instances with and without the valid inequalities (x_f <= U_f z_p)."""
    results = results or RESULTS
    csv_path = results / "valid_inequalities.csv"
    if not resume and csv_path.exists():
        csv_path.unlink()
    done = {(r["instance"], r["valid_inequalities"]) for r in read_rows(csv_path)}
    log = S.WORK / "logs" / "vi.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    for suite, name in instances:
        spec = next(s for s in S.suite(suite) if s.name == name)
        path = spec.path()
        for vi in (True, False):
            if (name, str(vi)) in done:
                continue
            if stop_at is not None and time.time() > stop_at:
                break
            o = spawn("ours", log, 2 * time_limit + 1200, path=str(path), time_limit=time_limit, mip_gap=MIP_GAP,
                      valid_inequalities=vi)
            sign = -1.0 if _meta(path).get("optimum_sense") == "min_cost" else 1.0
            row = {k: o.get(k) for k in VI_COLUMNS}
            row.update(instance=name, suite=suite, valid_inequalities=vi, time_limit=time_limit,
                       objective=None if o.get("objective") is None else sign * o["objective"],
                       bound=None if o.get("bound") is None else sign * o["bound"])
            append_row(csv_path, row, VI_COLUMNS)
            print(f"vi={vi!s:5} {name:>10} {o.get('status')} highs={o.get('time_highs')} nodes={o.get('nodes')} "
                  f"gap={o.get('gap')} {o.get('error', '')}", flush=True)
    return write_vi_md(results)


def write_vi_md(results: Path | None = None) -> str:
    results = results or RESULTS
    rows = read_rows(results / "valid_inequalities.csv")
    by: dict[str, dict[str, dict[str, str]]] = {}
    for r in rows:
        by.setdefault(r["instance"], {})[r["valid_inequalities"]] = r
    lines = [
        "# Do the valid inequalities help?",
        "",
        "`optimizer.build(path, BuildOptions(valid_inequalities=True|False))`: the optional family "
        "x_f <= U_f z_p (U_f = min(max_units, plant capacity, line capacity)) and a_pvm <= z_p. Same HiGHS "
        "settings otherwise (relative gap 0, time limit per row). Each solve in its own subprocess. "
        "Regenerate with `python -m benchmarks vi`.",
        "",
        "| instance | rows off / on | status off / on | HiGHS s off / on | nodes off / on | final gap off / on | "
        "objective off / on |",
        "|---|---|---|---|---|---|---|",
    ]

    def g(r: dict[str, str] | None, k: str, fmt: str = "{:.2f}") -> str:
        if r is None:
            return "not run"
        v = _f(r.get(k))
        return (r.get(k) or "-") if v is None else fmt.format(v)

    for name, d in by.items():
        off, on = d.get("False"), d.get("True")
        lines.append(
            f"| {name} | {g(off, 'rows', '{:.0f}')} / {g(on, 'rows', '{:.0f}')} | "
            f"{(off or {}).get('status', 'not run')} / {(on or {}).get('status', 'not run')} | "
            f"{g(off, 'time_highs')} / {g(on, 'time_highs')} | {g(off, 'nodes', '{:.0f}')} / {g(on, 'nodes', '{:.0f}')} | "
            f"{g(off, 'gap', '{:.3%}')} / {g(on, 'gap', '{:.3%}')} | {g(off, 'objective', '{:.10g}')} / "
            f"{g(on, 'objective', '{:.10g}')} |")
    text = "\n".join(lines) + "\n"
    (results / "valid_inequalities.md").write_text(text, encoding="utf-8")
    return text


# --------------------------------------------------------------------------- summary

def machine() -> dict[str, str]:
    info = {"nproc": str(os.cpu_count())}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = int(fh.readline().split()[1])
        info["memory"] = f"{kb / 1024 ** 2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    info["os"] = platform.platform()
    vers = {"python": platform.python_version()}
    for mod in ("pyomo", "highspy", "pandas", "numpy", "scipy"):
        try:
            from importlib.metadata import version

            vers[mod] = version(mod)
        except Exception:
            vers[mod] = "?"
    info["versions"] = ", ".join(f"{k} {v}" for k, v in vers.items())
    return info


BEFORE = "pyomo_build"
"""Sub-folder of the results holding the rows measured with the Pyomo build (before issue 9)."""


def _git_head() -> str:
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h %cI"], cwd=S.ROOT, capture_output=True, text=True,
                             timeout=10)
        return f"commit {out.stdout.strip()}" if out.returncode == 0 else "?"
    except Exception:
        return "?"


def _median(xs: list[float]) -> float | None:
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _yardsticks(results: Path) -> list[str]:
    """The issue's outside measurements next to ours (rows of the committed CSVs and interfaces files)."""
    def row(suite: str, name: str) -> dict[str, str] | None:
        return next((r for r in read_rows(results / f"{suite}.csv") if r["instance"] == name), None)

    def solved(r: dict[str, str] | None) -> str:
        if r is None:
            return "not run"
        gap = _f(r.get("gap"))
        txt = (f"{r['status']} in HiGHS {_f(r['time_highs']):.0f} s (total {_f(r['time_total']):.0f} s, "
               f"limit {_f(r['time_limit']):.0f} s)")
        if r["status"] != "optimal" and gap is not None:
            txt += f", gap {gap:.2%}"
        if r.get("matches") == "True":
            txt += ", matches the published optimum"
        return txt

    out = ["## Against the yardsticks measured outside the project", "",
           "The benchmark issue quotes measurements taken outside the project on a similar 2-core machine; "
           "ours, from the rows above (valid inequalities on unless said otherwise, relative gap 0):", "",
           "| outside measurement | ours |", "|---|---|",
           f"| plain HiGHS, capc at capacity 7250: about 5 min | capc_7250: {solved(row('orlib', 'capc_7250'))} |",
           f"| plain HiGHS, capb at capacity 8000: about 13 min | capb_8000: {solved(row('orlib', 'capb_8000'))} |"]
    rand = [r for r in read_rows(results / "random.csv") if r["instance"].startswith("cflp_100x1000")]
    off = [r for r in read_rows(results / "random_vi_off" / "random.csv") if r["instance"].startswith("cflp_100x1000")]
    if rand:
        txt = "with the valid inequalities: " + "; ".join(f"{r['instance']}: {solved(r)}" for r in rand)
        if off:
            txt += (". Without them (the engine's default above 5,000 flows; `random_vi_off/random.csv`): "
                    + "; ".join(f"{r['instance']}: {solved(r)}" for r in off))
        out.append(f"| random 100-facility x 1000-customer CFLP: HiGHS had not closed a 9 % gap after 60 s | {txt} |")
    for f in sorted(results.glob("interfaces*.json")):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            di, py, rf = d["direct"], d["pyomo"], d["ref"]
            txt = (f"{d.get('suite', 'scale')}/{d['instance']} ({di['variables']:,} variables, {di['nonzeros']:,} "
                   f"nonzeros): build + transfer through pyomo.contrib.solver's HiGHS interface "
                   f"{py['time_build'] + py['time_transfer']:.1f} s, peak {py['peak_mem_mb'] / 1024:.2f} GB; "
                   f"our default direct path {di['time_build'] + di['time_transfer']:.1f} s, peak "
                   f"{di['peak_mem_mb'] / 1024:.2f} GB; vectorised highspy (same model) {rf['ref_build']:.2f} s")
        except (KeyError, TypeError, ValueError):
            continue
        out.append("| a 400,000-variable facility-location model: Pyomo's HiGHS interface about 26 s and 2.9 GB, "
                   f"vectorised highspy about 0.1 s, linopy 1.2 s | {txt} (linopy not measured) |")
    return out + [""]


def summary(results: Path | None = None, notes: str | None = None) -> str:
    """Regenerate ``results/SUMMARY.md`` from the suite CSVs."""
    results = results or RESULTS
    mi = machine()

    def n(x: float | None, fmt: str = "{:.2f}") -> str:
        return "-" if x is None else fmt.format(x)

    lines = ["# Benchmark summary", "",
             f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python -m benchmarks summary` "
             "from the CSVs next to this file.", "",
             f"Machine: {mi.get('nproc')} CPUs ({mi.get('cpu', '?')}), {mi.get('memory', '?')} RAM, {mi.get('os')}. "
             "Times are wall clock; how busy the machine was during each run is in the notes at the end.", "",
             f"Versions: {mi['versions']}. Code: {_git_head()} (runs use the working tree of the time, "
             "see each row's `started_utc`).", "",
             "Settings: relative MIP gap 0 (so `optimal` means proven optimal), HiGHS default threads; per-instance "
             f"time limit {S.SHORT_LIMIT:g} s, {S.LONG_LIMIT:g} s for the large ones (capa/capb/capc, Holmberg p56-p71, "
             f"pmed with n >= 500), {S.RANDOM_LIMIT:g} s for the random CFLP suite; the limit of each row is in "
             "its CSV. `matches`: |objective - published| <= 1e-3 "
             "in the instance's own sign (minimum cost for the converted sets), judged only for proven-optimal rows.",
             "",
             "| suite | expected | run | optimal | match / optimal with a published optimum | mismatches | feasible (limit) "
             "| no solution | errors | total time (s) | median time (s) | largest proven optimal (flows) | largest with a "
             "solution (flows) | median / max overhead ratio | median build-speed ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    details = []
    for suite in S.SUITES:
        rows = read_rows(results / f"{suite}.csv")
        try:
            specs: list[S.Spec] | None = S.suite(suite)
        except OSError:  # the benchmark data are not on this machine: the expected list is unknown
            specs = None
        expected = len(specs) if specs is not None else "?"
        if not rows:
            lines.append(f"| {suite} | {expected} | 0 (not run) | | | | | | | | | | | | |")
            continue
        st = [r["status"] for r in rows]
        opt = [r for r in rows if r["status"] == "optimal"]
        withpub = [r for r in opt if r.get("published_optimum")]
        match = [r for r in withpub if r.get("matches") == "True"]
        mism = [r for r in withpub if r.get("matches") == "False"]
        feas = st.count("feasible")
        nosol = sum(1 for s in st if s in ("time_limit", "infeasible"))
        errs = sum(1 for r in rows if r["status"] in ("error", "") or r.get("error"))
        tt = [_f(r["time_total"]) for r in rows if _f(r.get("time_total")) is not None]
        ov = [_f(r["overhead_ratio"]) for r in rows if _f(r.get("overhead_ratio")) is not None]
        bs = [_f(r["build_speed_ratio"]) for r in rows if _f(r.get("build_speed_ratio")) is not None]
        solved = [r for r in rows if r["status"] in ("optimal", "feasible")]
        def biggest(rs: list[dict[str, str]]) -> str:
            big = max(rs, key=lambda r: _f(r.get("flows")) or _f(r.get("variables")) or 0, default=None)
            if not big:
                return "-"
            fl = _f(big.get("flows"))
            return f"{big['instance']} ({fl:,.0f})" if fl else f"{big['instance']} ({big.get('variables')} vars)"

        bigtxt = biggest(opt) + " | " + biggest(solved)
        started = sorted(r["started_utc"] for r in rows if r.get("started_utc"))
        if started:
            details.append(f"{suite}: rows started between {started[0]} and {started[-1]}.")
        lines.append(
            f"| {suite} | {expected} | {len(rows)} | {len(opt)} | {len(match)} / {len(withpub)} | {len(mism)} | {feas} "
            f"| {nosol} | {errs} | {n(sum(tt), '{:.0f}')} | {n(_median(tt))} | {bigtxt} | "
            f"{n(_median(ov))} / {n(max(ov) if ov else None)} | {n(_median(bs), '{:.1f}')} |")
        if mism:
            details.append(f"**{suite}: proven optimal but NOT matching the published optimum:** " + "; ".join(
                f"{r['instance']} (ours {r['objective']}, published {r['published_optimum']})" for r in mism))
        missing = [s.name for s in specs or [] if s.name not in {r["instance"] for r in rows}]
        if missing:
            details.append(f"**{suite}: not run ({len(missing)}):** {', '.join(missing)}")
        ex = [((_f(r["time_total"]) - _f(r["time_import"]) - _f(r["time_highs"])) / _f(r["time_highs"]))
              for r in rows if all(_f(r.get(k)) is not None for k in ("time_total", "time_import", "time_highs"))
              and _f(r["time_highs"]) > 0]
        if ex:
            details.append(f"{suite}: overhead ratio without the engine's one-off imports (Pyomo's lazy scipy import, "
                           f"paid once per process, {len(ex)} rows that record it): median {_median(ex):.2f}, "
                           f"max {max(ex):.2f}.")
        hit = [r for r in rows if r["status"] == "feasible" and _f(r.get("diff")) is not None
               and abs(_f(r["diff"])) <= MATCH_TOL]
        if hit:
            details.append(f"{suite}: stopped by the time limit holding the published optimum (not proven): "
                           + ", ".join(r["instance"] for r in hit))
        nonopt = [r for r in rows if r["status"] != "optimal"]
        if nonopt:
            details.append(f"{suite}: not proven optimal: " + "; ".join(
                f"{r['instance']} {r['status']}" + (f" gap {float(r['gap']):.2%}" if _f(r.get('gap')) is not None else "")
                + (f" ({r['error'][:160]})" if r.get("error") else "") for r in nonopt))
        alone = [(r, (_f(r["time_total"]) or 0) / ((_f(r["ref_mps_read"]) or 0) + (_f(r["ref_highs"]) or 0)))
                 for r in rows if _f(r.get("ref_highs")) is not None and _f(r.get("time_total")) is not None
                 and (_f(r.get("ref_mps_read")) or 0) + (_f(r.get("ref_highs")) or 0) > 0]
        if alone:
            hr = [(_f(r["time_highs"]) or 0) / _f(r["ref_highs"]) for r, _ in alone if _f(r.get("ref_highs"))]
            details.append(
                f"{suite}: against the solver alone (highspy reading the MPS file and solving it, "
                f"{len(alone)} rows where the reference was solved): our total time / (MPS read + its HiGHS time) "
                f"median {_median([x for _, x in alone]):.2f}, max {max(x for _, x in alone):.2f}; our HiGHS time / "
                f"its HiGHS time median {_median(hr):.2f} (same model, so ~1 up to noise and row order).")
        disagree = [r for r in rows if r.get("ref_agrees") == "False"]
        if disagree:
            details.append(f"{suite}: engine and vectorised reference both optimal but with different objectives "
                           f"(the two models differ): " + "; ".join(
                               f"{r['instance']} (ours {r['objective']}, reference {r['ref_objective']})"
                               for r in disagree))
    lines += [""] + [d + "\n" for d in details]
    # where the time goes, per suite (sums over the rows)
    lines += ["## Where the time goes (sum over each suite's rows, seconds)", "",
              "| suite | load | validate + prepare | build (Pyomo before 2026-12, blocks since) | one-off imports | "
              "transfer (compile or CSC assembly + passModel) | "
              "HiGHS | extract | other (not in a timing: total - the rest) | total | reference build (vectorised "
              "highspy) | reference MPS read |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for suite in S.SUITES:
        rows = read_rows(results / f"{suite}.csv")
        if not rows:
            continue
        for r in rows:
            if not r.get("time_other") and _f(r.get("time_total")) is not None:
                r["time_other"] = str(_f(r["time_total"]) - sum(_f(r.get(k)) or 0.0 for k in (
                    "time_load", "time_validate", "time_build", "time_import", "time_transfer", "time_highs",
                    "time_extract")))
        tot = {k: sum(_f(r.get(k)) or 0.0 for r in rows) for k in
               ("time_load", "time_validate", "time_build", "time_import", "time_transfer", "time_highs",
                "time_extract", "time_other", "time_total", "ref_build", "ref_mps_read")}
        lines.append(f"| {suite} | " + " | ".join(f"{tot[k]:.1f}" for k in tot) + " |")
    lines.append("")
    scale_rows = read_rows(results / "scale.csv")
    if scale_rows:
        before = {r["instance"]: r for r in read_rows(results / BEFORE / "scale.csv")}
        lines += ["## Scale series", "",
                  f"`before`: the same instance's row measured with the Pyomo build (before issue 9), kept in "
                  f"[{BEFORE}/scale.csv]({BEFORE}/scale.csv); its sizes count fixed plants as constants (Pyomo's "
                  "standard form), the new rows as columns with lower = upper (`ref_fixed_columns`).", "",
                  "| instance | flows | vars | rows | nonzeros | status | load | validate+prepare | build | transfer | "
                  "HiGHS | extract | total | peak MB | ref build | build-speed ratio | overhead ratio | before: build "
                  "+ transfer (s) | before: peak MB | measured |",
                  "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        scale_rows.sort(key=lambda r: _f(r.get("flows")) or 0)
        for r in scale_rows:
            def c(k: str, fmt: str = "{:.2f}", row: dict[str, str] = r) -> str:
                return n(_f(row.get(k)), fmt)
            b = before.get(r["instance"])
            bt = (n((_f(b.get("time_build")) or 0) + (_f(b.get("time_transfer")) or 0)) + " | "
                  + n(_f(b.get("peak_mem_mb")), "{:,.0f}")) if b and b is not r and b.get(
                "started_utc") != r.get("started_utc") else "- | -"
            lines.append(f"| {r['instance']} | {c('flows', '{:,.0f}')} | {c('variables', '{:,.0f}')} | "
                         f"{c('rows', '{:,.0f}')} | {c('nonzeros', '{:,.0f}')} | {r['status']} | {c('time_load')} | "
                         f"{c('time_validate')} | {c('time_build')} | {c('time_transfer')} | {c('time_highs')} | "
                         f"{c('time_extract')} | {c('time_total')} | {c('peak_mem_mb', '{:,.0f}')} | {c('ref_build')} | "
                         f"{c('build_speed_ratio', '{:.1f}')} | {c('overhead_ratio')} | {bt} | "
                         f"{(r.get('started_utc') or '')[:16]} |"
                         + (f" {r['error'][:300]}" if r.get("error") else ""))
        lines += ["", "Rows run before the engine timed its one-off imports apart (before about 18:40 UTC) have them "
              "inside `other` (or, earlier still, inside `transfer`); `other` is what the engine's own timings do "
              "not cover (e.g. loading HiGHS's solution values back into the Pyomo variables).", ""]
    lines += _yardsticks(results)
    extras = [(f.name, f"Transfer paths (direct vs pyomo), {f.stem.removeprefix('interfaces').strip('_') or 'gen_400k'}")
              for f in sorted(results.glob("interfaces*.md"))]
    for extra, title in extras + [("yardstick.md", "Issue 9 yardstick: the engine against a raw vectorised build "
                                                   "(time before HiGHS, peak memory, start-up)"),
                                  ("benders.md", ("Monolithic vs Benders decomposition (issue 12): capa/capb/capc "
                                                  "beside Fischetti-Ljubic-Sinnl, pmed1-40, random CFLPs, generated "
                                                  "instances, scenario sets and Dask workers")),
                                  ("valid_inequalities.md", "Valid inequalities on/off"),
                                  ("build_ab.md", "Build + transfer, engine before/after the LinearExpression build"),
                                  ("batch_speedup.md", "Batch of 20 jobs on 1 vs 2 workers")]:
        if (results / extra).is_file():
            lines.append(f"- {title}: [{extra}]({extra})")
    if notes:
        lines += ["", notes]
    notes_file = results / "NOTES.md"
    if notes_file.is_file():
        lines += ["", notes_file.read_text(encoding="utf-8")]
    text = "\n".join(lines) + "\n"
    results.mkdir(parents=True, exist_ok=True)
    (results / "SUMMARY.md").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "_child":
        sys.exit(_child_main(sys.argv[2:]))
    print("use: python -m benchmarks ...", file=sys.stderr)
    sys.exit(2)
