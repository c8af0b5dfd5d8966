"""Compare the jobs of a batch folder with a baseline.

For each job (scenario) against its baseline: the NPV change, the plants whose
keep/close decision changed, the largest flow shifts by (market, model) and the
software variants added or dropped. Written as CSV tables, a Markdown and an HTML
report (one self-contained file: inline SVG charts, data embedded) and, for the
Markdown report, PNG plots (matplotlib, Agg backend).

Baseline: ``baseline`` names a job id (every job is compared with that job) or a
scenario name (default ``base``): each job is then compared with the job of that
scenario on the same instance with the same sweep parameters (else the one without
parameters, else the only one).

Flow shift of (market, model): ``moved`` = sum over (plant, software stack) of
|units - baseline units| (captures re-sourcing and stack switches even when the
market's total is unchanged) and
``net_change`` = change of units sold; the largest ``moved`` come first.
``changed_plant`` = units that moved from one plant to another (with d_p the change
at plant p over all stacks: min(sum of the increases, sum of the decreases));
``stack_switch`` = units that stayed at their plant but changed software stack
(the same rule within each plant); ``moved`` minus twice these two is the change of
units sold, counted at the plants that gained or lost it.

NPV change by cost component: each job's ``breakdown.csv`` (NPV of revenue and
each cost) minus its baseline's; the components add up to the NPV change.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results import format as fmt
from ..results import svg
from ..errors import InvalidOptionError
from .batch import read_index

__all__ = ["Comparison", "compare"]

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """The comparison tables and where the report was written."""

    summary: pd.DataFrame
    shifts: pd.DataFrame
    plants: pd.DataFrame
    out: Path
    markdown: Path
    html: Path
    plots: list[Path]
    broken: dict[str, str] = field(default_factory=dict)
    """Job folders that could not be used (job -> why); their rows have status ``broken``."""
    components: pd.DataFrame | None = None
    """NPV change by cost component: one row per compared job, one column per component, plus ``npv``."""
    currency: str = ""
    xlsx: Path | None = None


_num = fmt.number
_signed = fmt.signed


_NEEDED = {
    "plants.csv": {"plant": "str", "kept": "bool"},
    "software.csv": {"model": "str", "stack": "str", "developed": "bool", "default": "bool"},
    "flows.csv": {"plant": "str", "model": "str", "stack": "str", "market": "str", "units": "num"},
}
_SOLVED = ("optimal", "feasible")


class _Broken(Exception):
    """A job folder that cannot be used (the text says which file and why)."""


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    """Read a result CSV and check the columns compare uses (raises :class:`_Broken`)."""
    p = folder / name
    if not p.is_file():
        return None
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _Broken(f"{name} cannot be read as CSV ({type(exc).__name__})") from None
    need = _NEEDED.get(name, {})
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise _Broken(f"{name} lacks column(s) {', '.join(missing)}")
    for col, kind in need.items():
        v = df[col].str.strip()
        if kind == "bool" and not v.str.lower().isin(["true", "false", "1", "0"]).all():
            raise _Broken(f"{name} column '{col}' holds values that are not true/false")
        if kind == "num":
            num = pd.to_numeric(v, errors="coerce")
            if num.isna().any() or not np.isfinite(num.to_numpy(dtype=float)).all():
                raise _Broken(f"{name} column '{col}' holds values that are not finite numbers")
            df[col] = num.astype(float)
    return df


def _read_job(folder: Path, status: str) -> dict[str, Any]:
    """The parts of a job folder compare uses, checked; raises :class:`_Broken` naming the bad file."""
    try:
        summ = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        summ = None
    except (OSError, ValueError, UnicodeDecodeError):
        raise _Broken("summary.json is not valid JSON (truncated or edited?)") from None
    if summ is not None and not isinstance(summ, dict):
        raise _Broken("summary.json does not hold a mapping")
    solved = status in _SOLVED
    if solved and summ is None:
        raise _Broken("summary.json is missing")
    if summ is not None:
        if "status" in summ and str(summ.get("status")) != status:
            raise _Broken(f"summary.json says status '{summ.get('status')}' but the index says '{status}'")
        obj = summ.get("objective")
        if solved and not (isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj)):
            raise _Broken("summary.json has no finite objective for a solved job")
    d = {"summary": summ or {}, "plants": _read(folder, "plants.csv"), "software": _read(folder, "software.csv"),
         "flows": _flows(_read(folder, "flows.csv")), "breakdown": _breakdown(_read(folder, "breakdown.csv"))}
    if solved and (d["plants"] is None or (folder / "flows.csv").is_file() is False):
        raise _Broken("plants.csv or flows.csv is missing for a solved job")
    return d


def _param_cols(idx: pd.DataFrame) -> list[str]:
    return [c for c in idx.columns if str(c).startswith("param.")]


def _same_params(a: pd.Series, b: pd.Series, cols: list[str]) -> bool:
    for c in cols:
        x, y = a.get(c), b.get(c)
        if pd.isna(x) and pd.isna(y):
            continue
        if pd.isna(x) or pd.isna(y) or str(x) != str(y):
            return False
    return True


def _baselines(idx: pd.DataFrame, baseline: str) -> dict[str, str | None]:
    jobs = idx["job"].astype(str).tolist()
    if baseline in jobs:
        return {j: (None if j == baseline else baseline) for j in jobs}
    scen = idx["scenario"].astype(str)
    if not (scen == baseline).any():
        raise InvalidOptionError(f"no job or scenario named '{baseline}' in the batch; jobs: {', '.join(jobs[:10])}"
                         f"{' ...' if len(jobs) > 10 else ''}; scenarios: {', '.join(sorted(set(scen)))}. "
                         "Use --baseline NAME.")
    pcols = _param_cols(idx)
    cands = idx[scen == baseline]
    out: dict[str, str | None] = {}
    for _, r in idx.iterrows():
        j = str(r["job"])
        same_inst = cands[cands["instance"] == r["instance"]]
        plain = [str(c["job"]) for _, c in same_inst.iterrows() if all(pd.isna(c[p]) for p in pcols)]
        if str(r["scenario"]) == baseline:
            # a baseline job with sweep parameters is compared with the baseline job without any
            has_params = any(not pd.isna(r[p]) for p in pcols)
            others = [x for x in plain if x != j]
            out[j] = others[0] if has_params and others else None
            continue
        exact = [str(c["job"]) for _, c in same_inst.iterrows() if _same_params(c, r, pcols)]
        if exact:
            out[j] = exact[0]
        elif plain:
            out[j] = plain[0]
        elif len(same_inst) == 1:
            out[j] = str(same_inst.iloc[0]["job"])
        else:
            out[j] = None
    return out


def _kept(df: pd.DataFrame | None) -> dict[str, bool]:
    if df is None:
        return {}
    return {str(p): str(k).lower() in {"true", "1"} for p, k in zip(df["plant"], df["kept"])}


def _developed(df: pd.DataFrame | None) -> set[str]:
    if df is None:
        return set()
    d = df[df["developed"].astype(str).str.lower().isin(["true", "1"])
           & ~df["default"].astype(str).str.lower().isin(["true", "1"])]
    return {f"{m}/{s}" for m, s in zip(d["model"], d["stack"])}


def _flows(df: pd.DataFrame | None) -> pd.Series:
    """Units per (market, model, plant, stack)."""
    if df is None or df.empty:
        return pd.Series(dtype=float)
    return df.groupby(["market", "model", "plant", "stack"])["units"].sum()


SHIFT_COLUMNS = ["market", "model", "baseline_units", "units", "net_change", "moved", "changed_plant", "stack_switch",
                 "by_plant"]


def _breakdown(df: pd.DataFrame | None) -> pd.Series:
    if df is None or df.empty:
        return pd.Series(dtype=float)
    return df.set_index("component")["npv"].astype(float)


def _shifts(base: pd.Series, new: pd.Series) -> pd.DataFrame:
    both = pd.concat([base.rename("baseline"), new.rename("units")], axis=1).fillna(0.0)
    if both.empty:
        return pd.DataFrame(columns=SHIFT_COLUMNS)
    both["delta"] = both["units"] - both["baseline"]
    rows = []
    for (mk, mo), g in both.groupby(level=[0, 1]):
        moved = float(g["delta"].abs().sum())
        if moved <= 1e-6:
            continue
        stacks = {st for (_, _, _, st) in g.index}
        per_plant = g["delta"].groupby(level=2).sum()
        changed_plant = min(float(per_plant[per_plant > 0].sum()), float(-per_plant[per_plant < 0].sum()))
        switch = 0.0
        for _, gp in g["delta"].groupby(level=2):
            switch += min(float(gp[gp > 0].sum()), float(-gp[gp < 0].sum()))
        parts = [f"{p}{'/' + st if len(stacks) > 1 else ''} {fmt.signed(d)}" for (_, _, p, st), d in g["delta"].items()
                 if abs(d) > 1e-6]
        rows.append({"market": mk, "model": mo, "baseline_units": float(g["baseline"].sum()),
                     "units": float(g["units"].sum()), "net_change": float(g["delta"].sum()), "moved": moved,
                     "changed_plant": changed_plant, "stack_switch": switch, "by_plant": "; ".join(parts)})
    df = pd.DataFrame(rows, columns=SHIFT_COLUMNS)
    return df.sort_values("moved", ascending=False, kind="stable").reset_index(drop=True)


def compare(batch_dir: str | Path, baseline: str = "base", out: str | Path | None = None, top: int = 10,
            xlsx: bool = False) -> Comparison:
    """Compare every job of ``batch_dir`` with its baseline; write the report into ``out``.

    With ``xlsx``, also ``comparison.xlsx`` (summary first, then the NPV change by
    component, the flow shifts and the plant decisions).

    Returns the tables (``summary``: one row per compared job; ``shifts``: the ``top``
    flow shifts per job; ``plants``: keep/close of every plant in every job).
    """
    batch_dir = Path(batch_dir)
    idx = read_index(batch_dir)
    out = Path(out) if out is not None else batch_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    base_of = _baselines(idx, baseline)
    cache: dict[str, dict[str, Any]] = {}

    broken: dict[str, str] = {}
    status_of = {str(r["job"]): str(r["status"]) for _, r in idx.iterrows()}

    def job_data(j: str) -> dict[str, Any]:
        if j not in cache:
            folder = batch_dir / "jobs" / j
            try:
                cache[j] = _read_job(folder, status_of.get(j, ""))
            except _Broken as exc:
                broken[j] = f"{folder}: {exc}"
                log.warning("job folder %s cannot be used: %s", folder, exc)
                cache[j] = {"summary": {}, "plants": None, "software": None, "flows": _flows(None), "breakdown": None}
        return cache[j]

    rows, shift_rows, comp_rows = [], [], []
    all_plants: dict[str, dict[str, bool]] = {}
    for _, r in idx.iterrows():
        j = str(r["job"])
        d = job_data(j)
        all_plants[j] = _kept(d["plants"])
        b = base_of.get(j)
        if b is None:
            continue
        bd = job_data(b)
        brow = idx[idx["job"].astype(str) == b].iloc[0]
        obj, bobj = r["objective"], brow["objective"]
        solved = (str(r["status"]) in _SOLVED and str(brow["status"]) in _SOLVED and j not in broken
                  and b not in broken)
        change = float(obj - bobj) if solved else math.nan
        pct = change / abs(bobj) * 100.0 if solved and bobj else math.nan
        kb, kn = _kept(bd["plants"]), _kept(d["plants"])
        closed = sorted(p for p in kn if kb.get(p) and not kn[p]) if solved else []
        opened = sorted(p for p in kn if kb.get(p) is False and kn[p]) if solved else []
        sb, sn = _developed(bd["software"]), _developed(d["software"])
        added, dropped = (sorted(sn - sb), sorted(sb - sn)) if solved else ([], [])
        sh = _shifts(bd["flows"], d["flows"]) if solved else _shifts(pd.Series(dtype=float), pd.Series(dtype=float))
        if solved and len(d["breakdown"]) and len(bd["breakdown"]):
            delta = d["breakdown"].sub(bd["breakdown"], fill_value=0.0)
            comp_rows.append({"job": j, "baseline": b, **{str(k): float(v) for k, v in delta.items()}})
        for _, s in sh.head(top).iterrows():
            shift_rows.append({"job": j, "baseline": b, **s.to_dict()})
        top_shift = ""
        if len(sh):
            s0 = sh.iloc[0]
            top_shift = (f"{s0['model']}->{s0['market']}: {_num(s0['changed_plant'])} changed plant"
                         + (f", {_num(s0['stack_switch'])} switched stack" if s0["stack_switch"] > 0.5 else "")
                         + f", net {_signed(s0['net_change'])}")
        plants_changed = "; ".join(x for x in (("closed " + ", ".join(closed)) if closed else "",
                                               ("kept " + ", ".join(opened)) if opened else "") if x)
        sw_changed = "; ".join(x for x in (("added " + ", ".join(added)) if added else "",
                                           ("dropped " + ", ".join(dropped)) if dropped else "") if x)
        status = "broken" if j in broken or b in broken else r["status"]
        message = r.get("message", "")
        if status == "broken":
            message = "; ".join(broken[x] for x in (j, b) if x in broken)
        if not solved:
            plants_changed = sw_changed = f"n/a ({status})"
        rows.append({
            "job": j, "scenario": r["scenario"], "baseline": b, "status": status, "objective": obj,
            "baseline_objective": bobj, "npv_change": change, "npv_change_pct": pct,
            "plants_kept": r["plants_kept"], "jobs_cut": r["jobs_cut"],
            "jobs_cut_change": (r["jobs_cut"] - brow["jobs_cut"]) if solved else math.nan,
            "plants_closed": ", ".join(closed), "plants_opened": ", ".join(opened), "plants_changed": plants_changed,
            "software_added": ", ".join(added), "software_dropped": ", ".join(dropped), "software_changed": sw_changed,
            "flows_moved": float(sh["moved"].sum()) if len(sh) else 0.0,
            "units_changed_plant": float(sh["changed_plant"].sum()) if len(sh) else 0.0,
            "units_stack_switch": float(sh["stack_switch"].sum()) if len(sh) else 0.0, "top_shift": top_shift,
            "changes": d["summary"].get("scenario_changes") or [], "message": message,
        })
    summary = pd.DataFrame(rows, columns=["job", "scenario", "baseline", "status", "objective", "baseline_objective",
                                          "npv_change", "npv_change_pct", "plants_kept", "jobs_cut", "jobs_cut_change",
                                          "plants_closed", "plants_opened", "plants_changed", "software_added",
                                          "software_dropped", "software_changed", "flows_moved", "units_changed_plant",
                                          "units_stack_switch", "top_shift", "changes", "message"])
    shifts = pd.DataFrame(shift_rows, columns=["job", "baseline", *SHIFT_COLUMNS])
    comp = pd.DataFrame(comp_rows)
    if len(comp):
        cols = [c for c in comp.columns if c not in ("job", "baseline", "npv")]
        comp = comp[["job", "baseline", *cols, *(["npv"] if "npv" in comp else [])]]
    currency = ""
    for j in idx["job"].astype(str):
        currency = str((job_data(j)["summary"].get("context") or {}).get("currency") or "")
        if currency:
            break
    plants = pd.DataFrame(all_plants).sort_index()
    plants.index.name = "plant"

    summary.drop(columns=["changes"]).to_csv(out / "comparison.csv", index=False)
    shifts.to_csv(out / "flow_shifts.csv", index=False)
    plants.to_csv(out / "plant_decisions.csv")
    comp.to_csv(out / "npv_by_component.csv", index=False)
    plots = _plots(summary, shifts, plants, base_of, out, currency)
    md = out / "report.md"
    md.write_text(_markdown(batch_dir, baseline, summary, shifts, plots), encoding="utf-8")
    ht = out / "report.html"
    ht.write_text(_html(batch_dir, baseline, summary, shifts, plants, base_of, comp, currency), encoding="utf-8")
    book = None
    if xlsx:
        from ..results.excel import write_workbook

        book = write_workbook(out / "comparison.xlsx", None, {
            "comparison": summary.assign(changes=summary["changes"].map(lambda c: "; ".join(c))),
            "npv_by_component": comp, "flow_shifts": shifts, "plant_decisions": plants.reset_index()})
    return Comparison(summary=summary, shifts=shifts, plants=plants, out=out, markdown=md, html=ht, plots=plots,
                      components=comp, currency=currency, xlsx=book, broken=dict(broken))


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------


def _plots(summary: pd.DataFrame, shifts: pd.DataFrame, plants: pd.DataFrame, base_of: dict[str, str | None],
           out: Path, currency: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    paths: list[Path] = []
    from matplotlib.ticker import FuncFormatter

    ok = summary[summary["npv_change"].notna()].sort_values("npv_change", ascending=False, kind="stable")
    if len(ok):
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(ok) + 1.5))
        vals = ok["npv_change"].to_numpy(float)
        colours = [svg.POS if v >= 0 else svg.NEG for v in vals]
        bars = ax.barh(ok["job"].astype(str), vals, color=colours)
        ax.bar_label(bars, labels=[fmt.signed_compact(v) for v in vals], padding=3, fontsize=8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.invert_yaxis()
        ax.set_xlabel(f"NPV change vs baseline{' (' + currency + ')' if currency else ''}")
        ax.set_title("NPV change by scenario")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.signed_compact(v)))
        ax.margins(x=0.18)
        fig.tight_layout()
        p = out / "npv_change.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    if not plants.empty:
        import numpy as np

        mat = plants.astype(float).to_numpy()
        fig, ax = plt.subplots(figsize=(0.55 * plants.shape[1] + 3, 0.3 * plants.shape[0] + 2))
        from matplotlib.colors import ListedColormap

        ax.imshow(np.nan_to_num(mat, nan=0.5), cmap=ListedColormap([svg.VERMILLION, "#dddddd", svg.BLUE]), vmin=0,
                  vmax=1, aspect="auto")
        ax.set_xticks(range(plants.shape[1]), [str(c) for c in plants.columns], rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(plants.shape[0]), [str(i) for i in plants.index], fontsize=7)
        for jx, job in enumerate(plants.columns):
            b = base_of.get(str(job))
            if b is None or b not in plants.columns:
                continue
            for ix in range(plants.shape[0]):
                x, y = plants.iloc[ix][job], plants.iloc[ix][b]
                if not pd.isna(x) and not pd.isna(y) and bool(x) != bool(y):
                    ax.text(jx, ix, "x", ha="center", va="center", fontsize=8, fontweight="bold")
        ax.set_title("Plants kept (blue) / closed (vermillion); x = changed vs baseline")
        fig.tight_layout()
        p = out / "plant_decisions.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    if len(shifts):
        jobs = list(dict.fromkeys(shifts["job"]))[:9]
        n = len(jobs)
        cols = min(3, n)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3 * rows), squeeze=False)
        for ax in axes.flat[n:]:
            ax.axis("off")
        for ax, job in zip(axes.flat, jobs):
            s = shifts[shifts["job"] == job].head(8)
            labels = [f"{m} / {mk}" for m, mk in zip(s["model"], s["market"])]
            ax.barh(labels, s["moved"], color=svg.SKY, label="moved")
            ax.barh(labels, s["net_change"], color=svg.NAVY, height=0.4, label="net change")
            ax.invert_yaxis()
            ax.axvline(0, color="black", linewidth=0.6)
            ax.set_title(str(job), fontsize=9)
            ax.tick_params(labelsize=7)
        axes.flat[0].legend(fontsize=7)
        fig.suptitle("Largest flow shifts (units/yr) by model / market")
        fig.tight_layout()
        p = out / "flow_shifts.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


# ---------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    def esc(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    al = align or "l" * len(header)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in al) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return out


def _summary_rows(summary: pd.DataFrame) -> list[list[str]]:
    rows = []
    for r in summary.itertuples():
        pct = "-" if pd.isna(r.npv_change_pct) else f"{r.npv_change_pct:+.2f}%"
        rows.append([str(r.job), str(r.baseline), str(r.status), _num(r.objective), _signed(r.npv_change), pct,
                     _signed(r.jobs_cut_change), r.plants_changed or "-", r.software_changed or "-", r.top_shift or "-"])
    return rows


HEAD = ["job", "baseline", "status", "NPV", "ΔNPV", "Δ%", "Δ jobs cut", "plants changed", "software changed",
        "largest flow shift"]


def _markdown(batch_dir: Path, baseline: str, summary: pd.DataFrame, shifts: pd.DataFrame, plots: list[Path]) -> str:
    lines = [f"# Scenario comparison: {batch_dir}", "", f"Baseline: `{baseline}`. {len(summary)} job(s) compared.", ""]
    lines += _md_table(HEAD, _summary_rows(summary), "lllrrrrlll")
    lines.append("")
    for p in plots:
        lines += [f"![{p.stem}]({p.name})", ""]
    for r in summary.itertuples():
        lines += [f"## {r.job} (vs {r.baseline})", ""]
        lines.append(f"- status: {r.status}; NPV {_num(r.objective)} vs {_num(r.baseline_objective)}: "
                     f"{_signed(r.npv_change)}" + ("" if pd.isna(r.npv_change_pct) else f" ({r.npv_change_pct:+.2f}%)"))
        lines.append(f"- plants: {r.plants_changed or 'no change'}")
        lines.append(f"- software variants: {r.software_changed or 'no change'}")
        if r.message:
            lines.append(f"- message: {r.message}")
        if r.changes:
            lines += ["- scenario changes applied:"] + [f"  - `{c}`" for c in r.changes]
        s = shifts[shifts["job"] == r.job]
        if len(s):
            lines += ["", "Largest flow shifts (units/yr):", ""]
            lines += _md_table(["model", "market", "baseline", "scenario", "net change", "changed plant",
                                "switched stack", "by plant"],
                               [[str(x.model), str(x.market), _num(x.baseline_units), _num(x.units),
                                 _signed(x.net_change), _num(x.changed_plant), _num(x.stack_switch), str(x.by_plant)]
                                for x in s.itertuples()], "llrrrrrl")
        lines.append("")
    return "\n".join(lines) + "\n"


def _html(batch_dir: Path, baseline: str, summary: pd.DataFrame, shifts: pd.DataFrame, plants: pd.DataFrame,
          base_of: dict[str, str | None], comp: pd.DataFrame, cur: str) -> str:
    """One self-contained page: inline SVG charts, CSS, the tables, and the data as JSON."""
    from ..results.report import _records, html_table, page

    e = svg.esc
    money = fmt.money_compact
    parts = [f"<h1>Scenario comparison: {e(batch_dir.name or batch_dir)}</h1>",
             f"<p class='sub'>Baseline <code>{e(baseline)}</code>; {len(summary)} job(s) compared"
             + (f"; money in {e(cur)}" if cur else "") + f". Batch folder: <code>{e(batch_dir)}</code>.</p>"]
    ok = summary[summary["npv_change"].notna()].sort_values("npv_change", ascending=False, kind="stable")
    bars = [svg.Bar(str(r.job), float(r.npv_change), f"{money(r.npv_change, cur, sign=True)} "
                    f"({fmt.signed_pct(r.npv_change_pct)})", attrs={"job": r.job}) for r in ok.itertuples()]
    parts.append("<section id='npv-change'><h2>NPV change vs baseline</h2>"
                 + svg.hbar(bars, chart_id="npv-change-chart", title=f"NPV change by scenario ({cur}), largest first",
                            value_fmt=fmt.signed_compact) + "</section>")
    rows, vals = [], []
    for r in summary.itertuples():
        rows.append([str(r.job), str(r.baseline), str(r.status), fmt.money(r.objective), fmt.signed(r.npv_change),
                     fmt.signed_pct(r.npv_change_pct), fmt.signed(r.jobs_cut_change), r.plants_changed or "-",
                     r.software_changed or "-", fmt.number(r.units_changed_plant), fmt.number(r.units_stack_switch)])
        vals.append([None, None, None, _v(r.objective), _v(r.npv_change), _v(r.npv_change_pct), _v(r.jobs_cut_change),
                     None, None, _v(r.units_changed_plant), _v(r.units_stack_switch)])
    parts.append("<section id='summary'><h2>Summary</h2>" + html_table(
        ["job", "baseline", "status", f"NPV ({cur})", f"ΔNPV ({cur})", "Δ%", "Δ jobs cut", "plants changed",
         "software changed", "units that changed plant", "units that switched stack"], rows, {3, 4, 5, 6, 9, 10},
        "summary-table", vals) + "</section>")

    if len(comp):
        cols = [c for c in comp.columns if c not in ("job", "baseline", "npv")]
        order = comp.set_index("job").reindex([str(j) for j in ok["job"]]).dropna(how="all").reset_index()
        charts = []
        for r in order.itertuples(index=False):
            rr = r._asdict()
            steps = [(c, float(rr[c])) for c in cols if abs(float(rr[c])) >= 0.5]
            charts.append(f"<div class='wf' data-job='{e(rr['job'])}'>" + svg.waterfall(
                steps, chart_id=f"waterfall-{rr['job']}", title=f"{rr['job']} vs {rr['baseline']}: ΔNPV by component "
                f"({cur})", total_label="ΔNPV", width=520) + "</div>")
        crow = [[str(r["job"]), *[fmt.signed(r[c]) for c in cols], fmt.signed(r.get("npv"))] for _, r in comp.iterrows()]
        cval = [[None, *[_v(r[c]) for c in cols], _v(r.get("npv"))] for _, r in comp.iterrows()]
        parts.append("<section id='npv-components'><h2>Why: NPV change by cost component</h2>"
                     "<p class='note'>Each job's NPV by component (breakdown.csv) minus its baseline's; blue raises "
                     "the NPV, vermillion lowers it; the components add up to the NPV change. Costs are negative "
                     "components, so a cost that falls shows in blue.</p>"
                     "<div class='two'>" + "".join(charts) + "</div>"
                     + html_table(["job", *cols, "ΔNPV"], crow, set(range(1, len(cols) + 2)), "components-table", cval)
                     + "</section>")

    if not plants.empty:
        jobs = [str(c) for c in plants.columns]
        kept = {(str(p), str(j)): (None if pd.isna(v) else bool(v)) for p, row in plants.iterrows()
                for j, v in row.items()}
        changed = set()
        for j in jobs:
            b = base_of.get(j)
            if b is None or b not in plants.columns:
                continue
            for p in plants.index:
                x, y = plants.loc[p, j], plants.loc[p, b]
                if not pd.isna(x) and not pd.isna(y) and bool(x) != bool(y):
                    changed.add((str(p), j))
        parts.append("<section id='plants'><h2>Plant decisions</h2>" + svg.decision_grid(
            [str(p) for p in plants.index], jobs, kept, changed, chart_id="plant-grid",
            title="Plant kept or closed in each job") + "</section>")

    moved = summary[summary["npv_change"].notna()].sort_values("units_changed_plant", ascending=False, kind="stable")
    shift_bars = [svg.Bar(str(r.job), float(r.units_changed_plant),
                          f"{fmt.number(r.units_changed_plant)} units"
                          + (f" (+{fmt.number(r.units_stack_switch)} switched stack)" if r.units_stack_switch >= 0.5
                             else ""), attrs={"job": r.job}) for r in moved.itertuples()]
    parts.append("<section id='shifts'><h2>Flow shifts</h2>"
                 + svg.hbar(shift_bars, chart_id="changed-plant-chart", title="Units per year that changed plant, by "
                            "scenario (stack switches at the same plant in brackets)", value_fmt=fmt.number)
                 + "<p class='note'>Per job, the (model, market) pairs whose "
                 "supply changed most. <b>Changed plant</b>: units now made at another plant; <b>switched stack</b>: "
                 "units made at the same plant with another software stack (counted apart); <b>net</b>: change of "
                 "units sold.</p>")
    for r in summary.itertuples():
        sh = shifts[shifts["job"] == r.job]
        parts.append(f"<h3>{e(r.job)} <small>vs {e(r.baseline)}: {e(r.status)}"
                     + (f", ΔNPV {e(money(r.npv_change, cur, sign=True))}" if not pd.isna(r.npv_change) else "")
                     + "</small></h3>")
        items = [f"plants: {e(r.plants_changed or 'no change')}", f"software: {e(r.software_changed or 'no change')}"]
        if r.message:
            items.append(f"message: {e(r.message)}")
        if r.changes:
            items.append("scenario changes: " + "; ".join(f"<code>{e(c)}</code>" for c in r.changes))
        parts.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
        if len(sh):
            parts.append(html_table(
                ["model", "market", "baseline units", "units", "net", "changed plant", "switched stack", "by plant"],
                [[str(x.model), str(x.market), fmt.number(x.baseline_units), fmt.number(x.units),
                  fmt.signed(x.net_change), fmt.number(x.changed_plant), fmt.number(x.stack_switch), str(x.by_plant)]
                 for x in sh.itertuples()], {2, 3, 4, 5, 6}))
    parts.append("</section>")
    data = {"baseline": baseline, "currency": cur, "summary": _records(summary.drop(columns=["changes"])),
            "npv_by_component": _records(comp) if len(comp) else [], "flow_shifts": _records(shifts),
            "plant_decisions": _records(plants.reset_index())}
    return page(f"Scenario comparison: {batch_dir.name or batch_dir}", "\n".join(parts), data)


def _v(x: Any) -> float | None:
    return None if fmt.is_missing(x) else float(x)
