"""Small inline-SVG charts for the self-contained HTML reports (no JavaScript, no network).

Every chart is an ``<svg>`` string with ``<title>`` tooltips; every bar carries
``data-label`` and ``data-value`` attributes with the exact number it shows, so a
test (or an analyst's script) can check the figures against the result tables.
Colours: the Okabe-Ito palette, safe for the common colour-vision deficiencies.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import format as fmt

# Okabe & Ito (2008), "Color Universal Design"
BLUE, ORANGE, SKY, GREEN, YELLOW, NAVY, VERMILLION, PURPLE, GREY = (
    "#0072B2", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#003f6b", "#D55E00", "#CC79A7", "#999999")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY)
POS, NEG = BLUE, VERMILLION

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
CHAR_W = 6.6  # px per character at 11px, for laying out labels


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text_w(s: str) -> float:
    return len(s) * CHAR_W


@dataclass
class Bar:
    label: str
    value: float
    text: str = ""
    """Value label shown at the end of the bar (default: the formatted value)."""
    colour: str | None = None
    tooltip: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


MAX_ROWS = 40
"""Charts show at most this many rows (the first ones in the caller's order); the title says so."""


def _limit(rows: Sequence[Any], title: str, limit: int | None) -> tuple[Sequence[Any], str]:
    if limit is not None and len(rows) > limit:
        return rows[:limit], f"{title}: first {limit} of {len(rows)}"
    return rows, title


def hbar(bars: Sequence[Bar], *, chart_id: str, title: str, value_fmt: Callable[[float], str] = fmt.compact,
         width: int = 860, row_h: int = 22, colour: str = BLUE, axis_label: str = "",
         limit: int | None = MAX_ROWS) -> str:
    """Horizontal bars in the given order (sort before), value labels at the bar ends, a zero line."""
    if not bars:
        return f"<p class='empty' id='{esc(chart_id)}'>{esc(title)}: nothing to show.</p>"
    bars, title = _limit(bars, title, limit)
    label_w = min(260.0, max(_text_w(b.label) for b in bars) + 12)
    texts = [b.text or value_fmt(b.value) for b in bars]
    text_w = max(_text_w(t) for t in texts) + 10
    vals = [0.0 if not math.isfinite(b.value) else b.value for b in bars]
    lo, hi = min(0.0, *vals), max(0.0, *vals)
    span = (hi - lo) or 1.0
    plot_w = width - label_w - 2 * text_w - 10
    x0 = label_w + text_w + (-lo / span) * plot_w if lo < 0 else label_w + 4

    if lo >= 0:
        plot_w = width - label_w - text_w - 10

    def sx(v: float) -> float:
        return (v / span) * plot_w

    top = 28
    h = top + row_h * len(bars) + (26 if axis_label else 10)
    out = [f"<svg class='chart' id='{esc(chart_id)}' data-chart='{esc(chart_id)}' viewBox='0 0 {width} {h}' "
           f"width='100%' role='img' aria-label='{esc(title)}' xmlns='http://www.w3.org/2000/svg' style='{FONT}'>",
           f"<title>{esc(title)}</title>",
           f"<text x='0' y='16' font-size='13' font-weight='600'>{esc(title)}</text>"]
    for i, (b, v, t) in enumerate(zip(bars, vals, texts)):
        y = top + i * row_h
        w = abs(sx(v))
        x = x0 if v >= 0 else x0 - w
        c = b.colour or (colour if v >= 0 else NEG)
        extra = "".join(f" data-{esc(k)}='{esc(val)}'" for k, val in b.attrs.items())
        tip = b.tooltip or f"{b.label}: {t}"
        out.append(f"<g class='bar' data-label='{esc(b.label)}' data-value='{b.value!r}'{extra}>"
                   f"<title>{esc(tip)}</title>"
                   f"<text x='{_num(label_w - 6)}' y='{y + row_h * 0.68:.1f}' font-size='11' text-anchor='end'>"
                   f"{esc(b.label)}</text>"
                   f"<rect x='{_num(x)}' y='{y + 3}' width='{_num(max(w, 0.5))}' height='{row_h - 6}' fill='{c}'/>")
        tx, anchor = (x0 + w + 4, "start") if v >= 0 else (x0 - w - 4, "end")
        out.append(f"<text x='{_num(tx)}' y='{y + row_h * 0.68:.1f}' font-size='11' text-anchor='{anchor}'>"
                   f"{esc(t)}</text></g>")
    yb = top + row_h * len(bars)
    out.append(f"<line x1='{_num(x0)}' x2='{_num(x0)}' y1='{top}' y2='{yb}' stroke='#333' stroke-width='1'/>")
    if axis_label:
        out.append(f"<text x='{_num(label_w)}' y='{yb + 18}' font-size='11' fill='#555'>{esc(axis_label)}</text>")
    out.append("</svg>")
    return "\n".join(out)


@dataclass
class Stack:
    label: str
    parts: list[tuple[str, float]]
    """(component, value >= 0) stacked left to right."""
    marker: float | None = None
    """A reference value drawn as a tick (e.g. revenue per unit)."""
    text: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


def stacked_hbar(rows: Sequence[Stack], *, chart_id: str, title: str, colours: dict[str, str],
                 value_fmt: Callable[[float], str] = fmt.compact, marker_name: str = "", width: int = 860,
                 row_h: int = 22, limit: int | None = MAX_ROWS) -> str:
    """Stacked horizontal bars (one colour per component, a legend), optional marker tick per row."""
    if not rows:
        return f"<p class='empty' id='{esc(chart_id)}'>{esc(title)}: nothing to show.</p>"
    rows, title = _limit(rows, title, limit)
    label_w = min(220.0, max(_text_w(r.label) for r in rows) + 12)
    texts = [r.text or value_fmt(sum(v for _, v in r.parts)) for r in rows]
    text_w = max(_text_w(t) for t in texts) + 10
    hi = max(max(sum(max(v, 0) for _, v in r.parts), r.marker or 0.0) for r in rows) or 1.0
    plot_w = width - label_w - text_w - 10
    names = list(dict.fromkeys(n for r in rows for n, _ in r.parts))
    legend_h = 22
    top = 28 + legend_h
    h = top + row_h * len(rows) + 8
    out = [f"<svg class='chart' id='{esc(chart_id)}' data-chart='{esc(chart_id)}' viewBox='0 0 {width} {h}' "
           f"width='100%' role='img' aria-label='{esc(title)}' xmlns='http://www.w3.org/2000/svg' style='{FONT}'>",
           f"<title>{esc(title)}</title>",
           f"<text x='0' y='16' font-size='13' font-weight='600'>{esc(title)}</text>"]
    lx = 0.0
    for n in names:
        out.append(f"<rect x='{_num(lx)}' y='28' width='12' height='12' fill='{colours.get(n, GREY)}'/>"
                   f"<text x='{_num(lx + 16)}' y='38' font-size='11'>{esc(n)}</text>")
        lx += 16 + _text_w(n) + 14
    if marker_name:
        out.append(f"<line x1='{_num(lx)}' x2='{_num(lx)}' y1='26' y2='42' stroke='#000' stroke-width='2.5'/>"
                   f"<text x='{_num(lx + 6)}' y='38' font-size='11'>{esc(marker_name)}</text>")
    for i, (r, t) in enumerate(zip(rows, texts)):
        y = top + i * row_h
        extra = "".join(f" data-{esc(k)}='{esc(val)}'" for k, val in r.attrs.items())
        out.append(f"<g class='stack' data-label='{esc(r.label)}'{extra}>"
                   f"<text x='{_num(label_w - 6)}' y='{y + row_h * 0.68:.1f}' font-size='11' text-anchor='end'>"
                   f"{esc(r.label)}</text>")
        x = label_w
        for n, v in r.parts:
            w = max(v, 0.0) / hi * plot_w
            out.append(f"<rect class='part' data-part='{esc(n)}' data-value='{v!r}' x='{_num(x)}' y='{y + 3}' "
                       f"width='{_num(w)}' height='{row_h - 6}' fill='{colours.get(n, GREY)}'>"
                       f"<title>{esc(r.label)} {esc(n)}: {esc(value_fmt(v))}</title></rect>")
            x += w
        end = x
        if r.marker is not None and math.isfinite(r.marker):
            mx = label_w + r.marker / hi * plot_w
            out.append(f"<line class='marker' data-value='{r.marker!r}' x1='{_num(mx)}' x2='{_num(mx)}' y1='{y + 1}' "
                       f"y2='{y + row_h - 1}' stroke='#000' stroke-width='2.5'><title>{esc(r.label)} {esc(marker_name)}: "
                       f"{esc(value_fmt(r.marker))}</title></line>")
            end = max(end, mx)
        out.append(f"<text x='{_num(end + 5)}' y='{y + row_h * 0.68:.1f}' font-size='11'>{esc(t)}</text></g>")
    out.append("</svg>")
    return "\n".join(out)


def waterfall(steps: Sequence[tuple[str, float]], *, chart_id: str, title: str, total_label: str = "total",
              value_fmt: Callable[[float], str] = fmt.signed_compact, width: int = 860, row_h: int = 22,
              start: tuple[str, float] | None = None) -> str:
    """Horizontal waterfall: optional start bar, one floating bar per step, then the total.

    Rows top to bottom; each step starts where the previous ended (blue up, vermillion down).
    """
    rows: list[tuple[str, float, float, str, str]] = []  # label, from, to, colour, kind
    run = 0.0
    if start is not None:
        rows.append((start[0], 0.0, start[1], GREY, "start"))
        run = start[1]
    for lab, v in steps:
        rows.append((lab, run, run + v, POS if v >= 0 else NEG, "step"))
        run += v
    rows.append((total_label, 0.0, run, NAVY, "total"))
    label_w = min(240.0, max(_text_w(r[0]) for r in rows) + 12)
    texts = [value_fmt(b - a) if k == "step" else fmt.compact(b) if start is not None else value_fmt(b)
             for _, a, b, _, k in rows]
    text_w = max(_text_w(t) for t in texts) + 10
    pts = [0.0] + [x for r in rows for x in (r[1], r[2])]
    lo, hi = min(pts), max(pts)
    span = (hi - lo) or 1.0
    plot_w = width - label_w - 2 * text_w - 10

    def sx(v: float) -> float:
        return label_w + text_w + (v - lo) / span * plot_w

    top = 28
    h = top + row_h * len(rows) + 10
    out = [f"<svg class='chart waterfall' id='{esc(chart_id)}' data-chart='{esc(chart_id)}' "
           f"viewBox='0 0 {width} {h}' width='100%' role='img' aria-label='{esc(title)}' "
           f"xmlns='http://www.w3.org/2000/svg' style='{FONT}'>",
           f"<title>{esc(title)}</title>",
           f"<text x='0' y='16' font-size='13' font-weight='600'>{esc(title)}</text>"]
    prev_end = None
    for i, ((lab, a, b, c, kind), t) in enumerate(zip(rows, texts)):
        y = top + i * row_h
        x1, x2 = sorted((sx(a), sx(b)))
        val = b - a if kind == "step" else b
        bold = " font-weight='600'" if kind == "total" else ""
        out.append(f"<g class='bar {kind}' data-label='{esc(lab)}' data-value='{val!r}'>"
                   f"<title>{esc(lab)}: {esc(t)}</title>"
                   f"<text x='{_num(label_w - 6)}' y='{y + row_h * 0.68:.1f}' font-size='11' text-anchor='end'"
                   f"{bold}>{esc(lab)}</text>"
                   f"<rect x='{_num(x1)}' y='{y + 3}' width='{_num(max(x2 - x1, 0.8))}' height='{row_h - 6}' "
                   f"fill='{c}'/>")
        right = b >= a if kind == "step" else b >= 0
        tx, anchor = (x2 + 4, "start") if right else (x1 - 4, "end")
        out.append(f"<text x='{_num(tx)}' y='{y + row_h * 0.68:.1f}' font-size='11' text-anchor='{anchor}'>"
                   f"{esc(t)}</text></g>")
        if prev_end is not None and kind == "step":
            out.append(f"<line x1='{_num(sx(prev_end))}' x2='{_num(sx(prev_end))}' y1='{y - row_h + 3}' "
                       f"y2='{y + 3}' stroke='#777' stroke-dasharray='2,2'/>")
        prev_end = b
    out.append(f"<line x1='{_num(sx(0))}' x2='{_num(sx(0))}' y1='{top}' y2='{top + row_h * len(rows)}' "
               f"stroke='#333'/>")
    out.append("</svg>")
    return "\n".join(out)


def decision_grid(rows: Sequence[str], cols: Sequence[str], kept: dict[tuple[str, str], bool | None],
                  changed: set[tuple[str, str]], *, chart_id: str, title: str, width: int = 860) -> str:
    """Plant (row) x job (column) grid: kept = blue filled circle, closed = vermillion cross,
    no solution = grey dash; a thick black frame marks a decision that differs from the job's baseline.
    Symbols as well as colours, so it reads in grey-scale and with any colour-vision deficiency.
    """
    label_w = max(_text_w(r) for r in rows) + 12 if rows else 60
    cell = max(18.0, min(34.0, (width - label_w) / max(len(cols), 1)))
    col_h = max(_text_w(c) for c in cols) * 0.72 + 16 if cols else 20
    top = 28 + 22 + col_h
    w = label_w + cell * len(cols) + 10
    h = top + cell * len(rows) + 10
    out = [f"<svg class='chart grid' id='{esc(chart_id)}' data-chart='{esc(chart_id)}' viewBox='0 0 {_num(max(w, 420))} "
           f"{_num(h)}' width='{_num(max(w, 420))}' style='max-width:100%;{FONT}' role='img' aria-label='{esc(title)}' "
           "xmlns='http://www.w3.org/2000/svg'>",
           f"<title>{esc(title)}</title>",
           f"<text x='0' y='16' font-size='13' font-weight='600'>{esc(title)}</text>",
           f"<circle cx='6' cy='38' r='5' fill='{BLUE}'/><text x='16' y='42' font-size='11'>kept</text>"
           f"<path d='M56 33 l10 10 M66 33 l-10 10' stroke='{VERMILLION}' stroke-width='3'/>"
           f"<text x='72' y='42' font-size='11'>closed</text>"
           f"<rect x='120' y='32' width='12' height='12' fill='none' stroke='#000' stroke-width='2.5'/>"
           f"<text x='138' y='42' font-size='11'>changed vs baseline</text>"
           f"<path d='M262 38 h10' stroke='{GREY}' stroke-width='3'/><text x='278' y='42' font-size='11'>"
           "no solution</text>"]
    for j, c in enumerate(cols):
        cx = label_w + cell * j + cell / 2
        out.append(f"<text x='{_num(cx)}' y='{_num(top - 6)}' font-size='11' transform='rotate(-45 {_num(cx)} "
                   f"{_num(top - 6)})'>{esc(c)}</text>")
    for i, r in enumerate(rows):
        cy = top + cell * i + cell / 2
        out.append(f"<text x='{_num(label_w - 6)}' y='{_num(cy + 4)}' font-size='11' text-anchor='end'>{esc(r)}</text>")
        for j, c in enumerate(cols):
            cx = label_w + cell * j + cell / 2
            k = kept.get((r, c))
            s = cell * 0.28
            state = "none" if k is None else "kept" if k else "closed"
            ch = (r, c) in changed
            out.append(f"<g class='cell' data-plant='{esc(r)}' data-job='{esc(c)}' data-state='{state}' "
                       f"data-changed='{str(ch).lower()}'><title>{esc(r)} in {esc(c)}: {state}"
                       f"{' (changed vs baseline)' if ch else ''}</title>"
                       f"<rect x='{_num(cx - cell / 2 + 1)}' y='{_num(cy - cell / 2 + 1)}' width='{_num(cell - 2)}' "
                       f"height='{_num(cell - 2)}' fill='#f4f4f4' stroke='{'#000' if ch else '#ddd'}' "
                       f"stroke-width='{'2.5' if ch else '1'}'/>")
            if k is None:
                out.append(f"<path d='M{_num(cx - s)} {_num(cy)} h{_num(2 * s)}' stroke='{GREY}' stroke-width='3'/>")
            elif k:
                out.append(f"<circle cx='{_num(cx)}' cy='{_num(cy)}' r='{_num(s)}' fill='{BLUE}'/>")
            else:
                out.append(f"<path d='M{_num(cx - s)} {_num(cy - s)} l{_num(2 * s)} {_num(2 * s)} "
                           f"M{_num(cx + s)} {_num(cy - s)} l{_num(-2 * s)} {_num(2 * s)}' stroke='{VERMILLION}' "
                           "stroke-width='3'/>")
            out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
