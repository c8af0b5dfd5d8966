"""Compare the jobs of a batch folder with a baseline.

For each job (scenario) against its baseline: the NPV change, the plants whose
keep/close decision changed, the largest flow shifts by (market, model) and the
software variants added or dropped. Written as CSV tables, a Markdown and an HTML
report, and PNG plots (matplotlib, Agg backend).

Baseline: ``baseline`` names a job id (every job is compared with that job) or a
scenario name (default ``base``): each job is then compared with the job of that
scenario on the same instance with the same sweep parameters (else the one without
parameters, else the only one).

Flow shift of (market, model): ``moved`` = sum over (plant, software stack) of
|units - baseline units| (captures re-sourcing and stack switches even when the
market's total is unchanged) and
``net_change`` = change of units sold; the largest ``moved`` come first.
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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


def _num(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{float(x):,.{digits}f}"


def _signed(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(float(x)) < 0.5:
        return "0"
    return f"{float(x):+,.0f}"


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
         "flows": _flows(_read(folder, "flows.csv"))}
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


def _shifts(base: pd.Series, new: pd.Series) -> pd.DataFrame:
    both = pd.concat([base.rename("baseline"), new.rename("units")], axis=1).fillna(0.0)
    if both.empty:
        return pd.DataFrame(columns=["market", "model", "baseline_units", "units", "net_change", "moved", "by_plant"])
    both["delta"] = both["units"] - both["baseline"]
    rows = []
    for (mk, mo), g in both.groupby(level=[0, 1]):
        moved = float(g["delta"].abs().sum())
        if moved <= 1e-6:
            continue
        stacks = {st for (_, _, _, st) in g.index}
        parts = [f"{p}{'/' + st if len(stacks) > 1 else ''} {d:+,.0f}" for (_, _, p, st), d in g["delta"].items()
                 if abs(d) > 1e-6]
        rows.append({"market": mk, "model": mo, "baseline_units": float(g["baseline"].sum()),
                     "units": float(g["units"].sum()), "net_change": float(g["delta"].sum()), "moved": moved,
                     "by_plant": "; ".join(parts)})
    df = pd.DataFrame(rows, columns=["market", "model", "baseline_units", "units", "net_change", "moved", "by_plant"])
    return df.sort_values("moved", ascending=False, kind="stable").reset_index(drop=True)


def compare(batch_dir: str | Path, baseline: str = "base", out: str | Path | None = None, top: int = 10) -> Comparison:
    """Compare every job of ``batch_dir`` with its baseline; write the report into ``out``.

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
                cache[j] = {"summary": {}, "plants": None, "software": None, "flows": _flows(None)}
        return cache[j]

    rows, shift_rows = [], []
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
        for _, s in sh.head(top).iterrows():
            shift_rows.append({"job": j, "baseline": b, **s.to_dict()})
        top_shift = ""
        if len(sh):
            s0 = sh.iloc[0]
            top_shift = f"{s0['model']}->{s0['market']} moved {s0['moved']:,.0f} (net {_signed(s0['net_change'])})"
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
            "flows_moved": float(sh["moved"].sum()) if len(sh) else 0.0, "top_shift": top_shift,
            "changes": d["summary"].get("scenario_changes") or [], "message": message,
        })
    summary = pd.DataFrame(rows, columns=["job", "scenario", "baseline", "status", "objective", "baseline_objective",
                                          "npv_change", "npv_change_pct", "plants_kept", "jobs_cut", "jobs_cut_change",
                                          "plants_closed", "plants_opened", "plants_changed", "software_added",
                                          "software_dropped", "software_changed", "flows_moved", "top_shift", "changes",
                                          "message"])
    shifts = pd.DataFrame(shift_rows, columns=["job", "baseline", "market", "model", "baseline_units", "units",
                                               "net_change", "moved", "by_plant"])
    plants = pd.DataFrame(all_plants).sort_index()
    plants.index.name = "plant"

    summary.drop(columns=["changes"]).to_csv(out / "comparison.csv", index=False)
    shifts.to_csv(out / "flow_shifts.csv", index=False)
    plants.to_csv(out / "plant_decisions.csv")
    plots = _plots(summary, shifts, plants, base_of, out)
    md = out / "report.md"
    md.write_text(_markdown(batch_dir, baseline, summary, shifts, plots), encoding="utf-8")
    ht = out / "report.html"
    ht.write_text(_html(batch_dir, baseline, summary, shifts, plots), encoding="utf-8")
    return Comparison(summary=summary, shifts=shifts, plants=plants, out=out, markdown=md, html=ht, plots=plots,
                      broken=dict(broken))


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------


def _plots(summary: pd.DataFrame, shifts: pd.DataFrame, plants: pd.DataFrame, base_of: dict[str, str | None],
           out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    paths: list[Path] = []
    ok = summary[summary["npv_change"].notna()]
    if len(ok):
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(ok) + 1.5))
        vals = ok["npv_change"].to_numpy(float)
        colours = ["#2a9d8f" if v >= 0 else "#e76f51" for v in vals]
        ax.barh(ok["job"].astype(str), vals, color=colours)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.invert_yaxis()
        ax.set_xlabel("NPV change vs baseline")
        ax.set_title("NPV change by scenario")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
        fig.tight_layout()
        p = out / "npv_change.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    if not plants.empty:
        import numpy as np

        mat = plants.astype(float).to_numpy()
        fig, ax = plt.subplots(figsize=(0.55 * plants.shape[1] + 3, 0.3 * plants.shape[0] + 2))
        ax.imshow(np.nan_to_num(mat, nan=0.5), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
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
        ax.set_title("Plants kept (green) / closed (red); x = changed vs baseline")
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
            ax.barh(labels, s["moved"], color="#8ab6d6", label="moved")
            ax.barh(labels, s["net_change"], color="#264653", height=0.4, label="net change")
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
            lines += _md_table(["model", "market", "baseline", "scenario", "net change", "moved", "by plant"],
                               [[str(x.model), str(x.market), _num(x.baseline_units), _num(x.units),
                                 _signed(x.net_change), _num(x.moved), str(x.by_plant)] for x in s.itertuples()],
                               "llrrrrl")
        lines.append("")
    return "\n".join(lines) + "\n"


def _html(batch_dir: Path, baseline: str, summary: pd.DataFrame, shifts: pd.DataFrame, plots: list[Path]) -> str:
    e = html.escape

    def table(header: list[str], rows: list[list[str]]) -> str:
        th = "".join(f"<th>{e(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Scenario comparison: {e(str(batch_dir))}</title>",
        ("<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f0f0f0}"
        "img{max-width:100%;margin:1em 0}code{background:#f6f6f6}</style></head><body>"),
        f"<h1>Scenario comparison: {e(str(batch_dir))}</h1>",
        f"<p>Baseline: <code>{e(baseline)}</code>. {len(summary)} job(s) compared.</p>",
        table(HEAD, _summary_rows(summary)),
    ]
    parts += [f"<img src='{e(p.name)}' alt='{e(p.stem)}'>" for p in plots]
    for r in summary.itertuples():
        parts.append(f"<h2>{e(str(r.job))} (vs {e(str(r.baseline))})</h2><ul>")
        pct = "" if pd.isna(r.npv_change_pct) else f" ({r.npv_change_pct:+.2f}%)"
        parts.append(f"<li>status: {e(str(r.status))}; NPV {_num(r.objective)} vs {_num(r.baseline_objective)}: "
                     f"{_signed(r.npv_change)}{pct}</li>")
        parts.append(f"<li>plants: {e(r.plants_changed or 'no change')}</li>")
        parts.append(f"<li>software variants: {e(r.software_changed or 'no change')}</li>")
        if r.message:
            parts.append(f"<li>message: {e(str(r.message))}</li>")
        if r.changes:
            parts.append("<li>scenario changes applied:<ul>" + "".join(f"<li><code>{e(c)}</code></li>" for c in r.changes)
                         + "</ul></li>")
        parts.append("</ul>")
        s = shifts[shifts["job"] == r.job]
        if len(s):
            parts.append(table(["model", "market", "baseline", "scenario", "net change", "moved", "by plant"],
                               [[str(x.model), str(x.market), _num(x.baseline_units), _num(x.units),
                                 _signed(x.net_change), _num(x.moved), str(x.by_plant)] for x in s.itertuples()]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
