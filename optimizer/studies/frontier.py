"""Trade-off frontiers: the optimal NPV as one setting varies, with the points where the plan changes.

``frontier(path, "min_jobs_cut=0:30000:7")`` solves the instance at 7 evenly spaced
values of the setting, as one batch (:func:`optimizer.run_batch`: in parallel,
resumable), and returns one row per point: the value, the NPV, the plants closed,
whether the plan (closure schedule) differs from the previous feasible point, and
whether the point is *dominated*.

Settings that can vary:

``min_jobs_cut`` / ``min_jobs_cut[i]``
    the ``min`` of the (i-th) jobs rule (a rule is created when there is none);
``plants_kept.min|max`` / ``plants_kept[i].min|max``, ``capacity_kept...``
    one bound of the (i-th) rule (values of ``plants_kept`` are rounded to whole
    plants; a rule is created when there is none);
``tariff_scale``
    every ``tariffs`` rate (``ad_valorem`` and ``specific``) multiplied by the value
    (1 = the instance; in-quota rates of ``tariff_quotas`` are not scaled).

Dominated points. A rule is a requirement: a larger ``min`` (or jobs target) and a
smaller ``max`` are more demanding. A point is dominated when another feasible
point meets a more demanding value with an NPV at least as high (within the MIP
gap): the looser requirement buys nothing, e.g. every jobs target below what the
optimal plan cuts anyway but the largest. The non-dominated points are the
frontier (what each step of the requirement costs). ``tariff_scale`` is not a
requirement but a what-if on the world, so no point of it is dominated.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.instance import Instance
from .scenarios import BASE, safe_name

__all__ = ["COLUMNS", "Vary", "frontier", "parse_vary", "plot"]

COLUMNS = ("point", "setting", "value", "status", "npv", "gap", "plants_closed", "closed", "plan_changed",
           "dominated", "jobs_cut", "plants_kept", "why", "job")

_RULE = re.compile(r"^(plants_kept|capacity_kept|min_jobs_cut)(?:\[(\d+)\])?(?:\.(min|max))?$")


@dataclass(frozen=True)
class Vary:
    """What varies: ``kind`` (plants_kept, capacity_kept, min_jobs_cut, tariff_scale), rule index, bound side."""

    setting: str
    kind: str
    index: int | None
    side: str | None
    values: tuple[float, ...]

    @property
    def more_demanding(self) -> int:
        """+1 when a larger value is more demanding (min, jobs), -1 when smaller is (max), 0 (tariff_scale)."""
        if self.kind == "tariff_scale":
            return 0
        return 1 if self.side == "min" else -1


def parse_vary(text: str) -> Vary:
    """``SETTING=FROM:TO:STEPS`` -> :class:`Vary` (STEPS >= 2 evenly spaced values, FROM and TO included)."""
    if "=" not in text:
        raise ValueError(f"--vary '{text}': write SETTING=FROM:TO:STEPS, e.g. min_jobs_cut=0:30000:7")
    name, rng = (s.strip() for s in text.split("=", 1))
    parts = rng.split(":")
    if len(parts) != 3:
        raise ValueError(f"--vary '{text}': the range is FROM:TO:STEPS (three numbers separated by ':')")
    try:
        lo, hi, steps = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(f"--vary '{text}': FROM and TO must be numbers and STEPS a whole number") from None
    if steps < 2:
        raise ValueError(f"--vary '{text}': STEPS must be at least 2 (the number of points, ends included)")
    values = np.linspace(lo, hi, steps)
    if name == "tariff_scale":
        if lo < 0 or hi < 0:
            raise ValueError(f"--vary '{text}': a tariff scale is a factor >= 0")
        return Vary(name, "tariff_scale", None, None, tuple(float(v) for v in values))
    m = _RULE.match(name)
    if not m:
        raise ValueError(f"--vary '{name}': cannot vary this setting; use min_jobs_cut, plants_kept.max, "
                         "plants_kept[0].min, capacity_kept.max, ... or tariff_scale")
    kind, idx, side = m.group(1), m.group(2), m.group(3)
    if kind == "min_jobs_cut":
        if side == "max":
            raise ValueError("--vary min_jobs_cut.max: min_jobs_cut has no max")
        side = "min"
    elif side is None:
        raise ValueError(f"--vary '{name}': say which bound: {kind}.min or {kind}.max")
    if min(lo, hi) < 0:
        raise ValueError(f"--vary '{text}': {kind} values must be >= 0")
    if kind == "plants_kept":
        values = np.unique(np.round(values))
        if hi < lo:
            values = values[::-1]
    return Vary(name, kind, None if idx is None else int(idx), side, tuple(float(v) for v in values))


def _rule_list(inst: Instance, v: Vary, value: float) -> list[dict[str, Any]]:
    rules = [r.model_dump(exclude_none=True) for r in getattr(inst.settings, v.kind)]
    idx = v.index
    if idx is None:
        if len(rules) > 1:
            raise ValueError(f"--vary {v.setting}: the instance has {len(rules)} {v.kind} rules; name one, "
                             f"e.g. {v.kind}[0].{v.side}")
        idx = 0
    if idx == len(rules) and v.index in (None, 0):
        rules.append({})
    if idx >= len(rules):
        raise ValueError(f"--vary {v.setting}: the instance has {len(rules)} {v.kind} rule(s) "
                         f"(indices 0..{len(rules) - 1})")
    val: float | int = int(round(value)) if v.kind == "plants_kept" else float(value)
    rules[idx][v.side] = val  # type: ignore[index]
    return rules


def _point_body(inst: Instance, v: Vary, value: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(settings overrides, inline scenario changes or None) of one point."""
    if v.kind == "tariff_scale":
        tar = inst.tables.get("tariffs")
        cols = [c for c in ("ad_valorem", "specific") if tar is not None and c in tar.columns]
        if tar is None or tar.empty or not cols:
            raise ValueError("--vary tariff_scale: the instance has no tariffs to scale")
        return {}, {"changes": [{"table": "tariffs", "scale": {c: float(value) for c in cols}}]}
    return {v.kind: _rule_list(inst, v, value)}, None


def _closed_text(closures: dict[str, Any] | None, multi: bool) -> str | None:
    if closures is None:
        return None
    from .alternatives import closed_text

    return closed_text(closures, multi)


def frontier(
    source: str | Path,
    vary: str | Vary,
    *,
    scenario: str | None = None,
    scenarios_file: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    progress: bool = False,
    force: bool = False,
) -> pd.DataFrame:
    """Solve the instance at each value of ``vary`` (``SETTING=FROM:TO:STEPS``) and return the frontier table.

    Columns: ``point``, ``setting``, ``value``, ``status``, ``npv``, ``gap``,
    ``plants_closed``, ``closed`` (the plan: plants closed, with years for a multi-year
    plan), ``plan_changed`` (the plan differs from the previous feasible point's),
    ``dominated`` (see the module docstring), ``jobs_cut``, ``plants_kept``, ``why`` (an
    infeasible point: the rules that have to give, from its diagnosis), ``job``.
    The points run as one batch in ``out`` (kept, resumable; a temporary folder
    without ``out``), where ``frontier.csv``, ``frontier.png`` and ``frontier.html`` are
    also written.
    """
    from ..api import load
    from .batch import JobDef, run_batch

    v = parse_vary(vary) if isinstance(vary, str) else vary
    folder = Path(source)
    if folder.suffix in {".yaml", ".yml"}:
        folder = folder.parent
    folder = folder.resolve()
    inst = load(folder)
    sfile = Path(scenarios_file).resolve() if scenarios_file else None
    base_inst = inst
    if scenario and scenario != BASE:
        from .scenarios import apply_scenario, load_scenarios

        base_inst = apply_scenario(inst, scenario, load_scenarios(inst, sfile)).instance
    else:
        scenario = None
    solver: dict[str, Any] = {}
    if time_limit is not None:
        solver["time_limit_s"] = time_limit
    if mip_gap is not None:
        solver["mip_rel_gap"] = mip_gap
    jobs: list[JobDef] = []
    for i, value in enumerate(v.values):
        settings, inline = _point_body(base_inst, v, value)
        if solver:
            settings = {**settings, "solver": solver}
        jid = f"point-{i:02d}-{safe_name(v.setting)}-{value:g}"
        label = f"{v.setting}={value:g}"
        if inline is not None:
            if scenario:
                inline = {**inline, "extends": scenario}
            jobs.append(JobDef(id=jid, instance=folder, instance_label=str(source), scenario=jid, scenario_inline=inline,
                               scenarios_file=sfile, settings=settings, label=label))
        else:
            jobs.append(JobDef(id=jid, instance=folder, instance_label=str(source), scenario=scenario or BASE,
                               scenarios_file=sfile, settings=settings, label=label))
    tmp = None
    if out is None:
        tmp = tempfile.mkdtemp(prefix="optimizer-frontier-")
        bdir = Path(tmp)
    else:
        bdir = Path(out)
    try:
        idx = run_batch(jobs, bdir, workers=workers, scheduler=scheduler, force=force, progress=progress)
        multi = bool(base_inst.settings.periods is not None)
        rows = []
        by_id = {str(r.job): r for r in idx.itertuples()}
        for i, (job, value) in enumerate(zip(jobs, v.values)):
            r = by_id[job.id]
            st = str(r.status)
            ok = st in ("optimal", "feasible")
            closures, why = None, None
            summ = bdir / "jobs" / job.id / "summary.json"
            if summ.exists():
                with summ.open(encoding="utf-8") as fh:
                    js = json.load(fh)
                closures = (js.get("plan") or {}).get("closures") if ok else None
                if not ok:
                    why = "; ".join(str(d.get("message", "")) for d in js.get("diagnosis") or []) or js.get("message")
            rows.append({"point": i, "setting": v.setting, "value": float(value), "status": st,
                         "npv": float(r.objective) if ok else math.nan,
                         "gap": float(r.gap) if ok and not pd.isna(r.gap) else math.nan,
                         "plants_closed": int(r.plants_closed) if ok else pd.NA,
                         "closed": _closed_text(closures, multi) if ok else None,
                         "jobs_cut": float(r.jobs_cut) if ok else math.nan,
                         "plants_kept": int(r.plants_kept) if ok else pd.NA, "why": why, "job": job.id})
        table = pd.DataFrame(rows)
        table["plan_changed"] = _plan_changes(table)
        table["dominated"] = _dominated(table, v.more_demanding)
        table = table[list(COLUMNS)]
        table["plants_closed"] = table["plants_closed"].astype("Int64")
        table["plants_kept"] = table["plants_kept"].astype("Int64")
        if out is not None:
            table.to_csv(bdir / "frontier.csv", index=False)
            plot(table, bdir / "frontier.png", html=bdir / "frontier.html", title=f"{inst.name}: NPV against {v.setting}")
        return table
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _plan_changes(t: pd.DataFrame) -> list[bool]:
    out, prev = [], None
    for plan, st in zip(t["closed"], t["status"]):
        if st not in ("optimal", "feasible"):
            out.append(False)
            continue
        out.append(prev is not None and plan != prev)
        prev = plan
    return out


def _dominated(t: pd.DataFrame, direction: int) -> list[bool]:
    """Point i is dominated if a feasible j has a more demanding value and NPV_j >= NPV_i (within the gaps)."""
    if direction == 0:
        return [False] * len(t)
    d = (t["value"].to_numpy(float) * direction)
    npv = t["npv"].to_numpy(float)
    gap = np.nan_to_num(t["gap"].to_numpy(float), nan=0.0)
    tol = np.maximum(gap, 1e-9) * np.maximum(np.abs(npv), 1.0)
    ok = ~np.isnan(npv)
    res = []
    for i in range(len(t)):
        if not ok[i]:
            res.append(False)
            continue
        dom = False
        for j in range(len(t)):
            if j == i or not ok[j]:
                continue
            at_least = d[j] >= d[i] and npv[j] >= npv[i] - max(tol[i], tol[j])
            strictly = d[j] > d[i] or npv[j] > npv[i] + max(tol[i], tol[j])
            if at_least and strictly:
                dom = True
                break
        res.append(dom)
    return res


def plot(table: pd.DataFrame, png: str | Path, *, html: str | Path | None = None, title: str = "") -> Path:
    """NPV against the varied value: frontier points filled, dominated ones hollow, plan changes marked
    by dashed lines labelled with the new plan; infeasible values as red crosses on the axis.
    Writes ``png`` (and ``html``, the image embedded with the table)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table[table["status"].isin(["optimal", "feasible"])]
    bad = table[~table["status"].isin(["optimal", "feasible"])]
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    ax.plot(ok["value"], ok["npv"], ":", color="#1f77b4", lw=1.0, zorder=1)  # points only are solved values
    front = ok[~ok["dominated"].astype(bool)]
    dom = ok[ok["dominated"].astype(bool)]
    ax.scatter(front["value"], front["npv"], color="#1f77b4", zorder=3, label="frontier")
    if len(dom):
        ax.scatter(dom["value"], dom["npv"], facecolors="white", edgecolors="#1f77b4", zorder=3, label="dominated")
    for k, r in enumerate(ok[ok["plan_changed"].astype(bool)].itertuples()):
        ax.axvline(r.value, color="#d62728", ls="--", lw=0.8, zorder=0, label="plan changes" if k == 0 else None)
        ax.annotate(f"closed: {r.closed or 'none'}", (r.value, r.npv), textcoords="offset points", xytext=(4, 6),
                    fontsize=7, color="#d62728", rotation=20)
    if len(bad):
        y0 = float(ok["npv"].min()) if len(ok) else 0.0
        ax.scatter(bad["value"], [y0] * len(bad), marker="x", color="#d62728", zorder=3, label="infeasible")
    setting = str(table["setting"].iloc[0]) if len(table) else ""
    ax.set_xlabel(setting)
    ax.set_ylabel("NPV")
    ax.set_title(title or f"NPV against {setting}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    if html is not None:
        img = base64.b64encode(buf.getvalue()).decode("ascii")
        body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                f"<h1>{title}</h1><img alt='frontier' src='data:image/png;base64,{img}'/>"
                f"{table.drop(columns=['job']).to_html(index=False, na_rep='-')}</body></html>\n")
        Path(html).write_text(body, encoding="utf-8")
    return png
