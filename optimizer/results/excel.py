"""Excel workbooks of results (openpyxl): the summary sheet first, then a sheet per table.

Headers bold on a shaded row, frozen, with filters; numbers formatted by what the
column holds (money and units with thousands separators, shares as percentages,
per-unit money with two decimals) following :mod:`optimizer.results.format`; the
files keep full precision (formats change the display only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import format as fmt

__all__ = ["number_format", "write_result_xlsx", "write_workbook"]

EXCEL_MAX_ROWS = 1_048_576

_PCT = {"utilisation", "ad_valorem", "gap", "npv_change_pct_frac", "share"}
_UNIT_MONEY = {"price", "production_cost", "freight_cost", "specific", "duty", "software_cost", "channel_fee",
               "margin", "unit_software_cost", "unit_cost", "revenue", "production", "freight", "software",
               "fixed (allocated)", "cost", "channel fee", "fixed_alloc"}


def number_format(column: str, sheet: str = "") -> str | None:
    """The Excel number format for a column (None: leave General)."""
    c = column.lower()
    if c in _PCT or c.endswith("_share"):
        return fmt.XLSX_PCT
    if c.endswith("_pct"):
        return "0.00"
    if sheet in ("flows", "cost_to_serve") and c in _UNIT_MONEY:
        return fmt.XLSX_UNIT_MONEY
    if c in ("time_job", "time_solve") or c.startswith("time") or c.endswith("_s"):
        return "0.00"
    if c in ("year", "rank", "nodes"):
        return "0"
    return fmt.XLSX_INT


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else ("inf" if f > 0 else "-inf") if math.isinf(f) else f
    if isinstance(v, (list, tuple, dict)):
        return "; ".join(map(str, v)) if not isinstance(v, dict) else str(v)
    if v is pd.NA or v is pd.NaT:
        return None
    return v if isinstance(v, (int, str)) else str(v)


def write_workbook(path: str | Path, summary: Sequence[tuple[str, Any]] | None,
                   sheets: Mapping[str, pd.DataFrame], summary_title: str = "summary") -> Path:
    """Write ``summary`` (key/value rows) as the first sheet, then one sheet per DataFrame."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="1F4E79")
    ws = wb.active
    ws.title = summary_title[:31]
    notes: list[str] = []
    if summary is not None:
        ws.append(["item", "value"])
        for k, v in summary:
            ws.append([str(k), _cell(v)])
            c = ws.cell(row=ws.max_row, column=2)
            if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                c.number_format = _summary_format(str(k), float(c.value))
        for c in ws[1]:
            c.font, c.fill = head_font, head_fill
        ws.column_dimensions["A"].width = max(12, min(40, max((len(str(k)) for k, _ in summary), default=10) + 2))
        ws.column_dimensions["B"].width = 28
        ws.freeze_panes = "A2"
    first = summary is None
    for name, df in sheets.items():
        if first:
            sh, first = ws, False
            sh.title = name[:31]
        else:
            sh = wb.create_sheet(name[:31])
        if len(df) > EXCEL_MAX_ROWS - 1:
            notes.append(f"sheet {name}: first {EXCEL_MAX_ROWS - 1:,} of {len(df):,} rows (Excel's limit)")
            df = df.head(EXCEL_MAX_ROWS - 1)
        cols = [str(c) for c in df.columns]
        sh.append(cols)
        for c in sh[1]:
            c.font, c.fill = head_font, head_fill
            c.alignment = Alignment(wrap_text=False)
        fmts = [number_format(c, name) if pd.api.types.is_numeric_dtype(df[c0]) and
                not pd.api.types.is_bool_dtype(df[c0]) else None for c, c0 in zip(cols, df.columns)]
        for row in df.itertuples(index=False, name=None):
            sh.append([_cell(v) for v in row])
        for j, f in enumerate(fmts, start=1):
            if f is None:
                continue
            for (cell,) in sh.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = f
        for j, c in enumerate(cols, start=1):
            sample = [len(str(v)) for v in df.iloc[:200, j - 1].tolist()] if len(df) else []
            width = max([len(c) + 2, *[min(s + 2, 60) for s in sample]])
            if fmts[j - 1] is not None:
                width = max(width, 14)
            sh.column_dimensions[get_column_letter(j)].width = min(width, 60)
        sh.freeze_panes = "A2"
        if len(cols):
            sh.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(sh.max_row, 1)}"
    if notes and summary is not None:
        for n in notes:
            ws.append(["note", n])
    wb.save(path)
    return path


def _summary_format(key: str, v: float) -> str:
    if key.endswith(("gap", "utilisation", "discount_rate", "_pct_frac")):
        return fmt.XLSX_PCT
    if key.startswith("time_") or key == "annuity":
        return "0.00"
    return fmt.XLSX_INT if abs(v) >= 1 or v == 0 else "General"


def summary_rows(summary: Mapping[str, Any], kpis: Mapping[str, Any] | None = None) -> list[tuple[str, Any]]:
    """Key/value rows for the summary sheet of one result."""
    ctx = summary.get("context") or {}
    rows: list[tuple[str, Any]] = [(k, summary.get(k)) for k in ("instance", "scenario", "status", "objective",
                                                                   "bound", "gap", "message") if k in summary]
    rows.insert(3, ("currency", ctx.get("currency")))
    for k in ("horizon_years", "discount_rate", "annuity"):
        if ctx.get(k) is not None:
            rows.append((k, ctx[k]))
    for k, v in (kpis or summary.get("kpis") or {}).items():
        if k != "npv":
            rows.append((k, ", ".join(map(str, v)) if isinstance(v, list) else v))
    if summary.get("scenario_changes"):
        rows.append(("scenario_changes", "; ".join(summary["scenario_changes"])))
    rows.append(("solver", f"{summary.get('solver') or ''} {summary.get('solver_version') or ''}".strip()))
    for k, v in (summary.get("timings") or {}).items():
        rows.append((f"time_{k}_s", v))
    return rows


def write_result_xlsx(source: Any, path: str | Path) -> Path:
    """Workbook of one result (a :class:`~optimizer.Result`, a ResultData or a result folder)."""
    from .report import TABLES, ResultData, cost_to_serve, kpis

    if isinstance(source, ResultData):
        d = source
    elif isinstance(source, (str, Path)):
        d = ResultData.from_dir(source)
    else:
        d = ResultData.from_result(source)
    sheets: dict[str, pd.DataFrame] = {}
    k: dict[str, Any] | None = None
    if d.has_solution:
        sheets = {n: d.tables[n] for n in TABLES if n in d.tables}
        sheets["cost_to_serve"] = cost_to_serve(d)
        k = {**(d.summary.get("kpis") or {}), **kpis(d)}
    return write_workbook(path, summary_rows(d.summary, k), sheets)
