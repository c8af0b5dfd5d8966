"""An instance as one Excel workbook: a sheet per table and a ``settings`` sheet.

Layout of ``case.xlsx``:

- sheet ``settings``: two columns ``key`` and ``value``, one row per ``instance.yaml``
  key (``name``, ``currency``, ``horizon_years``, ``plants_kept``, ...). Nested values
  (``plants_kept: {min: 10, max: 10}``, ``solver``, ``metadata``, ``sources``) are
  written as YAML text in the value cell (``{min: 10, max: 10}``).
- one sheet per table (``plants``, ``models``, ``production``, ...), named like the
  table, header in row 1, the same columns as the CSV files.  Sheets whose name is
  not a table are refused (as unknown tables), except sheets starting with ``_``
  (notes for people).

Loading goes through the same type checks and cross-table validation as a folder;
problems name the sheet as ``case.xlsx[plants]`` with the Excel row number (the
header is row 1) and the column: ``case.xlsx[plants], table 'plants', row 3,
column 'capacity': ...``.

:func:`folder_to_xlsx` and :func:`xlsx_to_folder` convert both ways (``optimizer
convert xlsx SRC OUT``).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import InstanceError, InstanceLoadError, Problem
from .instance import Instance, _resolve_yaml_path, from_dict, read_yaml
from .schema import TABLES

__all__ = ["SETTINGS_SHEET", "folder_to_xlsx", "is_workbook", "load_xlsx", "read_workbook", "xlsx_to_folder"]

SETTINGS_SHEET = "settings"
SUFFIXES = (".xlsx", ".xlsm")


def is_workbook(path: str | Path) -> bool:
    """True when ``path`` names an Excel workbook (by its suffix)."""
    return Path(path).suffix.lower() in SUFFIXES


def _text(v: Any) -> Any:
    """A cell as the text a CSV would hold (numbers exactly, booleans true/false, empty -> NaN)."""
    if v is None:
        return math.nan
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    s = str(v)
    return math.nan if s.strip() == "" else s


def _settings_value(v: Any, key: str, where: str, row: int, problems: list[Problem]) -> Any:
    if isinstance(v, str):
        try:
            return yaml.safe_load(v) if v.strip() else None
        except yaml.YAMLError as exc:
            problems.append(Problem(where, f"value is not valid YAML: {exc}", row=row, column=key,
                                    fix="Write a number, a word, or YAML such as {min: 10, max: 10}."))
            return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return v


def read_workbook(path: str | Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The settings mapping and the raw (string) tables of a workbook; raises InstanceLoadError."""
    settings, frames, _ = _read_workbook(path)
    return settings, frames


def _read_workbook(path: str | Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, int]]:
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InstanceLoadError([Problem(str(path), "file not found.", fix="Pass an existing .xlsx workbook.")])
    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise InstanceLoadError([Problem(name, "reading Excel needs openpyxl.", fix="pip install openpyxl")]) from None
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is an input problem
        raise InstanceLoadError([Problem(name, f"cannot be read as an Excel workbook: {exc}",
                                         fix="Save it as .xlsx from Excel or LibreOffice.")]) from None
    problems: list[Problem] = []
    settings: dict[str, Any] = {}
    key_rows: dict[str, int] = {}
    frames: dict[str, pd.DataFrame] = {}
    try:
        for ws in wb.worksheets:
            title = ws.title.strip()
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            while rows and all(c is None or str(c).strip() == "" for c in rows[-1]):
                rows.pop()
            where = f"{name}[{title}]"
            if title.startswith("_"):
                continue
            if title.lower() == SETTINGS_SHEET:
                if not rows:
                    continue
                head = [str(c).strip().lower() if c is not None else "" for c in rows[0]]
                if head[:2] != ["key", "value"]:
                    problems.append(Problem(where, "the first row must be the header 'key', 'value'.", row=1,
                                            fix="Put 'key' in A1 and 'value' in B1, one setting per row below."))
                    continue
                for i, r in enumerate(rows[1:], start=2):
                    key = r[0] if r else None
                    if key is None or str(key).strip() == "":
                        continue
                    key = str(key).strip()
                    if key in settings:
                        problems.append(Problem(where, f"duplicate key '{key}'.", row=i, column="key",
                                                fix="Keep one row per key."))
                        continue
                    settings[key] = _settings_value(r[1] if len(r) > 1 else None, key, where, i, problems)
                    key_rows[key] = i
                continue
            if not rows:
                frames[title] = pd.DataFrame()
                continue
            header = [str(c).strip() if c is not None else "" for c in rows[0]]
            while header and header[-1] == "":
                header.pop()
            blank = [j + 1 for j, h in enumerate(header) if h == ""]
            if blank:
                from openpyxl.utils import get_column_letter

                problems.append(Problem(where, f"empty header cell(s) in column(s) "
                                        f"{', '.join(get_column_letter(j) for j in blank)}.", table=title, row=1,
                                        fix="Give every column a name in row 1 (or delete the column)."))
                continue
            body = [[_text(c) for c in r[: len(header)]] + [math.nan] * (len(header) - len(r)) for r in rows[1:]]
            extra = [(i, r) for i, r in enumerate(rows[1:], start=2)
                     if any(c is not None and str(c).strip() != "" for c in r[len(header):])]
            for i, _ in extra[:20]:
                problems.append(Problem(where, f"row has values right of the last named column ({len(header)}).",
                                        table=title, row=i, fix="Name the column in row 1 or delete those values."))
            frames[title] = pd.DataFrame(body, columns=header, dtype=object)
    finally:
        wb.close()
    if problems:
        raise InstanceLoadError(problems, instance=str(path))
    return settings, frames, key_rows


def load_xlsx(path: str | Path) -> Instance:
    """Read and type-check an instance workbook (cross-table checks: :func:`optimizer.data.validate.validate`)."""
    t0 = time.perf_counter()
    path = Path(path)
    settings, frames, rows = _read_workbook(path)
    if "tables" in settings:
        raise InstanceLoadError([Problem(f"{path.name}[{SETTINGS_SHEET}]", "key 'tables' is not used in a workbook.",
                                         column="tables", fix="Delete that row: each table is a sheet.")])
    raw = {"name": path.stem, **settings, "tables": {}}
    wheres = {t: f"{path.name}[{t}]" for t in frames}
    sname = f"{path.name}[{SETTINGS_SHEET}]"
    try:
        return from_dict(raw, folder=None, yaml_name=sname, t0=t0, frames=frames, frame_origins=wheres,
                         path=path.parent)
    except InstanceError as exc:
        def numbered(p: Problem) -> Problem:
            key = (p.column or "").split(".")[0]
            if p.where == sname and p.row is None and key in rows:
                return replace(p, row=rows[key])
            return p

        raise type(exc)([numbered(p) for p in exc.problems], instance=exc.instance) from None


# ---------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------


def _typed(v: Any, kind: str) -> Any:
    """A CSV text cell as the Excel cell value: numbers for numeric columns, else text."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if kind in ("float", "int"):
        try:
            f = float(v)
        except (TypeError, ValueError):
            return v
        if math.isfinite(f):
            if f.is_integer() and abs(f) < 1e15 and "e" not in str(v).lower():
                return int(f)
            return f
    return v


def _yaml_text(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return yaml.safe_dump(v, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip()
    if isinstance(v, str):
        # keep strings that YAML would read as something else (numbers, booleans, nested) as quoted text
        try:
            parsed = yaml.safe_load(v) if v.strip() else None
        except yaml.YAMLError:
            parsed = None
        return v if parsed == v else yaml.safe_dump(v, default_style="'", allow_unicode=True, width=10_000).strip()
    return v


def folder_to_xlsx(src: str | Path, out: str | Path) -> Path:
    """Write the instance folder ``src`` (or its instance.yaml) as one workbook ``out``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    folder, yaml_file = _resolve_yaml_path(src)
    raw = read_yaml(yaml_file)
    # load first: only a valid folder is converted (the same messages as solve)
    from .instance import load

    load(src)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = SETTINGS_SHEET
    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
    ws.append(["key", "value"])
    for k, v in raw.items():
        if k == "tables":
            continue
        ws.append([k, _yaml_text(v)])
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 80
    tables = raw.get("tables") or {}
    for name, spec in TABLES.items():
        value = tables.get(name)
        if value is None and (folder / f"{name}.csv").is_file():
            value = f"{name}.csv"
        if value is None:
            continue
        if isinstance(value, str):
            df = pd.read_csv(folder / value, dtype=str, keep_default_na=False, na_values=[""], index_col=False,
                             encoding="utf-8-sig")
        else:
            df = pd.DataFrame([{str(k): (";".join(map(str, x)) if isinstance(x, list) else x) for k, x in r.items()}
                               for r in value])
        kinds = {c.name: c.kind for c in spec.columns}
        sh = wb.create_sheet(name)
        sh.append([str(c) for c in df.columns])
        for row in df.itertuples(index=False, name=None):
            sh.append([_typed(v, kinds.get(str(c), "str")) for c, v in zip(df.columns, row)])
        for c in sh[1]:
            c.font, c.fill = bold, fill
        for j, c in enumerate(df.columns, start=1):
            w = max([len(str(c)) + 2, *[min(len(str(v)) + 2, 50) for v in df.iloc[:200, j - 1].tolist()]])
            sh.column_dimensions[get_column_letter(j)].width = w
        sh.freeze_panes = "A2"
    wb.save(out)
    return out


def xlsx_to_folder(src: str | Path, out: str | Path) -> Path:
    """Write the workbook ``src`` as an instance folder ``out`` (instance.yaml + one CSV per table sheet)."""
    src, out = Path(src), Path(out)
    load_xlsx(src)  # only a valid workbook is converted
    settings, frames = read_workbook(src)
    out.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name in TABLES:
        if name not in frames:
            continue
        df = frames[name]
        df.to_csv(out / f"{name}.csv", index=False)
        tables[name] = f"{name}.csv"
    doc = {**settings, "tables": tables}
    (out / "instance.yaml").write_text(
        f"# Converted from {src.name} by 'optimizer convert xlsx'.\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    return out
