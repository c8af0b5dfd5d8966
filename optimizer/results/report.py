"""The report of one plan: a single self-contained HTML file.

Everything is inside the file (inline SVG charts and map, CSS, the data as JSON),
so it opens from an e-mail attachment with no network: no CDN, no tile server,
no JavaScript needed to read it.

Sections: KPI tiles (in the instance's currency), a network map (equirectangular
projection of plant coordinates and market country centroids; flows as lines whose
width is the volume; closed plants crossed out), the NPV by cost component,
utilisation by plant, volume and margin by market and by model, duty by lane and
by market, cost-to-serve by market, the plan by year when the tables carry a
``year`` column, and the main tables.

Cost-to-serve rule (per unit sold in a market, annual): revenue, production,
freight, duty, software licence and export-channel fee are the flow's own unit
terms, weighted by the units of each flow into the market.  A kept plant's annual
fixed cost is allocated to the units it produces (fixed cost / units produced at
that plant), so a market carries the fixed cost of the plants that serve it in
proportion to the units it takes from each.  The fixed cost of a kept plant that
produces nothing is not allocated (shown as "unallocated").  Closure and software
development costs are one-off NPV items and are left out of cost-to-serve.

Every figure shown has a ``data-value`` attribute holding the exact number, so
tests compare the page with the result tables.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import format as fmt
from . import svg
from .centroids import CENTROIDS
from .svg import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILLION, YELLOW, Bar, Stack, esc

__all__ = ["ResultData", "cost_to_serve", "kpis", "render_report", "write_report", "CSS"]

TABLES = ("plants", "flows", "sales", "software", "breakdown")
MAX_EMBEDDED_FLOWS = 20_000
"""Above this many flow rows the embedded data holds flows aggregated by (plant, market)."""
MAX_MAP_LANES = 400
"""The map draws at most this many (plant, market) lanes, the largest first."""

COST_PARTS = (("production", "production_cost", BLUE), ("freight", "freight_cost", SKY), ("duty", "duty", VERMILLION),
              ("software", "software_cost", PURPLE), ("channel fee", "channel_fee", YELLOW),
              ("fixed (allocated)", None, GREY))


@dataclass
class ResultData:
    """A solved plan as the report reads it: the summary and the result tables."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def context(self) -> dict[str, Any]:
        return self.summary.get("context") or {}

    @property
    def currency(self) -> str:
        return str(self.context.get("currency") or "")

    @property
    def has_solution(self) -> bool:
        return str(self.summary.get("status")) in ("optimal", "feasible") and "plants" in self.tables

    def years(self) -> list[Any]:
        """The years of a multi-year plan (tables with a ``year`` column), else []."""
        ys: set[Any] = set()
        for df in self.tables.values():
            if "year" in df.columns:
                ys.update(df["year"].dropna().unique().tolist())
        return sorted(ys)

    def in_year(self, year: Any) -> ResultData:
        """The plan of one year: rows of that year in the tables that have a ``year`` column."""
        return ResultData(self.summary, {n: (df[df["year"] == year].reset_index(drop=True) if "year" in df.columns
                                             else df) for n, df in self.tables.items()})

    @classmethod
    def from_result(cls, res: Any) -> ResultData:
        """From a :class:`~optimizer.Result` in memory."""
        summ = json.loads(json.dumps(res.summary(), default=_json_default))
        tables = {n: getattr(res, n).copy() for n in TABLES} if res.status.has_solution else {}
        return cls(summ, tables)

    @classmethod
    def from_dir(cls, folder: str | Path) -> ResultData:
        """From a result folder written by ``Result.write`` / ``optimizer solve --out`` (or a batch job folder)."""
        folder = Path(folder)
        f = folder / "summary.json"
        if not f.is_file():
            raise FileNotFoundError(f"{f} not found: pass a folder written by 'optimizer solve --out DIR'.")
        summ = json.loads(f.read_text(encoding="utf-8"))
        tables = {}
        for n in TABLES:
            p = folder / f"{n}.csv"
            if p.is_file():
                tables[n] = pd.read_csv(p)
        for n, col in (("plants", "kept"), ("flows", "domestic"), ("software", "developed"), ("software", "default")):
            if n in tables and col in tables[n] and tables[n][col].dtype != bool:
                tables[n][col] = tables[n][col].astype(str).str.lower().isin(["true", "1"])
        return cls(summ, tables)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def kpis(d: ResultData) -> dict[str, float]:
    """The tile figures, computed from the tables (annual unless named NPV)."""
    p, fl, sa = d.tables["plants"], d.tables["flows"], d.tables["sales"]
    kept = p["kept"].astype(bool)
    cap = float(p.loc[kept, "capacity"].sum())
    return {
        "npv": float(d.summary.get("objective") or 0.0),
        "plants_kept": int(kept.sum()),
        "plants_closed": int((~kept).sum()),
        "jobs_cut": float(p["jobs_cut"].sum()),
        "utilisation": float(p.loc[kept, "production"].sum()) / cap if cap > 0 else math.nan,
        "units_sold": float(sa["sold"].sum()),
        "duty_paid": float((fl["units"] * fl["duty"]).sum()),
        "revenue": float(sa["revenue_annual"].sum()),
    }


def _plant_fixed_per_unit(p: pd.DataFrame) -> pd.Series:
    prod = p.set_index("plant")["production"].astype(float)
    fixed = p.set_index("plant")["fixed_cost_annual"].astype(float)
    return (fixed / prod.where(prod > 0)).fillna(0.0)


def cost_to_serve(d: ResultData) -> pd.DataFrame:
    """Per market: units, and revenue and each cost per unit (the rule in this module's docstring)."""
    fl = d.tables["flows"].copy()
    fpu = _plant_fixed_per_unit(d.tables["plants"])
    fl["fixed_alloc"] = fl["plant"].map(fpu).fillna(0.0)
    cols = {"revenue": "price", **{name: col for name, col, _ in COST_PARTS if col}, "fixed (allocated)": "fixed_alloc"}
    rows = []
    for mk, g in fl.groupby("market", sort=False):
        u = float(g["units"].sum())
        if u <= 0:
            continue
        r: dict[str, Any] = {"market": mk, "units": u}
        for name, col in cols.items():
            r[name] = float((g["units"] * g[col]).sum()) / u
        r["cost"] = sum(r[name] for name, _, _ in COST_PARTS)
        r["margin"] = r["revenue"] - r["cost"]
        rows.append(r)
    out = pd.DataFrame(rows, columns=["market", "units", "revenue", *[n for n, _, _ in COST_PARTS], "cost", "margin"])
    return out.sort_values("margin", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# the map
# ---------------------------------------------------------------------------

MAP_W, LAT_TOP, LAT_BOTTOM = 1000, 80.0, -60.0


def _xy(lat: float, lon: float) -> tuple[float, float]:
    s = MAP_W / 360.0
    return (lon + 180.0) * s, (LAT_TOP - lat) * s


def network_map(d: ResultData) -> str:
    """Inline SVG: plants (squares; closed crossed out), markets (circles, area = units), flows (width = units)."""
    ctx = d.context
    p, fl, sa = d.tables["plants"], d.tables["flows"], d.tables["sales"]
    pcoord = {k: v for k, v in (ctx.get("plants") or {}).items() if v and v[0] is not None and v[1] is not None}
    mcountry = ctx.get("markets") or {}
    markets = list(dict.fromkeys([*sa["market"].astype(str), *fl["market"].astype(str)]))
    # markets: their country's centroid; several markets in one country on a small ring around it
    mcoord: dict[str, tuple[float, float]] = {}
    per_country: dict[str, list[str]] = {}
    for m in markets:
        c = str(mcountry.get(m, m))
        if c in CENTROIDS:
            per_country.setdefault(c, []).append(m)
    for c, ms in per_country.items():
        lat, lon = CENTROIDS[c]
        for i, m in enumerate(ms):
            if len(ms) == 1:
                mcoord[m] = (lat, lon)
            else:
                a = 2 * math.pi * i / len(ms)
                mcoord[m] = (lat + 2.5 * math.sin(a), lon + 2.5 * math.cos(a))
    # crop to the points drawn (the drawing is in world coordinates; the viewBox does the cropping)
    pts = list(pcoord.values()) + [list(v) for v in mcoord.values()]
    if pts:
        la = [a for a, _ in pts]
        lo = [b for _, b in pts]
        lat_hi, lat_lo = min(LAT_TOP, max(la) + 12), max(LAT_BOTTOM, min(la) - 10)
        lon_lo, lon_hi = max(-180.0, min(lo) - 14), min(180.0, max(lo) + 14)
    else:
        lat_hi, lat_lo, lon_lo, lon_hi = LAT_TOP, LAT_BOTTOM, -180.0, 180.0
    vx, vy = _xy(lat_hi, lon_lo)
    vx2, vy2 = _xy(lat_lo, lon_hi)
    vw, vh = vx2 - vx, vy2 - vy
    fs = max(0.6, vw / MAP_W)  # text scale: keep labels the same size on screen
    out = [f"<svg class='map' id='network-map' data-chart='network-map' viewBox='{vx:.1f} {vy:.1f} {vw:.1f} {vh:.1f}' "
           f"width='100%' role='img' aria-label='Network map' xmlns='http://www.w3.org/2000/svg' style='{svg.FONT};"
           "background:#f7fbff'>",
           "<title>Network map: plants, markets and flows</title>",
           f"<rect x='{vx:.1f}' y='{vy:.1f}' width='{vw:.1f}' height='{vh:.1f}' fill='#f7fbff'/>",
           "<g class='graticule' stroke='#dde6ee' stroke-width='1'>"]
    for lon in range(-180, 181, 15):
        x, _ = _xy(0, lon)
        out.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{vy:.1f}' y2='{vy2:.1f}'/>")
    for lat in range(-60, 81, 15):
        _, y = _xy(lat, 0)
        eq = " stroke='#bccbd8'" if lat == 0 else ""
        out.append(f"<line x1='{vx:.1f}' x2='{vx2:.1f}' y1='{y:.1f}' y2='{y:.1f}'{eq}/>")
    out.append(f"</g><g class='graticule-labels' font-size='{9 * fs:.1f}' fill='#8aa'>")
    for lon in range(-180, 181, 30):
        x, _ = _xy(0, lon)
        if vx <= x <= vx2 - 20:
            out.append(f"<text x='{x + 2:.1f}' y='{vy2 - 4:.1f}'>{abs(lon)}°{'W' if lon < 0 else 'E' if lon else ''}"
                       "</text>")
    for lat in range(-60, 81, 30):
        _, y = _xy(lat, 0)
        if vy + 10 <= y <= vy2:
            out.append(f"<text x='{vx + 2:.1f}' y='{y - 2:.1f}'>{abs(lat)}°{'S' if lat < 0 else 'N' if lat else ''}"
                       "</text>")
    out.append("</g>")

    lanes = fl.groupby(["plant", "market"], sort=False)["units"].sum().sort_values(ascending=False)
    lanes = lanes[lanes > 0]
    drawn = lanes.head(MAX_MAP_LANES)
    umax = float(drawn.max()) if len(drawn) else 1.0
    out.append("<g class='flows' fill='none' stroke-linecap='round'>")
    for (pl, mk), u in drawn.items():
        if pl not in pcoord or mk not in mcoord:
            continue
        x1, y1 = _xy(*pcoord[pl])
        x2, y2 = _xy(*mcoord[mk])
        w = 0.6 + 9.0 * float(u) / umax
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        dx, dy = x2 - x1, y2 - y1
        cx, cy = mx - dy * 0.15, my + dx * 0.15  # a gentle arc, so opposite lanes do not overlap
        out.append(f"<path class='flow' data-plant='{esc(pl)}' data-market='{esc(mk)}' data-units='{float(u)!r}' "
                   f"d='M{x1:.1f} {y1:.1f} Q{cx:.1f} {cy:.1f} {x2:.1f} {y2:.1f}' stroke='{BLUE}' "
                   f"stroke-opacity='0.45' stroke-width='{w:.2f}'><title>{esc(pl)} → {esc(mk)}: "
                   f"{fmt.number(u)} units/yr</title></path>")
    out.append("</g>")

    sold = sa.groupby("market")["sold"].sum()
    smax = float(sold.max()) if len(sold) and sold.max() > 0 else 1.0
    out.append("<g class='markets'>")
    for m in markets:
        if m not in mcoord:
            continue
        x, y = _xy(*mcoord[m])
        u = float(sold.get(m, 0.0))
        r = 3 + 11 * math.sqrt(u / smax)
        fill = ORANGE if u > 0 else "none"
        out.append(f"<g class='market' data-market='{esc(m)}' data-units='{u!r}'>"
                   f"<title>market {esc(m)} ({esc(mcountry.get(m, m))}): {fmt.number(u)} units/yr sold</title>"
                   f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r:.1f}' fill='{fill}' fill-opacity='0.8' stroke='#7a4f00'/>"
                   f"<text x='{x:.1f}' y='{y + r + 9:.1f}' font-size='9' text-anchor='middle' fill='#5a3a00'>"
                   f"{esc(m)}</text></g>")
    out.append("</g><g class='plants'>")
    boxes: list[tuple[float, float, float, float]] = []  # label boxes placed so far

    def free(b: tuple[float, float, float, float]) -> bool:
        if b[0] < vx or b[2] > vx2:
            return False
        return all(b[2] < o[0] or b[0] > o[2] or b[3] < o[1] or b[1] > o[3] for o in boxes)

    for r in p.itertuples():
        pl = str(r.plant)
        if pl not in pcoord:
            continue
        x, y = _xy(*pcoord[pl])
        lw = (len(pl) + (0 if bool(r.kept) else 9)) * 5.6
        tx, ty, anchor = x + 8, y - 6, "start"
        for dy in (-6, 6, -17, 17, -28, 28, -39, 39, -50, 50):
            for side in (1, -1):
                bx = (x + 8, y + dy - 8, x + 8 + lw, y + dy + 2) if side > 0 else (x - 8 - lw, y + dy - 8, x - 8,
                                                                                    y + dy + 2)
                if free(bx):
                    tx, ty, anchor = (x + 8 if side > 0 else x - 8), y + dy, ("start" if side > 0 else "end")
                    break
            else:
                continue
            break
        boxes.append((tx if anchor == "start" else tx - lw, ty - 8, tx + lw if anchor == "start" else tx, ty + 2))
        leader = (f"<line x1='{x:.1f}' y1='{y:.1f}' x2='{tx:.1f}' y2='{ty - 3:.1f}' stroke='#888' stroke-width='0.6'/>"
                  if abs(ty - y) > 10 else "")
        kept = bool(r.kept)
        s = 5.0
        if kept:
            mark = f"<rect x='{x - s:.1f}' y='{y - s:.1f}' width='{2 * s}' height='{2 * s}' fill='{GREEN}' stroke='#000'/>"
        else:
            mark = (f"<rect x='{x - s:.1f}' y='{y - s:.1f}' width='{2 * s}' height='{2 * s}' fill='#fff' "
                    f"stroke='{VERMILLION}' stroke-width='1.5'/><path d='M{x - s:.1f} {y - s:.1f} l{2 * s} {2 * s} "
                    f"M{x + s:.1f} {y - s:.1f} l{-2 * s} {2 * s}' stroke='{VERMILLION}' stroke-width='2'/>")
        tip = (f"{pl} ({r.country}): {'kept' if kept else 'closed'}, {fmt.number(r.production)} of "
               f"{fmt.number(r.capacity)} units ({fmt.pct(r.utilisation)})")
        out.append(f"<g class='plant' data-plant='{esc(pl)}' data-kept='{str(kept).lower()}' "
                   f"data-production='{float(r.production)!r}'><title>{esc(tip)}</title>{leader}{mark}"
                   f"<text x='{tx:.1f}' y='{ty:.1f}' font-size='10' text-anchor='{anchor}' "
                   f"fill='{'#111' if kept else VERMILLION}'>"
                   f"{esc(pl)}{'' if kept else ' (closed)'}</text></g>")
    out.append("</g></svg>")
    missing_p = [str(x) for x in p["plant"] if str(x) not in pcoord]
    missing_m = [m for m in markets if m not in mcoord]
    legend = ("<p class='legend'><span class='sw' style='background:#009E73'></span> plant kept "
              "<span class='sw closed'>✕</span> plant closed "
              "<span class='sw round' style='background:#E69F00'></span> market (area = units sold) "
              "<span class='sw line'></span> flow (width = units/yr). Equirectangular projection; markets at "
              "their country's centroid.")
    if len(lanes) > len(drawn):
        legend += f" The {len(drawn)} largest of {len(lanes)} lanes are drawn."
    if missing_p:
        legend += f" Plants without coordinates (not drawn): {esc(', '.join(missing_p))}."
    if missing_m:
        legend += f" Markets without a known country centroid (not drawn): {esc(', '.join(missing_m))}."
    return "\n".join(out) + legend + "</p>"


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fff}
main{max-width:1100px;margin:0 auto;padding:1.2em 1.5em 3em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin:1.8em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#555;margin:.2em 0 1em}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px;margin:1em 0}
.tile{border:1px solid #d6dde4;border-radius:6px;padding:.6em .8em;background:#f8fafc}
.tile .v{font-size:1.3em;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .k{font-size:.8em;color:#555;text-transform:uppercase;letter-spacing:.03em}
.tile .n{font-size:.8em;color:#555}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.86em;display:block;overflow-x:auto;max-width:100%}
td,th{border-bottom:1px solid #e3e3e3;padding:3px 9px;text-align:left;vertical-align:top}
th{background:#f1f4f7;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.legend{font-size:.85em;color:#444}.sw{display:inline-block;width:12px;height:12px;vertical-align:-1px;margin:0 3px 0 10px}
.sw.round{border-radius:6px}.sw.line{height:4px;background:#0072B2;opacity:.6;vertical-align:3px;width:22px}
.sw.closed{color:#D55E00;font-weight:700;width:auto}
.note{font-size:.85em;color:#555;max-width:900px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:18px}@media(max-width:900px){.two{grid-template-columns:1fr}}
svg.chart{margin:.4em 0 1em;overflow:visible}code{background:#f3f3f3;padding:0 3px}
footer{margin-top:3em;font-size:.8em;color:#777}
"""


def html_table(header: list[str], rows: list[list[Any]], num: set[int] | None = None, table_id: str = "",
               values: list[list[Any]] | None = None) -> str:
    """A table; columns in ``num`` right-aligned; ``values`` (same shape) go into data-value attributes."""
    num = num or set()
    th = "".join(f"<th{' class=num' if i in num else ''}>{esc(h)}</th>" for i, h in enumerate(header))
    body = []
    for ri, r in enumerate(rows):
        cells = []
        for i, c in enumerate(r):
            dv = ""
            if values is not None and values[ri][i] is not None:
                dv = f" data-value='{esc(values[ri][i])}'"
            cells.append(f"<td{' class=num' if i in num else ''}{dv}>{esc(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    tid = f" id='{esc(table_id)}'" if table_id else ""
    return f"<table{tid}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def tile(key: str, label: str, value: float, text: str, note: str = "", title: str = "") -> str:
    return (f"<div class='tile' data-kpi='{esc(key)}' data-value='{value!r}' title='{esc(title or text)}'>"
            f"<div class='k'>{esc(label)}</div><div class='v'>{esc(text)}</div>"
            f"{f'<div class=n>{esc(note)}</div>' if note else ''}</div>")


def page(title: str, body: str, data: Any) -> str:
    """The HTML document around ``body`` with ``data`` embedded as JSON."""
    blob = json.dumps(data, default=_json_default, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    return ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>\n{body}\n"
            f"<script type='application/json' id='report-data'>{blob}</script>\n"
            f"<footer>Written by optimizer on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Self-contained: "
            "no network needed; the data behind every chart is embedded (script#report-data).</footer>"
            "</main></body></html>\n")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    clean = df.astype(object).where(df.notna(), None)
    return [{k: _json_default(v) if isinstance(v, (np.generic,)) else v for k, v in r.items()}
            for r in clean.to_dict("records")]


def _section(title: str, *parts: str, sid: str = "") -> str:
    return f"<section id='{esc(sid)}'><h2>{esc(title)}</h2>" + "\n".join(parts) + "</section>"


def render_report(d: ResultData) -> str:
    """The HTML text of the report of ``d``."""
    s, cur = d.summary, d.currency
    name = str(s.get("instance") or "plan")
    scen = s.get("scenario")
    title = f"{name}{' / ' + str(scen) if scen else ''}: plan report"
    head = [f"<h1>{esc(title)}</h1>"]
    gap = s.get("gap")
    head.append(f"<p class='sub'>Status <b>{esc(s.get('status'))}</b>"
                + (f", gap {fmt.pct(gap, 4)}" if gap is not None else "")
                + (f"; {esc(s.get('solver'))} {esc(s.get('solver_version') or '')}" if s.get("solver") else "")
                + (f". Money in {esc(cur)}" if cur else "")
                + (f"; NPV over {d.context.get('horizon_years')} years at "
                   f"{fmt.pct(d.context.get('discount_rate'), 1)} (annuity factor "
                   f"{fmt.number(d.context.get('annuity'), 2)})" if d.context.get("horizon_years") else "")
                + ".</p>")
    if s.get("scenario_changes"):
        head.append("<details><summary>Scenario changes applied</summary><ul>"
                    + "".join(f"<li><code>{esc(c)}</code></li>" for c in s["scenario_changes"]) + "</ul></details>")
    if not d.has_solution:
        body = "\n".join(head) + f"<p>No solution to report: {esc(s.get('message') or s.get('status'))}.</p>"
        return page(title, body, {"summary": s})

    full = d
    years = d.years()
    if years:  # a multi-year plan: the sections show its final year; the plan by year follows at the end
        d = d.in_year(years[-1])
        head.append(f"<p class='note'>A plan over {len(years)} years ({esc(years[0])}-{esc(years[-1])}): tiles, map "
                    f"and charts show the final year, {esc(years[-1])}; NPV is the whole plan's. See "
                    "<a href='#by-year'>plan by year</a>.</p>")
    k = kpis(d)
    p, fl, sa, sw, bd = (d.tables[n] for n in TABLES)
    n_pl = k["plants_kept"] + k["plants_closed"]
    closed = p.loc[~p["kept"].astype(bool), "plant"].astype(str).tolist()
    tiles = [
        tile("npv", "NPV", k["npv"], fmt.money_compact(k["npv"], cur), "net present value",
             fmt.money(k["npv"], cur)),
        tile("plants_kept", "Plants kept", k["plants_kept"], f"{k['plants_kept']} of {n_pl}",
             f"{k['plants_closed']} closed"),
        tile("plants_closed", "Plants closed", k["plants_closed"], fmt.number(k["plants_closed"]),
             ", ".join(closed) if len(closed) <= 4 else f"{', '.join(closed[:3])} +{len(closed) - 3}",
             ", ".join(closed) or "none"),
        tile("jobs_cut", "Jobs cut", k["jobs_cut"], fmt.number(k["jobs_cut"]), "headcount of closed plants"),
        tile("utilisation", "Capacity utilisation", k["utilisation"], fmt.pct(k["utilisation"]),
             "units produced / capacity of kept plants"),
        tile("units_sold", "Units sold", k["units_sold"], fmt.compact(k["units_sold"]), "per year",
             fmt.number(k["units_sold"])),
        tile("duty_paid", "Duty paid", k["duty_paid"], fmt.money_compact(k["duty_paid"], cur), "per year",
             fmt.money(k["duty_paid"], cur)),
        tile("revenue", "Revenue", k["revenue"], fmt.money_compact(k["revenue"], cur), "per year",
             fmt.money(k["revenue"], cur)),
    ]
    parts = [*head, "<div class='tiles' id='kpis'>" + "".join(tiles) + "</div>"]

    parts.append(_section("Network map", network_map(d), sid="map"))

    comp = bd[bd["component"] != "npv"]
    wf = svg.waterfall([(str(r.component), float(r.npv)) for r in comp.itertuples()], chart_id="npv-breakdown",
                       title=f"NPV by component ({cur})", total_label="NPV",
                       value_fmt=fmt.signed_compact)
    bd_rows = [[str(r.component), fmt.money(r.annual), fmt.money(r.npv)] for r in bd.itertuples()]
    parts.append(_section("NPV by cost component", wf,
                          html_table(["component", f"annual ({cur})", f"NPV ({cur})"], bd_rows, {1, 2},
                                     "breakdown-table", [[None, _f(r.annual), _f(r.npv)] for r in bd.itertuples()]),
                          sid="breakdown"))

    ps = p.copy()
    ps["is_kept"] = ps["kept"].astype(bool)
    ps = ps.sort_values(["is_kept", "utilisation"], ascending=[False, False], kind="stable")
    ubars = [Bar(str(r.plant), float(r.utilisation),
                 f"{fmt.pct(r.utilisation)} ({fmt.number(r.production)} of {fmt.number(r.capacity)})"
                 if r.is_kept else "closed", colour=BLUE if r.is_kept else GREY, attrs={"plant": r.plant})
             for r in ps.itertuples()]
    prow = [[str(r.plant), str(r.country), "kept" if r.is_kept else "closed", fmt.number(r.production),
             fmt.number(r.capacity), fmt.pct(r.utilisation), fmt.money(r.fixed_cost_annual), fmt.money(r.closure_cost),
             fmt.number(r.headcount), fmt.number(r.jobs_cut)] for r in ps.itertuples()]
    parts.append(_section("Utilisation by plant",
                          svg.hbar(ubars, chart_id="utilisation", title="Utilisation by plant (kept plants first)",
                                   value_fmt=fmt.pct),
                          html_table(["plant", "country", "decision", "production", "capacity", "utilisation",
                                      f"fixed cost/yr ({cur})", f"closure cost ({cur})", "headcount", "jobs cut"],
                                     prow, {3, 4, 5, 6, 7, 8, 9}, "plants-table"), sid="plants"))

    fl = fl.copy()
    fl["_duty"] = fl["units"] * fl["duty"]
    bym = fl.groupby("market").agg(units=("units", "sum"), margin=("annual_margin", "sum")).sort_values(
        "units", ascending=False)
    bymo = fl.groupby("model").agg(units=("units", "sum"), margin=("annual_margin", "sum")).sort_values(
        "units", ascending=False)
    mk_units = [Bar(str(i), float(r.units), f"{fmt.number(r.units)} units", attrs={"market": i})
                for i, r in bym.iterrows()]
    mk_margin = [Bar(str(i), float(r.margin), fmt.money_compact(r.margin, cur), attrs={"market": i})
                 for i, r in bym.sort_values("margin", ascending=False).iterrows()]
    mo_units = [Bar(str(i), float(r.units), f"{fmt.number(r.units)} units", attrs={"model": i})
                for i, r in bymo.iterrows()]
    mo_margin = [Bar(str(i), float(r.margin), fmt.money_compact(r.margin, cur), attrs={"model": i})
                 for i, r in bymo.sort_values("margin", ascending=False).iterrows()]
    parts.append(_section(
        "Volume and margin by market and model",
        "<p class='note'>Margin: revenue minus production, freight, duty, software and channel fee of the units "
        "sold, per year, before plant fixed costs.</p>",
        "<div class='two'>" + svg.hbar(mk_units, chart_id="units-by-market", title="Units sold per year by market",
                                       value_fmt=fmt.number, width=520)
        + svg.hbar(mk_margin, chart_id="margin-by-market", title=f"Margin per year by market ({cur})", width=520,
                   colour=GREEN) + "</div>",
        "<div class='two'>" + svg.hbar(mo_units, chart_id="units-by-model", title="Units sold per year by model",
                                       value_fmt=fmt.number, width=520)
        + svg.hbar(mo_margin, chart_id="margin-by-model", title=f"Margin per year by model ({cur})", width=520,
                   colour=GREEN) + "</div>", sid="markets"))

    lanes = fl[fl["_duty"] > 0].groupby(["origin", "market"])["_duty"].sum().sort_values(ascending=False)
    dm = fl.groupby("market")["_duty"].sum().sort_values(ascending=False)
    dm = dm[dm > 0]
    lane_bars = [Bar(f"{o} → {m}", float(v), fmt.money_compact(v, cur), colour=VERMILLION,
                     attrs={"origin": o, "market": m}) for (o, m), v in lanes.head(20).items()]
    dm_bars = [Bar(str(m), float(v), fmt.money_compact(v, cur), colour=VERMILLION, attrs={"market": m})
               for m, v in dm.items()]
    duty_note = "<p class='note'>No duty is paid in this plan.</p>" if not len(dm) else (
        f"<p class='note'>Duty paid per year, {fmt.money(k['duty_paid'], cur)} in all; a lane is the origin country "
        f"of the plant and the market{'; the 20 largest of ' + str(len(lanes)) + ' lanes' if len(lanes) > 20 else ''}."
        "</p>")
    parts.append(_section("Duty by lane and market", duty_note, "<div class='two'>"
                          + svg.hbar(lane_bars, chart_id="duty-by-lane", title=f"Duty per year by lane ({cur})",
                                     width=520)
                          + svg.hbar(dm_bars, chart_id="duty-by-market", title=f"Duty per year by market ({cur})",
                                     width=520) + "</div>", sid="duty"))

    cts = cost_to_serve(d)
    colours = {n: c for n, _, c in COST_PARTS}
    stacks = [Stack(str(r["market"]), [(n, float(r[n])) for n, _, _ in COST_PARTS], marker=float(r["revenue"]),
                    text=f"margin {fmt.money(r['margin'])}/unit", attrs={"market": r["market"]})
              for _, r in cts.iterrows()]
    unalloc = float(p.loc[p["kept"].astype(bool) & (p["production"] <= 0), "fixed_cost_annual"].sum())
    cts_rows = [[str(r["market"]), fmt.number(r["units"]), fmt.money(r["revenue"]),
                 *[fmt.money(r[n]) for n, _, _ in COST_PARTS], fmt.money(r["cost"]), fmt.money(r["margin"])]
                for _, r in cts.iterrows()]
    parts.append(_section(
        "Cost-to-serve by market",
        f"<p class='note'>Per unit sold, per year, in {esc(cur)}; markets by margin per unit. Each kept plant's fixed "
        "cost is allocated to the units it produces (fixed cost / units produced) and reaches a market through the "
        "units the market takes from that plant"
        + (f"; {fmt.money(unalloc, cur)} of fixed cost of kept plants that produce nothing is unallocated"
           if unalloc > 0 else "")
        + ". Closure and software development costs are one-off and not included.</p>",
        svg.stacked_hbar(stacks, chart_id="cost-to-serve", title=f"Cost to serve per unit ({cur}); tick = revenue "
                         "per unit", colours=colours, value_fmt=fmt.number, marker_name="revenue per unit"),
        html_table(["market", "units", "revenue", *[n for n, _, _ in COST_PARTS], "cost", "margin"], cts_rows,
                   set(range(1, 4 + len(COST_PARTS))), "cost-to-serve-table"), sid="cost-to-serve"))

    if years:
        parts.append(_section("Plan by year", _plan_by_year(full, cur), sid="by-year"))

    dev = sw[sw["developed"].astype(bool) & ~sw["default"].astype(bool)]
    sw_rows = [[f"{r.model}/{r.stack}", str(r.origin), fmt.money(r.dev_cost_charged), fmt.number(r.units)]
               for r in dev.itertuples()]
    parts.append(_section("Software variants developed",
                          html_table(["variant", "origin", f"development cost ({cur})", "units/yr"], sw_rows, {2, 3},
                                     "software-table") if sw_rows else "<p>None: every model keeps its default "
                          "software stack.</p>", sid="software"))

    ft = full.tables
    flows_data = ft["flows"]
    if len(flows_data) > MAX_EMBEDDED_FLOWS:
        keys = ["plant", "market", *(["year"] if "year" in flows_data.columns else [])]
        flows_data = flows_data.groupby(keys, as_index=False)[["units", "annual_margin"]].sum()
    data = {"summary": s, "kpis": k, "cost_to_serve": _records(cts),
            "tables": {"plants": _records(ft["plants"]), "sales": _records(ft["sales"]),
                       "software": _records(ft["software"]), "breakdown": _records(ft["breakdown"]),
                       "flows": _records(flows_data)}}
    return page(title, "\n".join(parts), data)


def _f(x: Any) -> float | None:
    return None if fmt.is_missing(x) else float(x)


def _plan_by_year(d: ResultData, cur: str) -> str:
    out = []
    p, fl = d.tables["plants"], d.tables["flows"]
    if "year" in fl:
        g = fl.assign(_duty=fl["units"] * fl["duty"]).groupby("year").agg(
            units=("units", "sum"), margin=("annual_margin", "sum"), duty=("_duty", "sum"))
        if "year" in p:
            g = g.join(p.groupby("year").agg(kept=("kept", "sum"), jobs_cut=("jobs_cut", "sum")), how="outer")
        rows, vals = [], []
        for y, r in g.iterrows():
            row = [str(y), fmt.number(r.get("units")), fmt.money(r.get("margin")), fmt.money(r.get("duty"))]
            if "kept" in g:
                row += [fmt.number(r.get("kept")), fmt.number(r.get("jobs_cut"))]
            rows.append(row)
            vals.append([None, _f(r.get("units")), _f(r.get("margin")), _f(r.get("duty"))]
                        + ([_f(r.get("kept")), _f(r.get("jobs_cut"))] if "kept" in g else []))
        head = ["year", "units", f"margin ({cur})", f"duty ({cur})"] + (["plants kept", "jobs cut"] if "kept" in g
                                                                       else [])
        out.append(html_table(head, rows, set(range(1, len(head))), "by-year-table", vals))
        out.append(svg.hbar([Bar(str(y), float(r["units"]), fmt.number(r["units"])) for y, r in g.iterrows()
                             if not fmt.is_missing(r.get("units"))],
                            chart_id="units-by-year", title="Units per year", value_fmt=fmt.number))
    if "year" in p and "year" not in fl:
        g = p.groupby("year").agg(kept=("kept", "sum"), production=("production", "sum"))
        out.append(html_table(["year", "plants kept", "production"],
                              [[str(y), fmt.number(r.kept), fmt.number(r.production)] for y, r in g.iterrows()],
                              {1, 2}, "by-year-table"))
    if "year" in p:
        years = sorted(p["year"].dropna().unique())
        plants = list(dict.fromkeys(p["plant"].astype(str)))
        kept = {(str(r.plant), str(r.year)): bool(r.kept) for r in p.itertuples()}
        out.append(svg.decision_grid(plants, [str(y) for y in years], kept, set(), chart_id="plants-by-year",
                                     title="Plant decisions by year"))
    return "\n".join(out)


def write_report(source: Any, out: str | Path) -> Path:
    """Write the report of ``source`` (a :class:`Result`, a :class:`ResultData` or a result folder) to ``out``.

    ``out`` is the HTML file, or a folder (then ``out/report.html``).
    """
    if isinstance(source, ResultData):
        d = source
    elif isinstance(source, (str, Path)):
        d = ResultData.from_dir(source)
    else:
        d = ResultData.from_result(source)
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        out = out / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(d), encoding="utf-8")
    return out
