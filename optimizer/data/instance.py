"""Load an instance folder: safe YAML, paths kept inside the folder, typed tables.

Stage 1 of validation (structure and types) happens here: unknown keys and columns,
missing required columns or values, values that are not numbers/booleans/allowed
labels, out-of-range values and duplicate keys.  Every problem is collected and
raised together as one :class:`~optimizer.errors.InstanceError`.  Stage 2
(cross-table references) lives in :mod:`optimizer.data.validate`.
"""

from __future__ import annotations

import csv
import errno
import logging
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from ..errors import InstanceLoadError, InstanceValidationError, Problem, ProblemList, short_repr
from .schema import MAX_QUANTITY, MAX_RATE, TABLES, YEAR_COLUMNS, ColumnSpec, Settings, TableSpec

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
    defaulted:
        Per table, per column with a default taken from another column (``default_from``,
        e.g. plants.jobs_cut = headcount), a boolean array: True where the cell was empty
        and holds the copied default.  Scenarios use it so that changing the source column
        moves the default too.
    """

    settings: Settings
    tables: dict[str, pd.DataFrame]
    path: Path | None = None
    origins: dict[str, str] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    load_seconds: float = 0.0
    defaulted: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Instance name: ``name`` from the YAML, else the folder name."""
        if self.settings.name:
            return self.settings.name
        return self.path.name if self.path is not None else "instance"

    def replace(self, **changes: Any) -> Instance:
        """Return a copy with some fields replaced (the instance itself is immutable)."""
        return replace(self, **changes)


MAX_YAML_DEPTH = 100
"""Deepest nesting of YAML collections accepted (the composer recurses; 20,000 levels crash it)."""
MAX_YAML_VALUES = 1_000_000
"""Most values a YAML file may stand for once its aliases are expanded (an alias bomb stands for billions)."""


class _YamlLimit(yaml.YAMLError):
    """A YAML file over a size limit (nesting, expanded values, keys that are not scalars)."""


@dataclass(frozen=True)
class PartialInstance:
    """The tables of an instance that failed stage 1 which did pass it (attached to the error as ``partial``)."""

    tables: dict[str, pd.DataFrame]
    origins: dict[str, str]
    rows: dict[str, np.ndarray]


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that also refuses duplicate keys (a silent overwrite hides typos), keys that are
    collections, nesting deeper than ``MAX_YAML_DEPTH`` and aliases expanding past ``MAX_YAML_VALUES``."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                msg = f"nested more than {MAX_YAML_DEPTH} levels deep (line {mark.line + 1})"
                raise _YamlLimit(msg)
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:  # type: ignore[override]
        node = super().get_single_node()  # type: ignore[misc]
        if node is not None:
            _check_expansion(node)
        return node


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand to more than MAX_YAML_VALUES values (without expanding them)."""
    size: dict[int, int] = {}
    order: list[yaml.Node] = []
    stack: list[yaml.Node] = [root]
    seen: set[int] = set()
    while stack:  # iterative post-order over the node graph (a DAG: aliases share nodes)
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    for node in reversed(order):
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size.get(id(c), 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(size.get(id(k), 1) + size.get(id(v), 1) for k, v in node.value)
        else:
            n = 1
        if n > MAX_YAML_VALUES:
            msg = (f"its aliases (*name) expand to more than {MAX_YAML_VALUES:,} values (line {node.start_mark.line + 1}); "
                   "an alias bomb?")
            raise _YamlLimit(msg)
        size[id(node)] = n


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:  # '<<: *base' merges another mapping (its keys may be overridden)
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            msg = f"a key is a {kind} (line {key_node.start_mark.line + 1}); keys must be names or numbers"
            raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            msg = f"duplicate key {short_repr(key)} at line {key_node.start_mark.line + 1}"
            raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
        seen.add(key)
    out = loader.construct_mapping(node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _path_problem(where: str, path: Any, exc: BaseException, column: str | None = None) -> Problem:
    """A clear problem for a path the OS cannot use (NUL byte, name too long, symlink loop, ...)."""
    text = str(path)
    shown = short_repr(text) if len(text) > 80 or "\x00" in text else f"'{text}'"
    if "\x00" in text or isinstance(exc, ValueError):
        why, fix = "contains a NUL byte (\\x00)", "Remove the NUL character from the path."
    elif isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        why, fix = "is a symbolic link loop", "Point the link at a real file."
    elif getattr(exc, "errno", None) == errno.ENAMETOOLONG:
        why, fix = "is too long for the file system", "Use a shorter file name (at most 255 characters per name)."
    else:
        why, fix = f"cannot be opened ({getattr(exc, 'strerror', None) or type(exc).__name__})", \
            "Check the path and its permissions."
    return Problem(where, f"path {shown} {why}.", column=column, fix=fix)


def _resolve_yaml_path(path: str | Path) -> tuple[Path, Path]:
    if "\x00" in str(path):
        raise InstanceLoadError([_path_problem("instance path", path, ValueError("NUL"))])
    try:
        p = Path(path)
        if p.is_dir():
            return p, p / "instance.yaml"
    except (OSError, ValueError) as exc:
        raise InstanceLoadError([_path_problem(str(path), path, exc)]) from None
    if p.suffix in {".yaml", ".yml"}:
        return p.parent, p
    msg = f"'{p}' is neither an instance folder nor a YAML file."
    raise InstanceLoadError([Problem(str(p), msg, fix="Pass the instance folder or its instance.yaml.")])


def read_yaml(file: Path) -> dict[str, Any]:
    """Read a YAML mapping safely (no tags construct objects, duplicate keys refused)."""
    try:
        if not file.is_file():
            raise InstanceLoadError(
                [Problem(str(file), "file not found.", fix="Create it or pass the folder that holds instance.yaml.")]
            )
        text = file.read_text(encoding="utf-8")
    except (OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise InstanceLoadError([Problem(file.name, "not UTF-8 text.", fix="Save the file as UTF-8.")]) from None
        raise InstanceLoadError([_path_problem(str(file), file, exc)]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _YamlLimit as exc:
        raise InstanceLoadError([Problem(file.name, f"YAML too large or too deep: {exc}.",
                                         fix="Write the values out plainly; nest at most "
                                             f"{MAX_YAML_DEPTH} levels.")]) from None
    except yaml.YAMLError as exc:
        text_exc = str(exc)
        if len(text_exc) > 2000:
            text_exc = text_exc[:2000] + " ..."
        raise InstanceLoadError(
            [Problem(file.name, f"not valid YAML: {text_exc}",
                     fix="Correct the YAML syntax; tags like !!python are not allowed.")]
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InstanceLoadError([Problem(file.name, f"a value cannot be read: {short_repr(str(exc))}.",
                                         fix="Write numbers with at most 4,300 digits (or as 1.5e12).")]) from None
    except RecursionError:
        raise InstanceLoadError([Problem(file.name, "YAML nested too deeply.",
                                         fix=f"Nest at most {MAX_YAML_DEPTH} levels.")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InstanceLoadError([Problem(file.name, "must hold a mapping of keys (name, tables, ...).")])
    return data


_RULE_KEYS = ("plants_kept", "capacity_kept", "min_jobs_cut", "co2_cap")


def settings_key(loc: tuple[Any, ...], raw: Any = None) -> str:
    """Dotted key of a pydantic error location; rule lists read ``plants_kept[2].max`` (1-based).

    A rule key given as one mapping or number (not a list) is named without an index.
    """
    parts: list[str] = []
    for i, x in enumerate(loc):
        if isinstance(x, int) and i == 1 and loc[0] in _RULE_KEYS:
            if isinstance(raw, dict) and not isinstance(raw.get(loc[0]), list):
                continue
            parts[-1] += f"[{x + 1}]"
            continue
        parts.append(str(x))
    return ".".join(parts)


def _settings_problems(exc: ValidationError, where: str, raw: Any = None) -> list[Problem]:
    out = []
    tables_reported: set[str] = set()
    for err in exc.errors():
        loc = err["loc"]
        if len(loc) >= 3 and loc[0] == "tables":
            if loc[1] not in tables_reported:
                tables_reported.add(str(loc[1]))
                out.append(Problem(where, f"must be a CSV path or a list of records (got {short_repr(err.get('input'))}).",
                                   column=f"tables.{loc[1]}", fix="Write e.g. 'plants: plants.csv' or a list of mappings."))
            continue
        key = settings_key(tuple(loc), raw)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            out.append(
                Problem(where, "unknown key.", column=key, fix=f"Remove it or correct its spelling; allowed: {allowed}.")
            )
        else:
            out.append(Problem(where, f"{err['msg']} (got {short_repr(err.get('input'))}).", column=key or None))
    return out


def _allowed_keys(loc: tuple[Any, ...]) -> str:
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a rule list
        fld = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if fld is None:
            break
        ann = fld.annotation
        # unwrap list[X] and X | None
        cands = [ann, *getattr(ann, "__args__", ())]
        model = next((c for c in cands if hasattr(c, "model_fields")), None)
    if model is None or not hasattr(model, "model_fields"):
        return "see the instance format in the README"
    return ", ".join(model.model_fields)


def _read_csv(folder: Path, rel: str, table: str, yaml_name: str, problems: list[Problem]) -> pd.DataFrame | None:
    col = f"tables.{table}"
    try:
        rel_path = Path(rel)
        full = (folder / rel_path).resolve()
        outside = rel_path.is_absolute() or not full.is_relative_to(folder.resolve())
        exists = full.is_file()
    except (OSError, ValueError, RuntimeError) as exc:  # NUL byte, name too long, symlink loop
        problems.append(_path_problem(yaml_name, rel, exc, column=col))
        return None
    if outside:
        problems.append(
            Problem(yaml_name, f"path '{rel}' leaves the instance folder.", column=col,
                    fix="Put the CSV inside the instance folder and give a relative path.")
        )
        return None
    if not exists:
        problems.append(
            Problem(yaml_name, f"file '{rel}' not found.", column=col,
                    fix=f"Create {rel} or correct the path.")
        )
        return None
    try:
        ragged = _ragged_lines(full)
        if isinstance(ragged, str):
            problems.append(Problem(rel, ragged, table=table, fix="Save it as comma-separated UTF-8."))
            return None
        if ragged:
            for line, n_fields, n_header in ragged[:20]:
                problems.append(Problem(rel, f"line has {n_fields} fields but the header has {n_header}.", table=table,
                                        row=line, fix="Remove the extra commas or quote values that contain commas."))
            return None
        df = pd.read_csv(full, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True,
                         index_col=False, encoding="utf-8-sig")
        semi = _semicolon_header(df, TABLES[table])
        if semi:
            problems.append(Problem(rel, f"the file looks ';'-separated (header {semi}).", table=table,
                                    fix="Save it with commas between columns (in Excel: 'CSV UTF-8 (Comma delimited)'), "
                                        "with '.' as the decimal point."))
            return None
        return df
    except pd.errors.EmptyDataError:
        problems.append(Problem(rel, "file is empty.", table=table, fix="Add a header row with the table's columns."))
    except _CellTooLong as exc:
        problems.append(Problem(rel, f"a cell is longer than {csv.field_size_limit():,} characters.", table=table,
                                row=exc.line, fix="Shorten the cell (is a quote character left open?)."))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, csv.Error) as exc:
        problems.append(Problem(rel, f"cannot be read as CSV: {short_repr(str(exc))}", table=table,
                                fix="Save it as comma-separated UTF-8."))
    return None


class _CellTooLong(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _semicolon_header(df: pd.DataFrame, spec: TableSpec) -> str | None:
    """The header text, when a one-column header is really ';'-separated column names of the table."""
    if len(df.columns) != 1 or ";" not in str(df.columns[0]):
        return None
    names = [c.strip() for c in str(df.columns[0]).split(";")]
    return short_repr(str(df.columns[0])) if set(names) & set(spec.names) else None


def _ragged_lines(path: Path) -> list[tuple[int, int, int]] | str:
    """(line, fields, header fields) of CSV lines with more fields than the header.

    Raises :class:`_CellTooLong` for a cell over the csv module's field limit.
    """
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, [])
            return [(reader.line_num, len(r), len(header)) for r in reader if len(r) > len(header)]
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise _CellTooLong(reader.line_num) from None
            if "NUL" in str(exc) or "null byte" in str(exc):
                return f"line {reader.line_num + 1} holds a NUL byte: not a text CSV file."
            return f"cannot be read as CSV: {short_repr(str(exc))}"


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


def _capped(index: pd.Index, problems: list[Problem]) -> pd.Index:
    """The part of ``index`` a capped problem list still keeps; the rest is only counted."""
    room = problems.room() if isinstance(problems, ProblemList) else len(index)
    if len(index) > room:
        problems.count_more(len(index) - room)  # type: ignore[attr-defined]
        return index[:room]
    return index


def _parse_column(
    raw: pd.Series, spec: ColumnSpec, where: str, table: str, rows: pd.Series, problems: list[Problem]
) -> tuple[pd.Series, pd.Series]:
    """Parse a column of strings into its type, recording cells that cannot be parsed.

    Returns the parsed column and whether each cell holds a value (not empty once stripped).
    """
    s = raw.astype("string").str.strip()
    present = s.str.len().fillna(0).to_numpy() > 0
    given = pd.Series(present, index=s.index)
    if spec.kind in {"id", "str"}:
        return pd.Series(np.where(present, s.to_numpy(dtype=object, na_value=None), None), index=s.index,
                         dtype=object), given
    if spec.kind in {"float", "int", "year"}:
        num = pd.to_numeric(s.where(present), errors="coerce")
        v = np.asarray(num.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        finite = np.isfinite(v)
        bad = present & ~finite
        if spec.kind == "int":
            bad |= present & finite & (np.mod(v, 1, where=finite, out=np.zeros_like(v)) != 0)
        for i in _capped(s.index[bad], problems):
            problems.append(
                Problem(where, f"{short_repr(s[i])} is not a finite number.", table=table, row=int(rows[i]), column=spec.name,
                        fix=f"Write a number ({spec.unit or 'no unit'}).")
            )
        if spec.kind in {"int", "year"}:
            frac = present & ~bad & (np.mod(v, 1, where=finite, out=np.zeros_like(v)) != 0)
            what = "a whole year" if spec.kind == "year" else "an integer"
            for i in s.index[frac]:
                problems.append(
                    Problem(where, f"'{s[i]}' is not {what}.", table=table, row=int(rows[i]), column=spec.name,
                            fix=f"Write {what} (e.g. 2027)." if spec.kind == "year" else f"Write {what}.")
                )
            bad |= frac
        return pd.Series(np.where(bad | ~present, np.nan, v), index=s.index), given
    s = s.mask(~present)
    if spec.kind == "bool":
        low = s.str.lower()
        val = pd.Series(pd.NA, index=s.index, dtype="boolean")
        val[low.isin(_TRUE).fillna(False).astype(bool)] = True
        val[low.isin(_FALSE).fillna(False).astype(bool)] = False
        for i in _capped(s.index[present & val.isna().to_numpy()], problems):
            problems.append(
                Problem(where, f"{short_repr(s[i])} is not a boolean.", table=table, row=int(rows[i]), column=spec.name,
                        fix="Write true or false.")
            )
        return val, given
    if spec.kind == "enum":
        lookup = {c.lower(): c for c in spec.choices}
        val = s.str.lower().map(lookup)
        for i in _capped(s.index[present & val.isna().to_numpy()], problems):
            problems.append(
                Problem(where, f"{short_repr(s[i])} is not allowed.", table=table, row=int(rows[i]), column=spec.name,
                        fix=f"Use one of: {', '.join(spec.choices)}.")
            )
        return val.astype(object).where(present & val.notna().to_numpy(), None), given
    # list: ';'-separated labels
    labels = [tuple(sorted({t.strip() for t in str(x).split(";") if t.strip()})) for x in s.fillna("")]
    return pd.Series(labels, index=s.index, dtype=object), given


def _pandera_schema(spec: TableSpec) -> Any:
    import pandera.pandas as pa  # heavy: loaded when a table is first checked

    cols = {}
    for c in spec.columns:
        checks = []
        if c.ge is not None:
            checks.append(pa.Check.ge(c.ge))
        if c.gt is not None:
            checks.append(pa.Check.gt(c.gt))
        if c.le is not None:
            checks.append(pa.Check.le(c.le))
        cols[c.name] = pa.Column(checks=checks, nullable=not c.required, required=False)
    # tables with year ranges check their keys in _check_key_ranges (rows of one key may repeat)
    unique = None if _has_ranges(spec) else list(spec.key)
    return pa.DataFrameSchema(cols, unique=unique, report_duplicates="all")


def _has_ranges(spec: TableSpec) -> bool:
    names = {c.name for c in spec.columns}
    return all(y in names for y in YEAR_COLUMNS)


def _fmt_range(lo: float, hi: float) -> str:
    a = "open" if math.isnan(lo) else f"{lo:.0f}"
    b = "open" if math.isnan(hi) else f"{hi:.0f}"
    return a if a == b and a != "open" else f"{a}..{b}"


def _check_key_ranges(df: pd.DataFrame, spec: TableSpec, where: str, rows: pd.Series, problems: list[Problem]) -> None:
    """Rows of one key must have non-overlapping [from_year, to_year] ranges (empty = open-ended).

    Also: to_year before from_year.  Two rows of one key without any year are reported
    as a duplicate key (as in v1); overlapping ranges name both rows and the years.
    """
    lo = df["from_year"].astype(float)
    hi = df["to_year"].astype(float)
    for i in df.index[(lo > hi).fillna(False)]:
        problems.append(Problem(where, f"to_year ({hi[i]:.0f}) is before from_year ({lo[i]:.0f}).", table=spec.name,
                                row=int(rows[i]), column="to_year", fix="Make from_year <= to_year (both inclusive)."))
    key = list(spec.key)
    dup = df.duplicated(key, keep=False) & ~(lo > hi).fillna(False)
    if not dup.any():
        return
    sub = df.loc[dup, key].copy()
    sub["_lo"] = lo[dup].fillna(-math.inf)
    sub["_hi"] = hi[dup].fillna(math.inf)
    # vectorised screen: sorted by start within each key, a row overlaps when it starts before the
    # latest end seen so far; only keys with an overlap are examined row by row below
    sub["_g"] = sub.groupby(key, dropna=False, sort=False).ngroup()
    srt = sub.sort_values(["_g", "_lo", "_hi"], kind="stable")
    reach = srt.groupby("_g")["_hi"].cummax().groupby(srt["_g"]).shift()
    bad_groups = set(srt.loc[(srt["_lo"] <= reach).fillna(False), "_g"])
    sub = sub[sub["_g"].isin(bad_groups)]
    for kval, grp in sub.drop(columns="_g").groupby(key, dropna=False, sort=False):
        key_t = kval if isinstance(kval, tuple) else (kval,)
        kd = dict(zip(spec.key, key_t))
        if np.isinf(grp["_lo"]).all() and np.isinf(grp["_hi"]).all():
            lines = [int(rows[i]) for i in grp.index]
            problems.append(Problem(where, f"duplicate key {kd} on rows {lines}.", table=spec.name, row=lines[-1],
                                    column=", ".join(spec.key),
                                    fix="Keep one row per key (merge or delete the others), or give the rows "
                                        "from_year/to_year ranges that do not overlap."))
            continue
        g = grp.sort_values(["_lo", "_hi"], kind="stable")
        reach_i = None
        for i, r_lo, r_hi in zip(g.index, g["_lo"], g["_hi"]):
            if reach_i is not None and r_lo <= sub.at[reach_i, "_hi"]:
                a, b = sorted((int(rows[reach_i]), int(rows[i])))
                ov_lo = max(r_lo, sub.at[reach_i, "_lo"])
                ov_hi = min(r_hi, sub.at[reach_i, "_hi"])
                span = _fmt_range(ov_lo if math.isfinite(ov_lo) else math.nan, ov_hi if math.isfinite(ov_hi) else math.nan)
                problems.append(Problem(
                    where, f"rows {a} and {b} have the same key {kd} and overlapping year ranges "
                    f"({_fmt_range(lo[reach_i], hi[reach_i])} and {_fmt_range(lo[i], hi[i])}; both apply in {span}).",
                    table=spec.name, row=b, column="from_year, to_year",
                    fix=f"Change from_year/to_year of row {a} or row {b} so that at most one row of this key applies "
                        "in each year (both years are inclusive; empty = open-ended)."))
            if reach_i is None or r_hi > sub.at[reach_i, "_hi"]:
                reach_i = i


_PA_SCHEMAS: dict[str, Any] = {}
_CHECK_TEXT = {"greater_than_or_equal_to": ">=", "less_than_or_equal_to": "<=", "greater_than": ">",
               "less_than": "<"}


def _passes_checks(df: pd.DataFrame, spec: TableSpec) -> bool:
    """True only if the table passes every check of :func:`_pandera_schema` (a vectorised screen).

    Required values present, numeric columns within their ge/gt/le bounds (missing values
    skipped, as pandera does), the key unique.  Anything it cannot judge (a non-numeric
    column under a range check) counts as failing, so that pandera then reports it.
    """
    for c in spec.columns:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        na = s.isna().to_numpy()
        if c.required and na.any():
            return False
        if c.ge is None and c.gt is None and c.le is None:
            continue
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            return False
        v = s.to_numpy(dtype=float)[~na]
        with np.errstate(invalid="ignore"):
            if (c.ge is not None and not (v >= c.ge).all()) or (c.gt is not None and not (v > c.gt).all()) \
                    or (c.le is not None and not (v <= c.le).all()):
                return False
    if not _has_ranges(spec):
        key = [k for k in spec.key if k in df.columns]
        if key and df.duplicated(key).any():
            return False
    return True


def _check_table(df: pd.DataFrame, spec: TableSpec, where: str, rows: pd.Series, problems: list[Problem],
                 given: dict[str, pd.Series] | None = None) -> None:
    """Range, required-value and duplicate-key checks (pandera, all failures collected).

    A clean table (:func:`_passes_checks`, vectorised) skips pandera, which is then not even
    imported: pandera runs only to name what fails.
    """
    if _passes_checks(df, spec):
        return
    import pandera.pandas as pa

    if spec.name not in _PA_SCHEMAS:
        _PA_SCHEMAS[spec.name] = _pandera_schema(spec)
    try:
        _PA_SCHEMAS[spec.name].validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        if given is not None:  # a missing value where one was given: already reported as unparseable
            def was_given(rec: Any) -> bool:
                g = given.get(rec.column) if isinstance(rec.column, str) else None
                return g is not None and rec.index is not None and not pd.isna(rec.index) and bool(g.get(rec.index, False))
            nn = fc["check"].astype(str).eq("not_nullable")
            if nn.any():
                drop = pd.Series([was_given(r) for r in fc[nn].itertuples(index=False)], index=fc.index[nn])
                fc = fc.drop(index=drop.index[drop.to_numpy(dtype=bool)])
        is_dup = fc["check"].astype(str).str.contains("uniqueness|duplicates")
        other = fc[~is_dup]
        room = problems.room() if isinstance(problems, ProblemList) else len(other)
        if len(other) > room:
            problems.count_more(len(other) - room)  # type: ignore[attr-defined]
            other = other.iloc[:room]
        fc = pd.concat([fc[is_dup], other])
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
                if given is not None and col in given and idx is not None and bool(given[col].get(idx, False)):
                    continue  # a value was given: already reported as unparseable
                desc = spec.column(col).description if col else ""
                problems.append(Problem(where, "value is missing.", table=spec.name, row=row, column=col,
                                        fix=f"Fill in {col}: {desc}"))
                continue
            m = re.match(r"(\w+)\(([-\d.e+]+)\)", check)
            op = _CHECK_TEXT.get(m.group(1), m.group(1)) if m else check
            bound = m.group(2) if m else ""
            why = ""
            if op == "<=" and col and spec.column(col).le in (MAX_QUANTITY, MAX_RATE):
                why = (" (the largest figure accepted: larger numbers exceed what the solver HiGHS can represent "
                       "exactly once multiplied by the horizon and rates)")
            shown = f"{rec.failure_case:g}" if isinstance(rec.failure_case, float) else repr(rec.failure_case)
            problems.append(Problem(where, f"{shown} must be {op} {float(bound):g}{why}.", table=spec.name, row=row,
                                    column=col, fix=f"Use a value {op} {float(bound):g}, e.g. in thousands."
                                    if why else f"Use a value {op} {bound}."))
        for key, grp in df.loc[sorted(dup_rows)].groupby(list(spec.key), dropna=False, sort=False):
            key_t = key if isinstance(key, tuple) else (key,)
            lines = [int(rows[i]) for i in grp.index]
            problems.append(
                Problem(where, f"duplicate key {dict(zip(spec.key, key_t))} on rows {lines}.", table=spec.name,
                        row=lines[-1], column=", ".join(spec.key), fix="Keep one row per key (merge or delete the others).")
            )


def _build_table(
    raw: pd.DataFrame, spec: TableSpec, where: str, inline: bool, problems: list[Problem]
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]] | None:
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
    parsed: dict[str, pd.Series] = {}
    given: dict[str, pd.Series] = {}
    for c in spec.columns:
        col = raw[c.name] if c.name in raw.columns else pd.Series(math.nan, index=raw.index, dtype=object)
        parsed[c.name], present = _parse_column(col, c, where, spec.name, rows, problems)
        if c.name in raw.columns:
            given[c.name] = present
    for extra in spec.allowed_extra:
        if extra in raw.columns:
            parsed[extra] = raw[extra].fillna("").astype(str)
    out = pd.DataFrame(parsed, index=raw.index)
    _check_table(out, spec, where, rows, problems, given)
    if _has_ranges(spec) and not any(q.where == where and q.column in YEAR_COLUMNS for q in problems[n_before:]):
        _check_key_ranges(out, spec, where, rows, problems)
    defaulted: dict[str, np.ndarray] = {}
    for c in spec.columns:
        if not c.required and c.default_from is None and c.default is not None:
            if c.kind == "list":
                continue
            out[c.name] = out[c.name].where(out[c.name].notna(), c.default)
        elif c.default_from is not None:
            defaulted[c.name] = out[c.name].isna().to_numpy()
            out[c.name] = out[c.name].fillna(out[c.default_from])
    return out.reset_index(drop=True), rows.to_numpy(), defaulted


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the columns of ``name``."""
    return pd.DataFrame({c.name: pd.Series(dtype=object if c.kind not in {"float", "int", "year"} else float)
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
    problems: list[Problem] = ProblemList()
    settings: Settings | None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_settings_problems(exc, yaml_name, raw))
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
    defaulted: dict[str, dict[str, np.ndarray]] = {}
    failed: set[str] = set()
    for name, spec in TABLES.items():
        value = tables_raw.get(name)
        if name in frames:
            df, where, inline = frames[name], frame_origins.get(name, name), False
            if df.empty and not len(df.columns):
                problems.append(Problem(where, "sheet is empty.", table=name,
                                        fix="Add a header row with the table's columns."))
                continue
        else:
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
        n_before = len(problems) + getattr(problems, "dropped", 0)
        built = _build_table(df, spec, where, inline, problems)
        if built is not None:
            tables[name], row_numbers[name], defaulted[name] = built
            origins[name] = where
            if len(problems) + getattr(problems, "dropped", 0) > n_before:
                failed.add(name)
    if problems or settings is None:
        cls = InstanceLoadError if any("not found" in p.message or "cannot be read" in p.message for p in problems) else InstanceValidationError
        exc = cls(problems, instance=str(folder) if folder else None)
        # The tables that passed stage 1, so that stage 2 can still check them (see validate.load_checked).
        exc.partial = PartialInstance(tables={k: v for k, v in tables.items() if k not in failed},  # type: ignore[attr-defined]
                                      origins=origins, rows=row_numbers)
        raise exc
    return Instance(settings=settings, tables=tables, path=folder if path is None else path, origins=origins,
                    rows=row_numbers, defaulted=defaulted,
                    load_seconds=time.perf_counter() - t0)
