"""Batch runs: many (instance, scenario, settings) jobs, in parallel, resumable.

``run_batch(spec, out)`` reads a batch SPEC (YAML file or mapping), expands its
``jobs`` and ``sweeps`` into jobs with stable ids, skips the jobs already finished in
``out`` (unless ``force``), runs the others on a local process pool (default) or on
an existing Dask cluster (``scheduler="tcp://host:port"``), and writes:

``out/jobs/<job>/``
    ``summary.json`` (the solve summary plus job, scenario, applied changes,
    parameters, worker, definition hash) and, with a solution, ``plants.csv``,
    ``flows.csv``, ``sales.csv``, ``software.csv``, ``breakdown.csv``. A folder is
    written under ``out/.tmp/`` and renamed into place in one step, so a job folder
    either is complete or does not exist.
``out/index.csv``, ``out/index.parquet``
    One row per job of the spec (see :data:`INDEX_COLUMNS`).

Workers only compute and return the files' text; the process that runs the batch
writes them. Writing is therefore idempotent (a result arriving twice for the same
job is kept once) and Dask workers need no shared file system.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as cf_wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BatchWorkerError, InstanceError, InstanceValidationError, InvalidOptionError, Problem, short_repr
from ..data.instance import Instance, read_yaml
from .scenarios import (
    BASE,
    SETTINGS_KEYS,
    Scenario,
    apply_scenario,
    build_scenario,
    load_scenarios,
    parse_scenarios,
    resolve_chain,
    MAX_NAME,
    safe_name,
)

log = logging.getLogger(__name__)

__all__ = ["INDEX_COLUMNS", "SOLVED", "JobDef", "read_index", "read_spec", "run_batch"]

SOLVED = ("optimal", "feasible")
"""Statuses that count as success (exit code 0 when every job has one)."""

FINAL = ("optimal", "feasible", "infeasible", "unbounded", "time_limit")
"""Statuses of finished jobs that a rerun skips; other statuses (input_error, error,
worker_lost) are run again."""

MAX_ATTEMPTS = 3
"""A job whose worker process dies this many times is recorded as ``worker_lost``."""

INDEX_COLUMNS = (
    "job", "instance", "scenario", "label", "status", "objective", "bound", "gap", "plants_kept", "plants_closed",
    "closed_plants", "jobs_cut", "units_sold", "stacks_developed", "n_changes", "message",
    "time_scenario", "time_validate", "time_build", "time_solve", "time_extract", "time_total", "time_job",
    "worker", "finished_at", "instance_path", "path",
)
"""Index columns (sweep parameters follow as ``param.<name>`` columns)."""

SPEC_KEYS = ("description", "defaults", "jobs", "sweeps")
JOB_KEYS = ("id", "instance", "scenario", "scenarios_file", "settings", "solver", "label")
SWEEP_KEYS = ("id", "instance", "scenario", "scenarios_file", "settings", "solver", "parameters", "label")
DEFAULT_KEYS = ("scenarios_file", "settings", "solver")
RESULT_FILES = ("plants", "flows", "sales", "software", "breakdown")


# ---------------------------------------------------------------------------
# the SPEC
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobDef:
    """One job of a batch, fully resolved."""

    id: str
    instance: Path
    instance_label: str
    scenario: str = BASE
    scenario_inline: Mapping[str, Any] | None = None
    scenarios_file: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


def _deep_merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _leaves(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _param_to_settings(path: str, value: Any) -> dict[str, Any]:
    parts = path.split(".")
    out: Any = value
    for p in reversed(parts):
        out = {p: out}
    return out


def _fmt_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def read_spec(spec: str | Path | Mapping[str, Any], base_dir: str | Path | None = None) -> list[JobDef]:
    """Parse a batch SPEC (path to YAML, or mapping) into jobs; raise InstanceValidationError if it is invalid.

    Paths in the SPEC are relative to the SPEC file (for a mapping: ``base_dir``,
    default the current directory).
    """
    if isinstance(spec, (str, Path)) and (Path(spec).is_dir() or Path(spec).suffix.lower() in (".xlsx", ".xlsm")):
        return instance_jobs(spec)  # an instance folder or workbook: its base and every scenario
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        raw = read_yaml(path)
        where, base = str(path), path.resolve().parent
    else:
        raw, where, base = dict(spec), "batch spec", Path(base_dir or ".").resolve()
    problems: list[Problem] = []

    def bad(msg: str, column: str | None = None, fix: str | None = None) -> None:
        problems.append(Problem(where, msg, column=column, fix=fix))

    for k in raw:
        if k not in SPEC_KEYS:
            bad(f"unknown key '{k}'.", k, f"Use: {', '.join(SPEC_KEYS)}.")
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        bad("'defaults' must be a mapping.", "defaults")
        defaults = {}
    for k in defaults:
        if k not in DEFAULT_KEYS:
            bad(f"unknown key '{k}' in defaults.", f"defaults.{k}", f"Use: {', '.join(DEFAULT_KEYS)}.")
    jobs_raw = raw.get("jobs") or []
    sweeps_raw = raw.get("sweeps") or []
    if not isinstance(jobs_raw, list) or not isinstance(sweeps_raw, list):
        bad("'jobs' and 'sweeps' must be lists.")
        jobs_raw, sweeps_raw = [], []
    if not jobs_raw and not sweeps_raw:
        bad("no jobs: give a 'jobs' list and/or a 'sweeps' list.", fix="See docs/scenarios-and-batch.md.")

    def settings_of(entry: Mapping[str, Any], col: str) -> dict[str, Any]:
        s = entry.get("settings") or {}
        if not isinstance(s, Mapping):
            bad("'settings' must be a mapping.", f"{col}.settings")
            return {}
        for k in s:
            if k not in SETTINGS_KEYS:
                bad(f"setting '{k}' cannot be changed by a job.", f"{col}.settings.{k}", f"Use: {', '.join(SETTINGS_KEYS)}.")
        solver = entry.get("solver") or {}
        if not isinstance(solver, Mapping):
            bad("'solver' must be a mapping.", f"{col}.solver")
            solver = {}
        both = set((s.get("solver") or {}) if isinstance(s.get("solver"), Mapping) else {}) & set(solver)
        if both:
            bad(f"solver option(s) {sorted(both)} given both in 'settings.solver' and 'solver'.", f"{col}.solver")
        return _deep_merge(s, {"solver": dict(solver)} if solver else {})

    def file_of(entry: Mapping[str, Any]) -> Path | None:
        f = entry.get("scenarios_file", defaults.get("scenarios_file"))
        return (base / str(f)).resolve() if f else None

    def instance_of(v: Any, col: str) -> Path | None:
        if not isinstance(v, str) or not v:
            bad("'instance' must be a path (relative to the SPEC).", col)
            return None
        try:
            p = (base / v).resolve()
            found = p.is_dir() or (p.suffix in (".yaml", ".yml") and p.is_file())
        except (OSError, ValueError, RuntimeError):
            found = False
        if not found:
            bad(f"instance {short_repr(v)} not found (looked for {short_repr(str(base / v))}).", col,
                "Give an instance folder (or its instance.yaml), relative to the SPEC file.")
            return None
        return p

    def scenario_of(v: Any, col: str) -> tuple[str, Mapping[str, Any] | None] | None:
        if v is None:
            return BASE, None
        if isinstance(v, str):
            return v, None
        if isinstance(v, Mapping):
            try:
                parse_scenarios({"inline": v}, where=where)
            except InstanceValidationError as exc:
                problems.extend(exc.problems)
                return None
            return "", v
        bad("'scenario' must be a name or an inline scenario mapping.", col)
        return None

    def entry_ok(entry: Any, col: str, keys: tuple[str, ...], not_mapping: str) -> bool:
        """A job/sweep entry is a mapping (else reported, False); its unknown keys are reported."""
        if not isinstance(entry, Mapping):
            bad(not_mapping, col)
            return False
        for k in entry:
            if k not in keys:
                bad(f"unknown key '{k}'.", f"{col}.{k}", f"Use: {', '.join(keys)}.")
        return True

    dflt_settings = settings_of(defaults, "defaults")
    jobs: list[JobDef] = []
    for i, j in enumerate(jobs_raw, 1):
        col = f"jobs[{i}]"
        if not entry_ok(j, col, JOB_KEYS, "each job must be a mapping with at least 'instance'."):
            continue
        inst = instance_of(j.get("instance"), f"{col}.instance")
        sc = scenario_of(j.get("scenario"), f"{col}.scenario")
        if inst is None or sc is None:
            continue
        name, inline = sc
        jid = j.get("id")
        if inline is not None and not jid:
            bad("a job with an inline scenario needs an 'id'.", f"{col}.id")
            continue
        if inline is not None:
            name = str(jid)
        jid = str(jid) if jid else f"{inst.name}__{name}"
        jobs.append(JobDef(id=jid, instance=inst, instance_label=str(j["instance"]), scenario=name,
                           scenario_inline=inline, scenarios_file=file_of(j),
                           settings=_deep_merge(dflt_settings, settings_of(j, col)), label=str(j.get("label") or "")))
    for i, sw in enumerate(sweeps_raw, 1):
        col = f"sweeps[{i}]"
        if not entry_ok(sw, col, SWEEP_KEYS, "each sweep must be a mapping."):
            continue
        insts = sw.get("instance")
        insts = insts if isinstance(insts, list) else [insts]
        scens = sw.get("scenario")
        scens = scens if isinstance(scens, list) else [scens]
        params = sw.get("parameters") or {}
        if not isinstance(params, Mapping):
            bad("'parameters' must be a mapping name -> list of values.", f"{col}.parameters")
            continue
        fixed = settings_of(sw, col)
        fixed_leaves = _leaves(fixed)
        pvals: list[list[tuple[str, Any]]] = []
        ok = True
        for pname, values in params.items():
            pname = str(pname)
            head = pname.split(".")[0]
            if head not in SETTINGS_KEYS:
                bad(f"unknown parameter '{pname}'.", f"{col}.parameters.{pname}",
                    f"Parameters are settings paths: {', '.join(SETTINGS_KEYS)} (e.g. plants_kept.max, solver.seed).")
                ok = False
                continue
            if pname in fixed_leaves or any(k.startswith(pname + ".") or pname.startswith(k + ".") for k in fixed_leaves):
                bad(f"parameter '{pname}' is also set in the sweep's settings.", f"{col}.parameters.{pname}")
                ok = False
                continue
            if not isinstance(values, list) or not values:
                bad(f"parameter '{pname}' needs a non-empty list of values.", f"{col}.parameters.{pname}")
                ok = False
                continue
            pvals.append([(pname, v) for v in values])
        resolved = [instance_of(x, f"{col}.instance") for x in insts]
        scs = [scenario_of(x, f"{col}.scenario") for x in scens]
        if not ok or any(x is None for x in resolved) or any(x is None for x in scs):
            continue
        if any(s[1] is not None for s in scs):  # type: ignore[index]
            bad("sweeps take scenario names, not inline scenarios.", f"{col}.scenario")
            continue
        prefix = sw.get("id")
        for inst, sc, *combo in itertools.product(resolved, scs, *pvals):
            name = sc[0]  # type: ignore[index]
            settings = dict(fixed)
            for pname, v in combo:
                settings = _deep_merge(settings, _param_to_settings(pname, v))
            parts = [str(prefix) if prefix else inst.name]  # type: ignore[union-attr]
            if len(scs) > 1 or name != BASE or not prefix:
                parts.append(name)
            parts += [f"{p}={_fmt_value(v)}" for p, v in combo]
            jobs.append(JobDef(id=safe_name("__".join(parts)), instance=inst,  # type: ignore[arg-type]
                               instance_label=str(insts[resolved.index(inst)]), scenario=name,
                               scenarios_file=file_of(sw), settings=_deep_merge(dflt_settings, settings),
                               parameters=dict(combo), label=str(sw.get("label") or "")))
    for j in jobs:
        if safe_name(j.id) != j.id:
            bad(f"job id '{j.id[:200]}' has characters that are not allowed in a folder name, or is longer than "
                f"{MAX_NAME} characters.", "id", f"Use letters, digits and . _ = - (e.g. '{safe_name(j.id)}').")
    problems.extend(_id_collisions(jobs, where))
    if problems:
        raise InstanceValidationError(problems, instance=where)
    return jobs


def _describe(j: JobDef) -> str:
    scen = "inline scenario" if j.scenario_inline is not None else f"scenario '{j.scenario}'"
    params = "".join(f", {k}={_fmt_value(v)}" for k, v in j.parameters.items())
    return f"{j.instance_label} {scen}{params}"


def _id_collisions(jobs: Sequence[JobDef], where: str) -> list[Problem]:
    """Jobs whose (safe) ids are equal would share one result folder: each such id is a problem naming the jobs."""
    groups: dict[str, list[JobDef]] = {}
    for j in jobs:
        groups.setdefault(j.id.lower(), []).append(j)  # case-insensitive file systems fold case
    return [
        Problem(where, f"job id '{grp[0].id}' is used by {len(grp)} jobs: {' and '.join(_describe(j) for j in grp)} "
                       "(names are made safe for folder names: letters, digits and . _ = - only).",
                column="id", fix="Rename one of the scenarios, or give the jobs distinct 'id's.")
        for grp in groups.values() if len(grp) > 1
    ]


def instance_jobs(folder: str | Path, scenarios_file: str | Path | None = None) -> list[JobDef]:
    """The batch of an instance folder: the base plus every scenario it defines.

    Raises :class:`InstanceValidationError` when two scenario names map to one job id.
    """
    from ..api import load

    folder = Path(folder).resolve()
    names = list(load_scenarios(load(folder), scenarios_file))
    sfile = Path(scenarios_file).resolve() if scenarios_file else None
    jobs = [JobDef(id=safe_name(n), instance=folder, instance_label=str(folder), scenario=n,
                   scenarios_file=sfile) for n in [BASE, *names]]
    where = str(sfile) if sfile else str(folder / "scenarios.yaml")
    problems = _id_collisions(jobs, where)
    if problems:
        raise InstanceValidationError(problems, instance=str(folder))
    return jobs


# ---------------------------------------------------------------------------
# what a worker runs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobTask:
    """Everything a worker needs to run one job (picklable, no file access needed)."""

    job_id: str
    instance: Instance
    scenario: str
    chain: tuple[Scenario, ...]
    overrides: Mapping[str, Any]
    parameters: Mapping[str, Any]
    job_hash: str
    instance_path: str
    label: str = ""
    default_threads: int | None = 1


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _clean(o: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None (strict JSON)."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, Mapping):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def _base_summary(task: JobTask | JobDef, status: str, message: str = "", **extra: Any) -> dict[str, Any]:
    if isinstance(task, JobTask):
        job, scen, params, label, ipath = task.job_id, task.scenario, task.parameters, task.label, task.instance_path
        h, inst = task.job_hash, task.instance.name
    else:
        job, scen, params, label, ipath = task.id, task.scenario, task.parameters, task.label, str(task.instance)
        h, inst = "", task.instance.name
    return {"job": job, "instance": inst, "instance_path": ipath, "scenario": scen, "label": label,
            "parameters": dict(params), "status": status, "objective": None, "message": message, "job_hash": h,
            "timings": {}, **extra}


def _finish(summary: dict[str, Any], files: dict[str, str], t0: float) -> dict[str, Any]:
    summary.setdefault("timings", {})["job"] = time.perf_counter() - t0
    summary["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(_clean(summary), indent=2, default=_json_default) + "\n"
    return {"status": summary["status"], "files": {"summary.json": text, **files}}


def execute_job(task: JobTask) -> dict[str, Any]:
    """Apply the scenario, build, solve; return ``{"status", "files": {name: text}}``. Never raises."""
    from ..api import solve

    t0 = time.perf_counter()
    files: dict[str, str] = {}
    try:
        t = time.perf_counter()
        applied = apply_scenario(task.instance, task.chain[-1] if task.chain else None,
                                 {s.name: s for s in task.chain}, overrides=task.overrides or None,
                                 overrides_where=f"batch job {task.job_id}")
        t_scen = time.perf_counter() - t
        built = build_scenario(applied)
        threads = None if applied.threads_set else task.default_threads
        res = solve(built, threads=threads)
        summary = _base_summary(task, str(res.status))
        s = res.summary()
        s.pop("instance", None)
        summary.update(s)
        summary["timings"] = {"scenario": t_scen, **s.get("timings", {})}
        summary["threads"] = threads if threads is not None else applied.instance.settings.solver.threads
        summary["scenario_changes"] = list(applied.changes)
        if res.status.has_solution:
            from ..results.tables import YEAR_TABLES

            for name in RESULT_FILES + (YEAR_TABLES if res.multi_year else ()):
                files[f"{name}.csv"] = res.table(name).to_csv(index=False)
    except InstanceError as exc:
        summary = _base_summary(task, "input_error", f"{len(exc.problems)} input problem(s): "
                                + "; ".join(str(p) for p in exc.problems[:3]),
                                problems=[str(p) for p in exc.problems])
    except Exception as exc:  # noqa: BLE001 - a job failure is recorded, never fatal to the batch
        summary = _base_summary(task, "error", f"{type(exc).__name__}: {exc}",
                                traceback=traceback.format_exc(limit=20))
    return _finish(summary, files, t0)


def _failure_payload(task: JobTask | JobDef, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return _finish(_base_summary(task, status, message, **extra), {}, time.perf_counter())


_WARM = {
    "name": "warmup", "tables": {
        "plants": [{"plant": "P", "country": "JP", "capacity": 1, "fixed_cost": 0, "closure_cost": 0, "headcount": 0}],
        "models": [{"model": "V", "powertrain": "BEV"}],
        "production": [{"plant": "P", "model": "V", "unit_cost": 1}],
        "markets": [{"market": "M", "country": "JP"}],
        "demand": [{"model": "V", "market": "M", "price": 2, "max_units": 1}],
        "freight": [{"plant": "P", "market": "M", "unit_cost": 0}],
    },
}


def _init_worker(quiet: bool = True) -> None:
    """Pool worker start-up: die with the parent, ignore Ctrl-C (the batch process handles it and
    ends the workers, so no worker prints a traceback), silence stdout, import and warm up the engine."""
    import signal as _signal

    with contextlib.suppress(Exception):
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    with contextlib.suppress(Exception):  # Linux: get SIGTERM when the batch process dies
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    if quiet:
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
    with contextlib.suppress(Exception):
        from ..api import solve
        from ..data.instance import from_dict

        solve(from_dict(_WARM), threads=1)


# ---------------------------------------------------------------------------
# writing results
# ---------------------------------------------------------------------------


def _commit(out: Path, job_id: str, files: Mapping[str, str]) -> bool:
    """Write a job folder atomically: temp folder in ``out/.tmp``, then one rename.

    Returns False (and keeps the existing folder) when the job's folder already exists.
    """
    tmp = out / ".tmp" / f"{job_id}.{uuid.uuid4().hex[:10]}"
    tmp.mkdir(parents=True)
    for name, text in files.items():
        with open(tmp / name, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    target = out / "jobs" / job_id
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise
    return True


def _discard(out: Path, job_id: str) -> None:
    """Remove a job's folder (rename away first, so it never looks half-deleted)."""
    target = out / "jobs" / job_id
    if not target.exists():
        return
    trash = out / ".tmp" / f"old-{job_id}.{uuid.uuid4().hex[:10]}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    os.rename(target, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _read_summary(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` for the run (filelock: an OS lock on POSIX and Windows alike)."""
    from filelock import FileLock, Timeout

    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise InvalidOptionError(f"another batch is running in {out} (lock {out / '.lock'} is held).") from None
    try:
        yield
    finally:
        lock.release()


# ---------------------------------------------------------------------------
# the index
# ---------------------------------------------------------------------------


def _index_row(job: JobDef | None, s: dict[str, Any] | None, out: Path, job_id: str) -> dict[str, Any]:
    if s is None:
        row: dict[str, Any] = {"job": job_id, "instance": job.instance.name if job else "", "scenario": job.scenario if job else "",
               "label": job.label if job else "", "status": "missing", "message": "no result (batch interrupted?)",
               "instance_path": str(job.instance) if job else ""}
        params = dict(job.parameters) if job else {}
    else:
        k = s.get("kpis") or {}
        t = s.get("timings") or {}
        row = {
            "job": s.get("job", job_id), "instance": s.get("instance"), "scenario": s.get("scenario"),
            "label": s.get("label", ""), "status": s.get("status"), "objective": s.get("objective"),
            "bound": s.get("bound"), "gap": s.get("gap"), "plants_kept": s.get("plants_kept"),
            "plants_closed": k.get("plants_closed"), "closed_plants": ";".join(k.get("closed_plants") or []),
            "jobs_cut": s.get("jobs_cut"), "units_sold": k.get("units_sold"), "stacks_developed": k.get("stacks_developed"),
            "n_changes": len(s.get("scenario_changes") or []), "message": s.get("message", ""),
            "time_scenario": t.get("scenario"), "time_validate": t.get("validate"), "time_build": t.get("build"),
            "time_solve": t.get("solve"), "time_extract": t.get("extract"), "time_total": t.get("total"),
            "time_job": t.get("job"), "worker": s.get("worker"), "finished_at": s.get("finished_at"),
            "instance_path": s.get("instance_path"),
        }
        params = s.get("parameters") or {}
    row["path"] = f"jobs/{job_id}"
    for p, v in params.items():
        row[f"param.{p}"] = v
    return row


def _index_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    cols = [c for c in INDEX_COLUMNS if c in df.columns] + sorted(c for c in df.columns if c.startswith("param."))
    for c in INDEX_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df[[*INDEX_COLUMNS, *[c for c in cols if c.startswith("param.")]]]
    num = ("objective", "bound", "gap", "plants_kept", "plants_closed", "jobs_cut", "units_sold", "stacks_developed",
           "n_changes", "time_scenario", "time_validate", "time_build", "time_solve", "time_extract", "time_total",
           "time_job")
    for c in num:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in df.columns:
        if c not in num:
            vals = df[c]
            kinds = {type(v) for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if kinds and (len(kinds) > 1 or kinds == {dict} or kinds == {list}):
                df[c] = vals.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return df


def write_index(out: Path, jobs: Sequence[JobDef]) -> pd.DataFrame:
    """Rebuild ``index.csv`` and ``index.parquet`` from the job folders (atomic replace)."""
    rows = [_index_row(j, _read_summary(out / "jobs" / j.id), out, j.id) for j in jobs]
    df = _index_frame(rows)
    tmp_csv = out / f".index.{uuid.uuid4().hex[:8]}.csv"
    df.to_csv(tmp_csv, index=False)
    os.replace(tmp_csv, out / "index.csv")
    try:
        tmp_pq = out / f".index.{uuid.uuid4().hex[:8]}.parquet"
        df.to_parquet(tmp_pq, index=False)
        os.replace(tmp_pq, out / "index.parquet")
    except ImportError:  # pragma: no cover - pyarrow missing
        log.warning("pyarrow is not installed: index.parquet not written")
    return df


def read_index(out: str | Path) -> pd.DataFrame:
    """The index of a batch folder (``index.parquet``, else ``index.csv``, else rebuilt from ``jobs/``)."""
    out = Path(out)
    if (out / "index.parquet").is_file():
        with contextlib.suppress(Exception):
            return pd.read_parquet(out / "index.parquet")
    if (out / "index.csv").is_file():
        return pd.read_csv(out / "index.csv")
    folders = sorted(p for p in (out / "jobs").glob("*") if (p / "summary.json").is_file())
    if not folders:
        raise FileNotFoundError(f"{out} holds no batch results (no index and no jobs/*/summary.json).")
    return _index_frame([_index_row(None, _read_summary(p), out, p.name) for p in folders])


# ---------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------


def _digest_instance(inst: Instance) -> str:
    h = hashlib.sha256()
    if inst.path is None:
        return ""
    files = {"instance.yaml"} | {o for o in inst.origins.values() if "(" not in o and not o.startswith("instance.")}
    for name in sorted(files):
        p = inst.path / name
        h.update(name.encode())
        with contextlib.suppress(OSError):
            h.update(p.read_bytes())
    return h.hexdigest()


def _job_hash(job: JobDef, digest: str, chain: Sequence[Scenario]) -> str:
    payload = {"instance": str(job.instance), "data": digest, "scenario": job.scenario,
               "chain": [sc.to_dict() for sc in chain], "settings": job.settings}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


@dataclass
class _Plan:
    tasks: list[JobTask]
    failed: list[tuple[JobDef, dict[str, Any]]]
    skipped: list[str]


def _plan(jobs: Sequence[JobDef], out: Path, force: bool, default_threads: int | None) -> _Plan:
    from ..api import load

    instances: dict[Path, Instance | InstanceError] = {}
    digests: dict[Path, str] = {}
    catalogues: dict[tuple[Path, Path | None], dict[str, Scenario] | InstanceError] = {}
    tasks: list[JobTask] = []
    failed: list[tuple[JobDef, dict[str, Any]]] = []
    skipped: list[str] = []
    for job in jobs:
        if job.instance not in instances:
            try:
                instances[job.instance] = load(job.instance)
                digests[job.instance] = _digest_instance(instances[job.instance])  # type: ignore[arg-type]
            except InstanceError as exc:
                instances[job.instance] = exc
        inst = instances[job.instance]
        err: InstanceError | None = inst if isinstance(inst, InstanceError) else None
        chain: list[Scenario] = []
        if err is None:
            key = (job.instance, job.scenarios_file)
            if key not in catalogues:
                try:
                    catalogues[key] = load_scenarios(inst, job.scenarios_file)  # type: ignore[arg-type]
                except InstanceError as exc:
                    catalogues[key] = exc
            cat = catalogues[key]
            if isinstance(cat, InstanceError):
                err = cat
            else:
                try:
                    if job.scenario_inline is not None:
                        sc = parse_scenarios({job.scenario: job.scenario_inline}, where=f"batch job {job.id}")[job.scenario]
                        chain = [*(resolve_chain(sc.extends, cat) if sc.extends else []), sc]
                    else:
                        chain = resolve_chain(job.scenario, cat, where=f"batch job {job.id}")
                except InstanceError as exc:
                    err = exc
        if err is not None:
            _discard(out, job.id)
            failed.append((job, _failure_payload(job, "input_error", f"{len(err.problems)} input problem(s): "
                                                 + "; ".join(str(p) for p in err.problems[:3]),
                                                 problems=[str(p) for p in err.problems])))
            continue
        h = _job_hash(job, digests.get(job.instance, ""), chain)
        prev = _read_summary(out / "jobs" / job.id)
        if prev is not None and not force and prev.get("status") in FINAL and prev.get("job_hash") == h:
            skipped.append(job.id)
            continue
        if prev is not None and not force and prev.get("job_hash") != h and prev.get("status") in FINAL:
            log.info("job %s: definition or data changed since its result was written; running it again", job.id)
        _discard(out, job.id)
        tasks.append(JobTask(job_id=job.id, instance=inst, scenario=job.scenario, chain=tuple(chain),  # type: ignore[arg-type]
                             overrides=dict(job.settings), parameters=dict(job.parameters), job_hash=h,
                             instance_path=str(job.instance), label=job.label, default_threads=default_threads))
    return _Plan(tasks, failed, skipped)


# ---------------------------------------------------------------------------
# executing
# ---------------------------------------------------------------------------

OnDone = Callable[[JobTask, dict[str, Any]], None]
OnTick = Callable[[int], None]


def default_workers() -> int:
    """Local pool size: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _worker_ready() -> int:
    """Run in a fresh pool's worker: proves the workers start (and survive their initializer)."""
    return os.getpid()


def _run_local(tasks: list[JobTask], workers: int, on_done: OnDone, on_tick: OnTick) -> None:
    # loky's workers start a fresh interpreter without re-running the caller's __main__, so a
    # script that calls run_batch at top level (no ``if __name__ == "__main__":``) works.
    from loky import ProcessPoolExecutor

    attempts: dict[str, int] = {}
    pending = list(tasks)
    while pending:
        n = max(1, min(workers, len(pending)))
        ex = ProcessPoolExecutor(max_workers=n, initializer=_init_worker)
        try:
            try:
                ex.submit(_worker_ready).result()
            except BrokenProcessPool as exc:
                msg = (f"the batch's worker processes died at start-up, before running any job: {exc}. "
                       "Check that the engine imports in a fresh Python (python -c 'import optimizer.api') "
                       "and that the machine has memory for the workers (try workers=1).")
                raise BatchWorkerError(msg) from None
            futs: dict[Future[dict[str, Any]], JobTask] = {ex.submit(execute_job, t): t for t in pending}
            pending = []
            started: set[str] = set()
            not_done = set(futs)
            while not_done:
                done, not_done = cf_wait(not_done, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    t = futs[f]
                    try:
                        payload = f.result()
                    except BrokenProcessPool:
                        if t.job_id in started:
                            attempts[t.job_id] = attempts.get(t.job_id, 0) + 1
                        if attempts.get(t.job_id, 0) >= MAX_ATTEMPTS:
                            on_done(t, _failure_payload(t, "worker_lost", f"the worker process died {MAX_ATTEMPTS} "
                                                        "times while running this job (out of memory? crash?)."))
                        else:
                            pending.append(t)
                        continue
                    except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be unpickled
                        payload = _failure_payload(t, "error", f"{type(exc).__name__}: {exc}")
                    on_done(t, payload)
                running = [futs[f] for f in not_done if f.running()]
                started |= {t.job_id for t in running}
                on_tick(min(len(running), n))
            if pending:
                log.warning("a worker process died; restarting the pool for %d unfinished job(s)", len(pending))
        except BaseException:  # Ctrl-C or an error while writing: do not wait for running solves
            for proc in list((getattr(ex, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    proc.terminate()
            ex.shutdown(wait=False, kill_workers=True)
            raise
        ex.shutdown(wait=True)


def _run_dask(tasks: list[JobTask], address: str, on_done: OnDone, on_tick: OnTick) -> None:
    from ..solver.cluster import connect

    client = connect(address)
    from distributed import KilledWorker, as_completed

    token = uuid.uuid4().hex[:8]
    try:
        futs = {}
        for t in tasks:
            f = client.submit(execute_job, t, key=f"optimizer-job-{t.job_id}-{token}", pure=False,
                              retries=MAX_ATTEMPTS - 1)
            futs[f] = t
        keys = {f.key for f in futs}
        lost: dict[str, int] = {}
        pending = as_completed(list(futs), loop=client.loop)
        while not pending.is_empty():
            done = pending.next_batch(block=False)
            if not done:
                time.sleep(0.25)
            for f in done:
                t = futs[f]
                if f.status == "finished":
                    try:
                        payload = f.result()
                    except Exception as exc:  # noqa: BLE001
                        payload = _failure_payload(t, "error", f"{type(exc).__name__}: {exc}")
                elif f.status == "lost" and lost.get(t.job_id, 0) < MAX_ATTEMPTS:
                    # the worker holding the finished result died before it reached us: run the job again
                    # (commits are atomic and idempotent, so a job that did write its folder is simply rewritten)
                    lost[t.job_id] = lost.get(t.job_id, 0) + 1
                    f.release()
                    nf = client.submit(execute_job, t, key=f"optimizer-job-{t.job_id}-{token}-r{lost[t.job_id]}",
                                       pure=False, retries=MAX_ATTEMPTS - 1)
                    futs[nf] = t
                    keys.add(nf.key)
                    pending.add(nf)
                    continue
                else:
                    err = f.exception() if f.status == "error" else None
                    if isinstance(err, KilledWorker):
                        payload = _failure_payload(t, "worker_lost", f"workers died while running this job: {err}")
                    else:
                        payload = _failure_payload(t, "error", f"{type(err).__name__ if err else f.status}: {err}")
                on_done(t, payload)
                f.release()
            try:
                proc = client.processing()
                running = sum(1 for ks in proc.values() for k in ks if k in keys)
            except Exception:  # noqa: BLE001 - display only
                running = 0
            on_tick(running)
    finally:
        client.close()


class _Display:
    """Progress bar: done / running / failed / time left (rich, on stderr)."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total, self.done, self.failed, self.running = total, done, 0, 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(SpinnerColumn(), TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("running {task.fields[running]}  failed {task.fields[failed]}"),
                                 TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                 console=self.console, transient=False)
        self.task = self.progress.add_task("batch", total=total, completed=done, running=0, failed=0)
        self.progress.start()

    def job(self, job_id: str, status: str, message: str) -> None:
        self.done += 1
        if status not in SOLVED:
            self.failed += 1
        if self.enabled:
            self.progress.update(self.task, completed=self.done, failed=self.failed)
            if status not in SOLVED:
                self.progress.console.print(f"[yellow]{job_id}[/]: {status}" + (f" - {message[:200]}" if message else ""),
                                            markup=True, highlight=False)

    def tick(self, running: int) -> None:
        self.running = running
        if self.enabled:
            self.progress.update(self.task, running=running)

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()


def run_batch(
    spec_or_path: str | Path | Mapping[str, Any] | Sequence[JobDef],
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    *,
    progress: bool = False,
    base_dir: str | Path | None = None,
    default_threads: int | None = 1,
) -> pd.DataFrame:
    """Run a batch and return its index (one row per job; see :data:`INDEX_COLUMNS`).

    Parameters
    ----------
    spec_or_path:
        Path to a SPEC YAML file, the SPEC as a mapping (paths relative to ``base_dir``),
        or a list of :class:`JobDef`.
    out:
        Batch folder (created). Finished jobs found there are skipped unless ``force``.
    workers:
        Local pool size (default: the CPUs available); 0 runs the jobs one after the
        other in this process (no pool). Not allowed together with ``scheduler``.
    scheduler:
        Address of a running Dask scheduler (``tcp://host:port``); jobs then run there.
    force:
        Run every job again, replacing existing results.
    progress:
        Show a progress bar on stderr.
    default_threads:
        HiGHS threads per job unless the job's scenario or settings set ``solver.threads``
        (1 by default so that N workers do not oversubscribe N cores).
    """
    if workers is not None and scheduler is not None:
        raise InvalidOptionError("give either workers (local pool) or scheduler (Dask), not both.")
    if workers is not None and workers < 0:
        raise InvalidOptionError("workers must be >= 0.")
    if isinstance(spec_or_path, Sequence) and not isinstance(spec_or_path, (str, bytes)) and \
            all(isinstance(j, JobDef) for j in spec_or_path):
        jobs = list(spec_or_path)
    else:
        jobs = read_spec(spec_or_path, base_dir)  # type: ignore[arg-type]
    out = Path(out)
    with _lock(out):
        shutil.rmtree(out / ".tmp", ignore_errors=True)  # leftovers of a killed run (never a finished job)
        plan = _plan(jobs, out, force, default_threads)
        display = _Display(len(jobs), len(plan.skipped), progress)
        try:
            for job, payload in plan.failed:
                _commit(out, job.id, payload["files"])
                display.job(job.id, payload["status"], json.loads(payload["files"]["summary.json"]).get("message", ""))

            def on_done(task: JobTask, payload: dict[str, Any]) -> None:
                _commit(out, task.job_id, payload["files"])
                msg = ""
                if payload["status"] not in SOLVED:
                    with contextlib.suppress(Exception):
                        msg = json.loads(payload["files"]["summary.json"]).get("message", "")
                display.job(task.job_id, payload["status"], msg)

            if plan.tasks:
                if scheduler is not None:
                    _run_dask(plan.tasks, scheduler, on_done, display.tick)
                elif workers == 0:  # in this process, one after the other (debugging, tiny batches)
                    for t in plan.tasks:
                        display.tick(1)
                        on_done(t, execute_job(t))
                else:
                    _run_local(plan.tasks, workers or default_workers(), on_done, display.tick)
        finally:
            display.close()
            shutil.rmtree(out / ".tmp", ignore_errors=True)
            index = write_index(out, jobs)
    index.attrs["reused"] = len(plan.skipped)  # finished jobs found in ``out`` and not run again
    index.attrs["run"] = len(plan.tasks) + len(plan.failed)
    return index


def exit_code(index: pd.DataFrame) -> int:
    """0 when every job has a solution, else 1."""
    return 0 if len(index) and bool(index["status"].isin(SOLVED).all()) else 1
