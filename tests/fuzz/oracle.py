"""Run one fuzz case through the command line (in process) and judge the outcome.

A case passes when the command either refuses the input (exit 2, naming the changed file or
key, no traceback) or runs and reports a sane result: a status the engine defines, a finite
NPV and result files for a solved plan, the tests' brute-force oracle's status and NPV on the
small instance, and for monotone mutations an NPV that moved only the way the change allows.
Never exit 3, a traceback, an exception escaping, or a hang.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for reference.py

import reference  # noqa: E402

from optimizer.cli import main  # noqa: E402

from .mutate import Case  # noqa: E402

SOLVED = {"optimal", "feasible"}
STATUSES = {"optimal", "feasible", "infeasible", "unbounded", "time_limit", "error"}
JOB_STATUSES = STATUSES | {"input_error", "worker_lost", "failed"}
HANG_SECONDS = 240


@dataclass
class Outcome:
    seed: int
    klass: str
    detail: str
    exit_code: int | None
    verdict: str
    """'refused' (exit 2), 'solved', 'no_solution', 'ok' (validate/batch) or 'FAIL'."""
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    oracle: str = ""


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang


def run_case(case: Case, work: Path) -> Outcome:
    t0 = time.perf_counter()
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_SECONDS)
    # OPTIMIZER_DEBUG makes the CLI re-raise any exception that is not the project's own, so
    # a ValueError or OSError from a library is caught here as a failure, not as an exit 2.
    debug = os.environ.get("OPTIMIZER_DEBUG")
    os.environ["OPTIMIZER_DEBUG"] = "1"
    try:
        r = CliRunner().invoke(main, case.command, catch_exceptions=True)
        hang = False
    except _Hang:
        r, hang = None, True
    finally:
        if debug is None:
            os.environ.pop("OPTIMIZER_DEBUG", None)
        else:
            os.environ["OPTIMIZER_DEBUG"] = debug
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - t0
    if hang or r is None:
        return Outcome(case.seed, case.klass, case.detail, None, "FAIL", [f"hang (> {HANG_SECONDS} s)"], seconds)
    if isinstance(r.exception, _Hang):
        return Outcome(case.seed, case.klass, case.detail, None, "FAIL", [f"hang (> {HANG_SECONDS} s)"], seconds)
    reasons: list[str] = []
    out = r.output
    code = r.exit_code
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        reasons.append(f"exception escaped: {type(r.exception).__name__}: {str(r.exception)[:200]}")
    if code == 3 or "Internal error" in out:
        reasons.append("internal error (exit 3)")
    if "Traceback" in out:
        reasons.append("traceback printed")
    if code not in (0, 1, 2):
        reasons.append(f"unexpected exit code {code}")
    verdict = "FAIL"
    oracle = ""
    if not reasons and code == 2:
        verdict = "refused"
        if not any(n and n in out for n in [case.target, *case.names]):
            reasons.append(f"input error does not name {case.target} or {case.names}: {out[:300]!r}")
    elif not reasons and case.command[0] == "solve":
        verdict, oracle = _judge_solve(case, work, code, out, reasons)
    elif not reasons and case.command[0] == "batch":
        verdict = "ok"
        _judge_batch(work / "runs", code, reasons)
    elif not reasons and case.command[0] == "validate":
        verdict = "ok"
        if code != 0 or "OK" not in out:
            reasons.append(f"validate exit {code} without a problem list: {out[:200]!r}")
    if reasons:
        verdict = "FAIL"
    return Outcome(case.seed, case.klass, case.detail, code, verdict, reasons, seconds, oracle)


def _judge_solve(case: Case, work: Path, code: int, out: str, reasons: list[str]) -> tuple[str, str]:
    s_path = work / "out" / "summary.json"
    if not s_path.is_file():
        reasons.append("no summary.json written")
        return "FAIL", ""
    s = json.loads(s_path.read_text())
    status, obj = s.get("status"), s.get("objective")
    if status not in STATUSES:
        reasons.append(f"unknown status {status!r}")
    if code == 0:
        if status not in SOLVED:
            reasons.append(f"exit 0 with status {status}")
        if not (isinstance(obj, (int, float)) and math.isfinite(obj)):
            reasons.append(f"solved with objective {obj!r}")
        if not (work / "out" / "flows.csv").is_file():
            reasons.append("solved but no flows.csv")
    else:
        if status in SOLVED:
            reasons.append(f"exit 1 with status {status}")
        if obj is not None:
            reasons.append(f"no solution but objective {obj!r}")
        if (work / "out" / "flows.csv").exists():
            reasons.append("no solution but flows.csv written")
        if status == "error" and not s.get("message"):
            reasons.append("status error without a message")
    oracle = ""
    if case.reference and not reasons and status in ("optimal", "infeasible"):
        inst = Path(case.command[1])
        try:
            ref_status, ref_obj = reference.solve(inst)
        except Exception as exc:  # noqa: BLE001 - the oracle does not read every valid input
            oracle = f"n/a ({type(exc).__name__})"
        else:
            oracle = "agrees"
            if ref_status != status:
                reasons.append(f"status {status} but the brute-force oracle says {ref_status}")
            elif ref_obj is not None and obj is not None and not math.isclose(obj, ref_obj, rel_tol=2e-4, abs_tol=1e-6):
                reasons.append(f"NPV {obj} but the brute-force oracle says {ref_obj}")
    if case.direction and case.base_npv is not None and status == "optimal" and not reasons:
        tol = 1e-6 * max(1.0, abs(case.base_npv))
        if case.direction > 0 and obj < case.base_npv - tol:
            reasons.append(f"NPV fell {case.base_npv} -> {obj} after a change that can only raise it")
        if case.direction < 0 and obj > case.base_npv + tol:
            reasons.append(f"NPV rose {case.base_npv} -> {obj} after a change that can only lower it")
    return ("solved" if code == 0 else "no_solution"), oracle


def _judge_batch(runs: Path, code: int, reasons: list[str]) -> None:
    idx = runs / "index.csv"
    if not idx.is_file():
        reasons.append(f"batch exit {code} without index.csv")
        return
    import pandas as pd

    df = pd.read_csv(idx)
    bad = set(df["status"].astype(str)) - JOB_STATUSES
    if bad:
        reasons.append(f"batch index holds statuses {sorted(bad)}")
    if df["job"].duplicated().any():
        reasons.append("batch index repeats a job id")
    solved = df[df["status"].isin(sorted(SOLVED))]
    if code == 0 and len(solved) != len(df):
        reasons.append("batch exit 0 but not every job solved")
    for j in solved["job"]:
        if not (runs / "jobs" / str(j) / "flows.csv").is_file():
            reasons.append(f"solved job {j} has no flows.csv")
