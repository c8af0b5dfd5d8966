"""Load an instance folder: safe YAML, paths kept inside the folder, typed tables.

Stage 1 of validation (structure and types) happens here: unknown keys and columns,
missing required columns or values, values that are not numbers/booleans/allowed
labels, out-of-range values and duplicate keys.  Every problem is collected and
raised together as one :class:`~optimizer.errors.InstanceError`.  Stage 2
(cross-table references) lives in :mod:`optimizer.data.validate`.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml
from pydantic import ValidationError

from ..errors import InstanceLoadError, InstanceValidationError, Problem
from .schema import TABLES, ColumnSpec, Settings, TableSpec

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Instance:
    """A loaded, type-checked instance.

    Attributes
    ----------
    settings:
        The parsed ``instance.yaml`` keys.
    tables:
        One DataFrame per table, typed, with defaults filled in.  Optional tables
        that were not given are empty frames with the right columns.
    path:
        Folder of the instance (``None`` for instances built in memory).
    origins:
        Where each table came from (file name, or ``instance.yaml`` for inline records).
    rows:
        Per table, the row number users see for each DataFrame row (CSV line or record number).
    load_seconds:
        Time spent reading and type-checking.
    """

    settings: Settings
    tables: dict[str, pd.DataFrame]
    path: Path | None = None
    origins: dict[str, str] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    load_seconds: float = 0.0

    @property
    def name(self) -> str:
        """Instance name: ``name`` from the YAML, else the folder name."""
        if self.settings.name:
            return self.settings.name
        return self.path.name if self.path is not None else "instance"

    def replace(self, **changes: Any) -> Instance:
        """Return a copy with some fields replaced (the instance itself is immutable)."""
        return replace(self, **changes)


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that also refuses duplicate keys (a silent overwrite hides typos)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            msg = f"duplicate key '{key}' at line {key_node.start_mark.line + 1}"
            raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _resolve_yaml_path(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        return p, p / "instance.yaml"
    if p.suffix in {".yaml", ".yml"}:
        return p.parent, p
    msg = f"'{p}' is neither an instance folder nor a YAML file."
    raise InstanceLoadError([Problem(str(p), msg, fix="Pass the instance folder or its instance.yaml.")])


def read_yaml(file: Path) -> dict[str, Any]:
    """Read a YAML mapping safely (no tags construct objects, duplicate keys refused)."""
    if not file.is_file():
        raise InstanceLoadError(
            [Problem(str(file), "file not found.", fix="Create it or pass the folder that holds instance.yaml.")]
        )
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise InstanceLoadError(
            [Problem(file.name, f"not valid YAML: {exc}", fix="Correct the YAML syntax; tags like !!python are not allowed.")]
        ) from None
    except UnicodeDecodeError:
        raise InstanceLoadError([Problem(file.name, "not UTF-8 text.", fix="Save the file as UTF-8.")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InstanceLoadError([Problem(file.name, "must hold a mapping of keys (name, tables, ...).")])
    return data


def _settings_problems(exc: ValidationError, where: str) -> list[Problem]:
    out = []
    tables_reported: set[str] = set()
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) >= 3 and loc[0] == "tables":
            if loc[1] not in tables_reported:
                tables_reported.add(str(loc[1]))
                out.append(Problem(where, f"must be a CSV path or a list of records (got {err.get('input')!r}).",
                                   column=f"tables.{loc[1]}", fix="Write e.g. 'plants: plants.csv' or a list of mappings."))
            continue
        key = ".".join(str(x) for x in loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            out.append(
                Problem(where, "unknown key.", column=key, fix=f"Remove it or correct its spelling; allowed: {allowed}.")
            )
        else:
            out.append(Problem(where, f"{err['msg']} (got {err.get('input')!r}).", column=key or None))
    return out


def _allowed_keys(loc: tuple[Any, ...]) -> str:
    model: Any = Settings
    for part in loc:
        fld = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if fld is None:
            break
        ann = fld.annotation
        model = ann if hasattr(ann, "model_fields") else None
    if model is None or not hasattr(model, "model_fields"):
        return "see the instance format in the README"
    return ", ".join(model.model_fields)


def _read_csv(folder: Path, rel: str, table: str, yaml_name: str, problems: list[Problem]) -> pd.DataFrame | None:
    rel_path = Path(rel)
    full = (folder / rel_path).resolve()
    if rel_path.is_absolute() or not full.is_relative_to(folder.resolve()):
        problems.append(
            Problem(yaml_name, f"path '{rel}' leaves the instance folder.", column=f"tables.{table}",
                    fix="Put the CSV inside the instance folder and give a relative path.")
        )
        return None
    if not full.is_file():
        problems.append(
            Problem(yaml_name, f"file '{rel}' not found.", column=f"tables.{table}",
                    fix=f"Create {rel} or correct the path.")
        )
        return None
    try:
        ragged = _ragged_lines(full)
        if ragged:
            for line, n_fields, n_header in ragged[:20]:
                problems.append(Problem(rel, f"line has {n_fields} fields but the header has {n_header}.", table=table,
                                        row=line, fix="Remove the extra commas or quote values that contain commas."))
            return None
        return pd.read_csv(full, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True,
                           index_col=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        problems.append(Problem(rel, "file is empty.", table=table, fix="Add a header row with the table's columns."))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        problems.append(Problem(rel, f"cannot be read as CSV: {exc}", table=table, fix="Save it as comma-separated UTF-8."))
    return None


def _ragged_lines(path: Path) -> list[tuple[int, int, int]]:
    """(line, fields, header fields) of CSV lines with more fields than the header."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        return [(reader.line_num, len(r), len(header)) for r in reader if len(r) > len(header)]


def _records_frame(records: list[Any], table: str, yaml_name: str, problems: list[Problem]) -> pd.DataFrame | None:
    bad = [i + 1 for i, r in enumerate(records) if not isinstance(r, dict)]
    if bad:
        if any(p.column == f"tables.{table}" for p in problems):
            return None
        problems.append(
            Problem(yaml_name, f"records {bad} are not mappings.", table=table, column=f"tables.{table}",
                    fix="Write each record as {column: value, ...}.")
        )
        return None

    def cell(v: Any) -> Any:
        if v is None:
            return math.nan
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return ";".join(str(x) for x in v)
        return str(v)

    return pd.DataFrame([{str(k): cell(v) for k, v in r.items()} for r in records])


def _parse_column(
    raw: pd.Series, spec: ColumnSpec, where: str, table: str, rows: pd.Series, problems: list[Problem]
) -> pd.Series:
    """Parse a column of strings into its type, recording cells that cannot be parsed."""
    s = raw.astype("string").str.strip()
    s = s.mask(s == "")
    present = s.notna()
    if spec.kind in {"id", "str"}:
        return s.astype(object).where(present, None)
    if spec.kind in {"float", "int"}:
        num = pd.to_numeric(s, errors="coerce").astype(float)
        bad = present & (num.isna() | ~num.map(math.isfinite).astype(bool))
        if spec.kind == "int":
            bad |= present & num.notna() & (num % 1 != 0)
        for i in s.index[bad]:
            problems.append(
                Problem(where, f"'{s[i]}' is not a finite number.", table=table, row=int(rows[i]), column=spec.name,
                        fix=f"Write a number ({spec.unit or 'no unit'}).")
            )
        return num.where(~bad)
    if spec.kind == "bool":
        low = s.str.lower()
        val = pd.Series(pd.NA, index=s.index, dtype="boolean")
        val[low.isin(_TRUE).fillna(False).astype(bool)] = True
        val[low.isin(_FALSE).fillna(False).astype(bool)] = False
        for i in s.index[present & val.isna()]:
            problems.append(
                Problem(where, f"'{s[i]}' is not a boolean.", table=table, row=int(rows[i]), column=spec.name,
                        fix="Write true or false.")
            )
        return val
    if spec.kind == "enum":
        lookup = {c.lower(): c for c in spec.choices}
        val = s.str.lower().map(lookup)
        for i in s.index[present & val.isna()]:
            problems.append(
                Problem(where, f"'{s[i]}' is not allowed.", table=table, row=int(rows[i]), column=spec.name,
                        fix=f"Use one of: {', '.join(spec.choices)}.")
            )
        return val.astype(object).where(present & val.notna(), None)
    # list: ';'-separated labels
    labels = [tuple(sorted({t.strip() for t in str(x).split(";") if t.strip()})) for x in s.fillna("")]
    return pd.Series(labels, index=s.index, dtype=object)


def _pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    cols = {}
    for c in spec.columns:
        checks = []
        if c.ge is not None:
            checks.append(pa.Check.ge(c.ge))
        if c.le is not None:
            checks.append(pa.Check.le(c.le))
        cols[c.name] = pa.Column(checks=checks, nullable=not c.required, required=False)
    return pa.DataFrameSchema(cols, unique=list(spec.key), report_duplicates="all")


_PA_SCHEMAS = {name: _pandera_schema(spec) for name, spec in TABLES.items()}
_CHECK_TEXT = {"greater_than_or_equal_to": ">=", "less_than_or_equal_to": "<="}


def _check_table(df: pd.DataFrame, spec: TableSpec, where: str, rows: pd.Series, problems: list[Problem]) -> None:
    """Range, required-value and duplicate-key checks (pandera, all failures collected)."""
    try:
        _PA_SCHEMAS[spec.name].validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        dup_rows: set[int] = set()
        for rec in fc.itertuples(index=False):
            check = str(rec.check)
            idx = rec.index
            row = int(rows[idx]) if idx is not None and not pd.isna(idx) else None
            col = rec.column if isinstance(rec.column, str) else None
            if "uniqueness" in check or "duplicates" in check:
                if idx is not None and not pd.isna(idx):
                    dup_rows.add(int(idx))
                continue
            if check == "not_nullable":
                if any(q.where == where and q.row == row and q.column == col for q in problems):
                    continue  # already reported as unparseable
                desc = spec.column(col).description if col else ""
                problems.append(Problem(where, "value is missing.", table=spec.name, row=row, column=col,
                                        fix=f"Fill in {col}: {desc}"))
                continue
            m = re.match(r"(\w+)\(([-\d.e+]+)\)", check)
            op = _CHECK_TEXT.get(m.group(1), m.group(1)) if m else check
            bound = m.group(2) if m else ""
            problems.append(Problem(where, f"{rec.failure_case!r} must be {op} {bound}.", table=spec.name, row=row,
                                    column=col, fix=f"Use a value {op} {bound}."))
        for key, grp in df.loc[sorted(dup_rows)].groupby(list(spec.key), dropna=False, sort=False):
            key_t = key if isinstance(key, tuple) else (key,)
            lines = [int(rows[i]) for i in grp.index]
            problems.append(
                Problem(where, f"duplicate key {dict(zip(spec.key, key_t))} on rows {lines}.", table=spec.name,
                        row=lines[-1], column=", ".join(spec.key), fix="Keep one row per key (merge or delete the others).")
            )


def _build_table(
    raw: pd.DataFrame, spec: TableSpec, where: str, inline: bool, problems: list[Problem]
) -> tuple[pd.DataFrame, np.ndarray] | None:
    raw = raw.rename(columns=lambda c: str(c).strip())
    offset = 1 if inline else 2  # CSV: header is line 1
    rows = pd.Series(range(offset, offset + len(raw)), index=raw.index)
    allowed = set(spec.names)
    n_before = len(problems)
    for col in raw.columns:
        if col not in allowed:
            problems.append(Problem(where, "unknown column.", table=spec.name, column=col,
                                    fix=f"Remove it or correct its spelling; allowed: {', '.join(spec.names)}."))
    for c in spec.columns:
        if c.required and c.name not in raw.columns:
            problems.append(Problem(where, "required column is missing.", table=spec.name, column=c.name,
                                    fix=f"Add column '{c.name}': {c.description}"))
    if len(problems) > n_before:
        return None
    out = pd.DataFrame(index=raw.index)
    for c in spec.columns:
        col = raw[c.name] if c.name in raw.columns else pd.Series(math.nan, index=raw.index, dtype=object)
        out[c.name] = _parse_column(col, c, where, spec.name, rows, problems)
    for extra in spec.allowed_extra:
        if extra in raw.columns:
            out[extra] = raw[extra].fillna("").astype(str)
    _check_table(out, spec, where, rows, problems)
    for c in spec.columns:
        if not c.required and c.default_from is None and c.default is not None:
            if c.kind == "list":
                continue
            out[c.name] = out[c.name].where(out[c.name].notna(), c.default)
        elif c.default_from is not None:
            out[c.name] = out[c.name].fillna(out[c.default_from])
    return out.reset_index(drop=True), rows.to_numpy()


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the columns of ``name``."""
    return pd.DataFrame({c.name: pd.Series(dtype=object if c.kind not in {"float", "int"} else float)
                         for c in TABLES[name].columns})


def load(path: str | Path) -> Instance:
    """Read and type-check an instance folder (or its ``instance.yaml``, or one ``.xlsx`` workbook).

    Raises
    ------
    InstanceLoadError
        A file is missing, unreadable, not valid YAML/CSV, or a path leaves the folder.
    InstanceValidationError
        Unknown keys or columns, missing values, wrong types, out-of-range values or
        duplicate keys; every problem found is listed.
    """
    t0 = time.perf_counter()
    if Path(path).suffix.lower() in (".xlsx", ".xlsm"):
        from .xlsx import load_xlsx

        return load_xlsx(path)
    folder, yaml_file = _resolve_yaml_path(path)
    raw = read_yaml(yaml_file)
    yaml_name = yaml_file.name
    return from_dict(raw, folder=folder, yaml_name=yaml_name, t0=t0)


def from_dict(raw: dict[str, Any], *, folder: Path | None = None, yaml_name: str = "instance.yaml",
              t0: float | None = None, frames: dict[str, pd.DataFrame] | None = None,
              frame_origins: dict[str, str] | None = None, path: Path | None = None) -> Instance:
    """Build an :class:`Instance` from an ``instance.yaml``-shaped mapping.

    CSV paths are resolved against ``folder``; inline records need no folder.
    ``frames`` are tables already read as text (the sheets of a workbook), named in
    problems by ``frame_origins`` and numbered like CSV lines (header = row 1);
    ``path`` is then the instance's location (default ``folder``).
    """
    workbook = frames is not None
    frames = frames or {}
    frame_origins = frame_origins or {}
    t0 = time.perf_counter() if t0 is None else t0
    problems: list[Problem] = []
    settings: Settings | None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_settings_problems(exc, yaml_name))
        settings = None
    given = raw.get("tables")
    tables_raw: dict[str, Any] = given if isinstance(given, dict) else {}
    for name in frames:
        if name not in TABLES:
            problems.append(Problem(frame_origins.get(name, name), f"unknown table '{name}'.",
                                    fix=f"Name each sheet after a table ({', '.join(TABLES)}) or start its name "
                                    "with '_' to keep it as notes."))
    for name in tables_raw:
        if name not in TABLES:
            problems.append(Problem(yaml_name, f"unknown table '{name}'.", column=f"tables.{name}",
                                    fix=f"Use one of: {', '.join(TABLES)}."))
    tables: dict[str, pd.DataFrame] = {}
    origins: dict[str, str] = {}
    row_numbers: dict[str, np.ndarray] = {}
    for name, spec in TABLES.items():
        value = tables_raw.get(name)
        if name in frames:
            df = frames[name]
            where = frame_origins.get(name, name)
            if df.empty and not len(df.columns):
                problems.append(Problem(where, "sheet is empty.", table=name,
                                        fix="Add a header row with the table's columns."))
                continue
            built = _build_table(df, spec, where, False, problems)
            if built is not None:
                tables[name], row_numbers[name] = built
                origins[name] = where
            continue
        if value is None and folder is not None and (folder / f"{name}.csv").is_file():
            value = f"{name}.csv"
        if value is None:
            if spec.required and workbook:
                problems.append(Problem(yaml_name.split("[")[0], f"required table '{name}' is not given.",
                                        table=name, fix=f"Add a sheet named '{name}' with the table's columns."))
            elif spec.required:
                problems.append(Problem(yaml_name, f"required table '{name}' is not given.", column=f"tables.{name}",
                                        fix=f"Add 'tables: {{{name}: {name}.csv}}' or inline records."))
            tables[name] = empty_table(name)
            origins[name] = yaml_name
            continue
        if isinstance(value, str):
            if folder is None:
                problems.append(Problem(yaml_name, "CSV paths need an instance folder.", column=f"tables.{name}"))
                continue
            df = _read_csv(folder, value, name, yaml_name, problems)
            where, inline = value, False
        elif isinstance(value, list) and not value:
            tables[name], row_numbers[name] = empty_table(name), np.zeros(0, dtype=int)
            origins[name] = f"{yaml_name} (tables.{name})"
            continue
        elif isinstance(value, list):
            df = _records_frame(value, name, yaml_name, problems)
            where, inline = f"{yaml_name} (tables.{name})", True
        else:
            continue  # reported by the settings model
        if df is None:
            continue
        built = _build_table(df, spec, where, inline, problems)
        if built is not None:
            tables[name], row_numbers[name] = built
            origins[name] = where
    if problems or settings is None:
        cls = InstanceLoadError if any("not found" in p.message or "cannot be read" in p.message for p in problems) else InstanceValidationError
        raise cls(problems, instance=str(folder) if folder else None)
    return Instance(settings=settings, tables=tables, path=folder if path is None else path, origins=origins,
                    rows=row_numbers, load_seconds=time.perf_counter() - t0)
