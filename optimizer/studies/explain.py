"""Explain decisions by their regret: what flipping each one would cost.

:func:`explain` solves the base plan, then re-solves once per decision with that
decision forced the other way, as one batch (in parallel, resumable):

* each plant the model is free to decide (status ``free``): kept -> forced closed
  (``status: close``), closed -> forced kept (``status: keep``);
* each non-default software variant (model, stack) that some flow could use:
  developed -> forced not developed, not developed -> forced developed
  (``fix_software`` of a scenario fixes the model's ``w`` variable).

regret = base NPV - NPV with the decision flipped, i.e. the NPV the flip would
lose. A flip without any feasible plan has regret ``inf``. Plants whose status is
fixed in the input are listed as such, without a re-solve. The base and every flip
use the same solver settings, so with a MIP gap g > 0 regrets are exact only up
to about g x |NPV| (use ``mip_gap=0`` for exact figures); a slightly negative regret
means the base plan was not proven optimal.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .batch import JobDef, run_batch
from ..errors import NoSolutionError
from ..data.instance import Instance
from .scenarios import BASE, apply_scenario, load_scenarios
from ..results import format as fmt

__all__ = ["Explanation", "explain"]

COLUMNS = ("rank", "kind", "decision", "base", "flip", "flipped_objective", "regret", "regret_pct", "status", "job")


@dataclass
class Explanation:
    """The ranked decisions (``table``) and the base solve they refer to."""

    instance: str
    scenario: str | None
    base_status: str
    base_objective: float | None
    table: pd.DataFrame
    complete: bool
    out: Path | None = None

    def to_markdown(self) -> str:
        """The ranked table as Markdown."""
        lines = [f"# Why this plan? {self.instance}" + (f" / scenario {self.scenario}" if self.scenario else ""), "",
                 f"Base plan: {self.base_status}, NPV {_num(self.base_objective)}.", "",
                 ("Regret = base NPV - NPV with the decision flipped (what the flip would lose); "
                 "`inf` = no feasible plan with that flip."), "",
                 "| rank | kind | decision | base | flip | flipped NPV | regret | regret % | status |",
                 "|---:|---|---|---|---|---:|---:|---:|---|"]
        for r in self.table.itertuples():
            pct = "" if pd.isna(r.regret_pct) else ("inf" if math.isinf(r.regret_pct) else f"{r.regret_pct:.3f}")
            lines.append(f"| {r.rank} | {r.kind} | {r.decision} | {r.base} | {r.flip} | {_num(r.flipped_objective)} | "
                         f"{_num(r.regret)} | {pct} | {r.status} |")
        return "\n".join(lines) + "\n"


_num = fmt.number


def explain(
    source: str | Path,
    *,
    scenario: str | None = None,
    scenarios_file: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    software: bool = True,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    progress: bool = False,
    default_threads: int | None = 1,
    force: bool = False,
) -> Explanation:
    """Rank every plant (and software-variant) decision of the plan by its regret.

    ``source`` is an instance folder. The re-solves run as a batch in ``out`` (kept,
    and resumable) or in a temporary folder. ``workers``/``scheduler`` as in
    :func:`optimizer.run_batch`; ``time_limit``/``mip_gap`` apply to every solve.
    """
    from ..api import build, load

    folder = Path(source)
    if folder.suffix in {".yaml", ".yml"}:
        folder = folder.parent
    folder = folder.resolve()
    inst: Instance = load(folder)
    sfile = Path(scenarios_file).resolve() if scenarios_file else None
    if scenario and scenario != BASE:
        applied = apply_scenario(inst, scenario, load_scenarios(inst, sfile))
        inst_used = applied.instance
    else:
        scenario, inst_used = None, inst
    solver: dict[str, Any] = {}
    if time_limit is not None:
        solver["time_limit_s"] = time_limit
    if mip_gap is not None:
        solver["mip_rel_gap"] = mip_gap
    settings = {"solver": solver} if solver else {}

    tmp = None
    if out is None:
        tmp = tempfile.mkdtemp(prefix="optimizer-explain-")
        bdir = Path(tmp)
    else:
        bdir = Path(out)
    try:
        base_job = JobDef(id="base", instance=folder, instance_label=str(source), scenario=scenario or BASE,
                          scenarios_file=sfile, settings=settings, label="base plan")
        idx = run_batch([base_job], bdir, workers=0 if scheduler is None else None, scheduler=scheduler, force=force,
                        progress=False, default_threads=default_threads)
        b = idx.iloc[0]
        base_status, base_obj = str(b["status"]), (None if pd.isna(b["objective"]) else float(b["objective"]))
        if base_status not in ("optimal", "feasible"):
            msg = _message(bdir / "jobs" / "base")
            raise NoSolutionError(f"the base plan of {inst.name} has no solution ({base_status})"
                                  + (f": {msg}" if msg else "") + "; nothing to explain.")
        plants = pd.read_csv(bdir / "jobs" / "base" / "plants.csv")
        sw = pd.read_csv(bdir / "jobs" / "base" / "software.csv")
        jobs: list[JobDef] = []
        meta: dict[str, dict[str, str]] = {}
        fixed_rows: list[dict[str, Any]] = []
        status_in = dict(zip(inst_used.tables["plants"]["plant"], inst_used.tables["plants"]["status"]))
        per = inst_used.settings.periods
        if per is not None:  # a multi-year plan: flip closure years (one year earlier, one later, never)
            pt = inst_used.tables["plants"].set_index("plant")
            for r in plants.itertuples():
                p = str(r.plant)
                cy = None if pd.isna(r.closure_year) else int(r.closure_year)
                fixed = status_in.get(p, "free") not in ("free", None) or not pd.isna(pt.at[p, "closure_year"])
                base = "never closed" if cy is None else f"closed {cy}"
                if fixed:
                    fixed_rows.append({"kind": "plant", "decision": p, "base": base, "flip": "-",
                                       "status": "fixed in input (status or closure_year)"})
                    continue
                options: list[tuple[str, dict[str, Any], str]] = []
                ec = pt.at[p, "earliest_closure"] if "earliest_closure" in pt else None
                first_allowed = per.first if ec is None or pd.isna(ec) else max(per.first, int(ec))
                if cy is None:
                    if first_allowed <= per.last:
                        options.append(("close-last", {"closure_year": per.last}, f"closed {per.last}"))
                else:
                    if cy - 1 >= first_allowed:
                        options.append(("earlier", {"closure_year": cy - 1}, f"closed {cy - 1}"))
                    options.append(("later", {"closure_year": cy + 1} if cy + 1 <= per.last else {"status": "keep"},
                                    f"closed {cy + 1}" if cy + 1 <= per.last else "never closed"))
                    if cy + 1 <= per.last:
                        options.append(("never", {"status": "keep"}, "never closed"))
                for tag, setv, label in options:
                    jid = f"plant-{_safe(p)}-{tag}"
                    change = {"table": "plants", "where": {"plant": p}, "set": setv}
                    jobs.append(_flip_job(jid, folder, source, scenario, sfile, settings, {"changes": [change]},
                                          f"plant {p}: {label}"))
                    meta[jid] = {"kind": "plant", "decision": p, "base": base, "flip": label}
        for r in plants.itertuples() if per is None else ():
            p = str(r.plant)
            kept = bool(r.kept)
            if status_in.get(p, "free") != "free":
                fixed_rows.append({"kind": "plant", "decision": p, "base": "kept" if kept else "closed", "flip": "-",
                                   "status": f"fixed in input (status {status_in[p]})"})
                continue
            flip = "close" if kept else "keep"
            jid = f"plant-{_safe(p)}-{flip}"
            change = {"table": "plants", "where": {"plant": p}, "set": {"status": flip}}
            jobs.append(_flip_job(jid, folder, source, scenario, sfile, settings, {"changes": [change]},
                                  f"plant {p}: force {flip}"))
            meta[jid] = {"kind": "plant", "decision": p, "base": "kept" if kept else "closed",
                         "flip": "forced closed" if kept else "forced kept"}
        if software and len(sw):
            wl = build(inst_used).blocks.vars["w"].labels
            usable = set(zip(wl["model"], wl["stack"]))
            for r in sw.itertuples():
                if _truthy(r.default):
                    continue
                v, s, dev = str(r.model), str(r.stack), _truthy(r.developed)
                if (v, s) not in usable:
                    continue
                jid = f"software-{_safe(v)}-{_safe(s)}-{'drop' if dev else 'develop'}"
                fix = {"fix_software": [{"model": v, "stack": s, "developed": not dev}]}
                jobs.append(_flip_job(jid, folder, source, scenario, sfile, settings, fix,
                                      f"software {v}/{s}: force {'not ' if dev else ''}developed"))
                meta[jid] = {"kind": "software", "decision": f"{v}/{s}", "base": "developed" if dev else "not developed",
                             "flip": "forced not developed" if dev else "forced developed"}
        rows: list[dict[str, Any]] = []
        if jobs:
            fidx = run_batch([base_job, *jobs], bdir, workers=workers, scheduler=scheduler, force=force, progress=progress,
                             default_threads=default_threads)
            for r in fidx.itertuples():
                if str(r.job) not in meta:
                    continue
                m = meta[str(r.job)]
                st = str(r.status)
                obj = None if pd.isna(r.objective) else float(r.objective)
                if st in ("optimal", "feasible") and obj is not None and base_obj is not None:
                    regret = base_obj - obj
                elif st == "infeasible":
                    regret = math.inf
                else:
                    regret = math.nan
                rows.append({**m, "flipped_objective": obj, "regret": regret, "status": st, "job": str(r.job)})
        table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank" and c != "regret_pct"])
        if len(table):
            denom = abs(base_obj) if base_obj else math.nan
            table["regret_pct"] = table["regret"] / denom * 100.0
            table = table.sort_values(["regret"], ascending=False, na_position="last", kind="stable")
            table.insert(0, "rank", range(1, len(table) + 1))
        complete = bool(len(table) == 0 or table["regret"].notna().all())
        if fixed_rows:
            fx = pd.DataFrame(fixed_rows)
            fx["rank"] = pd.NA
            table = pd.concat([table, fx], ignore_index=True) if len(table) else fx
        for c in COLUMNS:
            if c not in table.columns:
                table[c] = None
        table = table[list(COLUMNS)].reset_index(drop=True)
        table["rank"] = table["rank"].astype("Int64")
        exp = Explanation(instance=inst.name, scenario=scenario, base_status=base_status, base_objective=base_obj,
                          table=table, complete=complete, out=None if out is None else bdir)
        if out is not None:
            table.to_csv(bdir / "explain.csv", index=False)
            (bdir / "explain.md").write_text(exp.to_markdown(), encoding="utf-8")
        return exp
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _flip_job(jid: str, folder: Path, source: Any, scenario: str | None, sfile: Path | None,
              settings: Mapping[str, Any], body: dict[str, Any], label: str) -> JobDef:
    inline = dict(body)
    if scenario:
        inline["extends"] = scenario
    return JobDef(id=jid, instance=folder, instance_label=str(source), scenario=jid, scenario_inline=inline,
                  scenarios_file=sfile, settings=dict(settings), label=label)


def _safe(text: str) -> str:
    from .scenarios import safe_name

    return safe_name(text)


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in {"true", "1", "yes"}
    return bool(v)


def _message(folder: Path) -> str:
    try:
        return str(json.loads((folder / "summary.json").read_text()).get("message", ""))
    except (OSError, ValueError):
        return ""
