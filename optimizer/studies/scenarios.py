"""Scenarios: named, documented overrides applied to a validated base instance.

A scenario never edits files and never mutates the base :class:`~optimizer.Instance`:
:func:`apply_scenario` returns a *new*, fully re-validated instance plus a log of what
changed (``AppliedScenario.changes``), e.g.
``tariffs[origin=CN, market.region=EU].ad_valorem (+0.2): 0.1 -> 0.3 (3 rows)``.

Where scenarios are defined
    * under ``scenarios:`` in ``instance.yaml``;
    * in a separate YAML file (``scenarios.yaml`` next to ``instance.yaml`` is read
      automatically) holding ``scenarios: {name: {...}}`` and optional
      ``description`` / ``sources``.
    A name defined in both places is an input error. ``base`` is reserved (= no change).

One scenario::

    eu_duty_up:
      description: EU adds 20 points of duty on China-built EVs
      extends: other_scenario            # optional: apply that one first
      settings:                          # instance.yaml keys (subset, see SETTINGS_KEYS)
        plants_kept: {max: 11}           # mappings (plants_kept, solver) are merged key by key
        min_jobs_cut: 20000
      changes:                           # applied in file order
        - table: tariffs
          where: {origin: CN, market.region: EU, powertrain: [BEV, PHEV]}
          add: {ad_valorem: 0.20}
        - table: markets
          where: {region: SEA}
          add: {banned_software_origins: CN}      # list column: union
        - table: demand
          where: {market.region: Gulf}
          scale: {max_units: 0.7, min_units: 0.7}
        - table: tariffs
          add_rows: [{origin: CN, market: BR, powertrain: "*", ad_valorem: 0.35}]
        - table: plants
          where: {plant: Oppama}
          set: {status: close}
      fix_software:                      # decisions fixed in the model (w variables)
        - {model: N7, stack: alt-us, developed: true}

Precedence (later wins): base instance -> the ``extends`` chain (root first) -> the
scenario's own ``settings`` -> its ``changes`` in file order -> overrides given by the
caller (batch job ``settings``/``solver``, sweep parameters). Within one scenario a
table cell or a setting may be changed only once (an error otherwise); a child
scenario may change what its parent changed.

Filters (``where``): ``column: value`` (equality) or ``column: [v1, v2]`` (any of);
several keys = all must hold; no ``where`` = every row. A column may be one of the
table's own columns, or a column of a referenced table through the id column:
``plant.<col>`` (production, freight -> plants), ``model.<col>`` (production,
software, demand -> models), ``market.<col>`` (demand, freight, tariffs -> markets).
Tariff rows whose ``market`` is the wildcard ``*`` have no market attributes, so a
``market.<col>`` filter never selects them. On the list column
``banned_software_origins`` a filter value matches rows whose list contains it.
Each filter value must occur in that column of the table, and the whole filter must
select at least one row; otherwise the scenario is an input error.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..errors import InstanceError, InstanceValidationError, Problem
from ..data.instance import Instance, from_dict, read_yaml
from ..data.schema import TABLES, Settings
from ..data.validate import validate

__all__ = [
    "BASE",
    "SETTINGS_KEYS",
    "AppliedScenario",
    "Scenario",
    "apply_scenario",
    "build_scenario",
    "load_scenarios",
    "parse_scenarios",
    "resolve_chain",
    "solve_scenario",
]

BASE = "base"
"""Reserved scenario name: the base instance, unchanged."""

SETTINGS_KEYS = ("plants_kept", "capacity_kept", "min_jobs_cut", "solver", "horizon_years", "discount_rate", "duty_basis",
                 "single_sourcing")
"""``instance.yaml`` keys a scenario (or a batch job) may change."""

_MERGED_KEYS = ("plants_kept", "solver")
SCENARIO_KEYS = ("description", "extends", "settings", "changes", "fix_software", "sources", "note")
CHANGE_KEYS = ("table", "where", "set", "scale", "add", "add_rows", "remove", "note")
FILE_KEYS = ("description", "sources", "scenarios")
OPS = ("set", "scale", "add")

JOINS: dict[str, dict[str, str]] = {
    "production": {"plant": "plants", "model": "models"},
    "freight": {"plant": "plants", "market": "markets"},
    "software": {"model": "models"},
    "demand": {"model": "models", "market": "markets"},
    "tariffs": {"market": "markets"},
}
"""Per table: id column -> the table it references (usable as ``<id>.<column>`` in filters)."""

DEFAULT_FILE = "scenarios.yaml"


# ---------------------------------------------------------------------------
# definitions
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One scenario definition, structure-checked (values are checked when applied)."""

    name: str
    description: str = ""
    extends: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    changes: tuple[Mapping[str, Any], ...] = ()
    fix_software: tuple[Mapping[str, Any], ...] = ()
    where: str = DEFAULT_FILE
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The definition as a plain mapping (what the YAML holds)."""
        return copy.deepcopy(dict(self.raw))


@dataclass(frozen=True)
class AppliedScenario:
    """A scenario applied to a base instance.

    Attributes
    ----------
    instance:
        The new, re-validated instance.
    name:
        Scenario name (``base`` for none).
    changes:
        Human-readable log of every change, in the order applied.
    fix_software:
        (model, stack) -> developed, decisions to fix when building the model.
    threads_set:
        True when the scenario or the caller's overrides set ``solver.threads``.
    """

    instance: Instance
    name: str = BASE
    changes: tuple[str, ...] = ()
    fix_software: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    threads_set: bool = False
    warnings: tuple[Problem, ...] = ()


def _p(where: str, scenario: str | None, message: str, column: str | None = None, fix: str | None = None,
       table: str | None = None) -> Problem:
    head = f"scenario '{scenario}': " if scenario else ""
    return Problem(where, head + message, table=table, column=column, fix=fix)


def parse_scenarios(raw: Mapping[str, Any], where: str = DEFAULT_FILE) -> dict[str, Scenario]:
    """Check the structure of ``{name: definition}`` and return the scenarios.

    Raises :class:`InstanceValidationError` listing every problem (``where`` names the file).
    """
    problems: list[Problem] = []
    out: dict[str, Scenario] = {}
    if not isinstance(raw, Mapping):
        raise InstanceValidationError([Problem(where, "'scenarios' must be a mapping of name -> definition.")])
    for name, body in raw.items():
        name = str(name)
        if name == BASE:
            problems.append(_p(where, name, "the name 'base' is reserved for the unchanged instance.",
                               column=f"scenarios.{name}", fix="Rename the scenario."))
            continue
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            problems.append(_p(where, name, "definition must be a mapping (description, settings, changes, ...).",
                               column=f"scenarios.{name}"))
            continue
        n0 = len(problems)
        for k in body:
            if k not in SCENARIO_KEYS:
                problems.append(_p(where, name, f"unknown key '{k}'.", column=f"scenarios.{name}.{k}",
                                   fix=f"Use: {', '.join(SCENARIO_KEYS)}."))
        settings = body.get("settings") or {}
        if not isinstance(settings, Mapping):
            problems.append(_p(where, name, "'settings' must be a mapping.", column=f"scenarios.{name}.settings"))
            settings = {}
        for k in settings:
            if k not in SETTINGS_KEYS:
                problems.append(_p(where, name, f"setting '{k}' cannot be changed by a scenario.",
                                   column=f"scenarios.{name}.settings.{k}", fix=f"Use one of: {', '.join(SETTINGS_KEYS)}."))
        changes = body.get("changes") or []
        if not isinstance(changes, list):
            problems.append(_p(where, name, "'changes' must be a list.", column=f"scenarios.{name}.changes"))
            changes = []
        for i, ch in enumerate(changes, 1):
            problems += _change_structure(ch, where, name, i)
        fixes = body.get("fix_software") or []
        if not isinstance(fixes, list):
            problems.append(_p(where, name, "'fix_software' must be a list of {model, stack, developed}.",
                               column=f"scenarios.{name}.fix_software"))
            fixes = []
        for i, fx in enumerate(fixes, 1):
            col = f"scenarios.{name}.fix_software[{i}]"
            if not isinstance(fx, Mapping) or set(fx) != {"model", "stack", "developed"} \
                    or not isinstance(fx.get("developed"), bool):
                problems.append(_p(where, name, f"fix_software item {i} must be {{model: M, stack: S, developed: true|false}}.",
                                   column=col))
        ext = body.get("extends")
        if ext is not None and not isinstance(ext, str):
            problems.append(_p(where, name, "'extends' must be a scenario name.", column=f"scenarios.{name}.extends"))
        if len(problems) > n0:
            continue
        out[name] = Scenario(name=name, description=str(body.get("description") or ""), extends=ext,
                             settings=dict(settings), changes=tuple(changes), fix_software=tuple(fixes), where=where,
                             raw=dict(body))
    for name, sc in out.items():
        if sc.extends is not None and sc.extends not in out and sc.extends != BASE:
            problems.append(_p(where, name, f"extends unknown scenario '{sc.extends}'.",
                               column=f"scenarios.{name}.extends", fix=f"Use one of: {', '.join(out) or '(none)'}."))
    if problems:
        raise InstanceValidationError(problems)
    return out


def _change_structure(ch: Any, where: str, name: str, i: int) -> list[Problem]:
    col = f"scenarios.{name}.changes[{i}]"
    if not isinstance(ch, Mapping):
        return [_p(where, name, f"change #{i} must be a mapping with 'table' and an operation.", column=col)]
    out = []
    for k in ch:
        if k not in CHANGE_KEYS:
            out.append(_p(where, name, f"change #{i}: unknown key '{k}'.", column=f"{col}.{k}",
                          fix=f"Use: {', '.join(CHANGE_KEYS)}."))
    table = ch.get("table")
    if table not in TABLES:
        out.append(_p(where, name, f"change #{i}: unknown table {table!r}.", column=f"{col}.table",
                      fix=f"Use one of: {', '.join(TABLES)}."))
    ops = [k for k in (*OPS, "add_rows", "remove") if ch.get(k) not in (None, False)]
    if not ops:
        out.append(_p(where, name, f"change #{i}: no operation.", column=col,
                      fix="Give set, scale or add (a mapping column -> value), add_rows or remove: true."))
    for op in OPS:
        if op in ch and not isinstance(ch[op], Mapping):
            out.append(_p(where, name, f"change #{i}: '{op}' must be a mapping column -> value.", column=f"{col}.{op}"))
    if "where" in ch and ch["where"] is not None and not isinstance(ch["where"], Mapping):
        out.append(_p(where, name, f"change #{i}: 'where' must be a mapping column -> value or list of values.",
                      column=f"{col}.where"))
    if "add_rows" in ch and not (isinstance(ch["add_rows"], list) and all(isinstance(r, Mapping) for r in ch["add_rows"])):
        out.append(_p(where, name, f"change #{i}: 'add_rows' must be a list of records.", column=f"{col}.add_rows"))
    if ch.get("remove") not in (None, True, False):
        out.append(_p(where, name, f"change #{i}: 'remove' must be true.", column=f"{col}.remove"))
    if ch.get("remove") and (any(k in ch for k in OPS) or "add_rows" in ch):
        out.append(_p(where, name, f"change #{i}: 'remove' cannot be combined with other operations.", column=col,
                      fix="Split it into two changes."))
    if "add_rows" in ch and ("where" in ch or any(k in ch for k in OPS)):
        out.append(_p(where, name, f"change #{i}: 'add_rows' takes no 'where' and no set/scale/add.", column=col,
                      fix="Split it into two changes."))
    seen: dict[str, str] = {}
    for op in OPS:
        for c in (ch.get(op) or {}) if isinstance(ch.get(op), Mapping) else {}:
            if c in seen:
                out.append(_p(where, name, f"change #{i}: column '{c}' is changed twice ('{seen[c]}' and '{op}').",
                              column=f"{col}.{op}.{c}", fix="Change each column once per change."))
            seen[c] = op
    return out


def load_scenarios(source: Instance | str | Path, file: str | Path | None = None) -> dict[str, Scenario]:
    """All scenarios available for an instance.

    Reads ``scenarios:`` of ``instance.yaml`` and the scenarios file (``file``, else
    ``scenarios.yaml`` in the instance folder when it exists). A name defined twice
    is an input error.
    """
    inst = source if isinstance(source, Instance) else _load_instance(source)
    out: dict[str, Scenario] = {}
    if inst.settings.scenarios:
        out.update(parse_scenarios(inst.settings.scenarios, where="instance.yaml (scenarios)"))
    path: Path | None
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise InstanceValidationError([Problem(str(path), "scenarios file not found.",
                                                   fix="Correct the path or create the file.")])
    else:
        path = inst.path / DEFAULT_FILE if inst.path is not None else None
        if path is not None and not path.is_file():
            path = None
    if path is not None:
        raw = read_yaml(path)
        bad = [k for k in raw if k not in FILE_KEYS]
        if bad:
            raise InstanceValidationError([Problem(str(path), f"unknown top-level key(s) {bad}.",
                                                   fix=f"Use: {', '.join(FILE_KEYS)}.")])
        from_file = parse_scenarios(raw.get("scenarios") or {}, where=str(path))
        dup = sorted(set(out) & set(from_file))
        if dup:
            raise InstanceValidationError([Problem(str(path), f"scenario(s) {dup} also defined in instance.yaml.",
                                                   fix="Define each scenario in one place.")])
        out.update(from_file)
    return out


def _load_instance(path: str | Path) -> Instance:
    from ..api import load

    return load(path)


def resolve_chain(name: str, scenarios: Mapping[str, Scenario], where: str = "scenario") -> list[Scenario]:
    """The scenario and its ``extends`` ancestors, root first (``where`` names who asked for ``name``)."""
    if name == BASE:
        return []
    chain: list[Scenario] = []
    seen: list[str] = []
    cur: str | None = name
    while cur is not None and cur != BASE:
        if cur in seen:
            where = scenarios[name].where
            raise InstanceValidationError([Problem(where, f"scenario '{name}': 'extends' forms a cycle "
                                                   f"({' -> '.join([*seen, cur])}).", column=f"scenarios.{name}.extends")])
        if cur not in scenarios:
            known = ", ".join(sorted(scenarios)) or "(none defined)"
            raise InstanceValidationError([Problem(scenarios[seen[-1]].where if seen else where,
                                                   f"unknown scenario '{cur}'.", column="scenario",
                                                   fix=f"Use 'base' or one of: {known}.")])
        seen.append(cur)
        chain.append(scenarios[cur])
        cur = scenarios[cur].extends
    return chain[::-1]


# ---------------------------------------------------------------------------
# applying
# ---------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "(empty)"
    if isinstance(v, (tuple, list)):
        return ";".join(map(str, v)) or "(none)"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.6g}"
    return str(v)


def _fmt_any(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return _fmt(v)


def _summ(values: Iterable[Any]) -> str:
    vals = list(values)
    keys: dict[str, Any] = {}
    for v in vals:
        keys.setdefault(_fmt(v), v)
    if len(keys) <= 3:
        return "/".join(keys)
    nums = [float(v) for v in vals if isinstance(v, (int, float, np.integer, np.floating)) and not pd.isna(v)]
    if len(nums) == len(vals):
        return f"{_fmt(min(nums))}..{_fmt(max(nums))}"
    return "/".join(list(keys)[:3]) + "/..."


def _filter_text(where: Mapping[str, Any] | None) -> str:
    if not where:
        return ""
    parts = []
    for k, v in where.items():
        parts.append(f"{k}={'|'.join(map(_fmt, v)) if isinstance(v, list) else _fmt(v)}")
    return "[" + ", ".join(parts) + "]"


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


class _Ctx:
    """State of one application: working tables, touched cells, log, problems."""

    def __init__(self, inst: Instance) -> None:
        self.base = inst
        self.tables: dict[str, pd.DataFrame] = {}
        self.changed: set[str] = set()
        self.log: list[str] = []
        self.problems: list[Problem] = []
        self.settings = inst.settings.model_dump()
        # keys whose mere presence validation checks (tail_years without periods, horizon_years with
        # them): keep them only when the instance gives them, or every scenario of a v1 instance fails
        for k in ("tail_years", "horizon_years"):
            if k not in inst.settings.model_fields_set:
                self.settings.pop(k, None)
        self.fixes: dict[tuple[str, str], bool] = {}
        self.threads_set = False

    def table(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            df = self.base.tables[name].copy()
            rows = self.base.rows.get(name)
            df["_row"] = list(rows) if rows is not None and len(rows) == len(df) else list(range(1, len(df) + 1))
            self.tables[name] = df
        return self.tables[name]


def _series_for(ctx: _Ctx, table: str, key: str) -> tuple[pd.Series | None, str | None, str | None]:
    """The column a filter key refers to, with its kind; or an error message."""
    df = ctx.table(table)
    spec = TABLES[table]
    if "." in key:
        ref, col = key.split(".", 1)
        target = JOINS.get(table, {}).get(ref)
        if target is None:
            joins = ", ".join(f"{r}.<column>" for r in JOINS.get(table, {})) or "none"
            return None, None, f"unknown filter column '{key}' (joins supported on {table}: {joins})."
        tspec = TABLES[target]
        if col not in tspec.names:
            return None, None, f"unknown column '{col}' of table '{target}' in filter '{key}' (columns: {', '.join(tspec.names)})."
        tdf = ctx.table(target)
        lookup = pd.Series(tdf[col].to_numpy(), index=tdf[tspec.key[0]].to_numpy())
        lookup = lookup[~lookup.index.duplicated()]
        s = df[ref].map(lookup)
        kind = tspec.column(col).kind if col in {c.name for c in tspec.columns} else "str"
        return s, kind, None
    if key not in spec.names:
        return None, None, f"unknown column '{key}' of table '{table}' (columns: {', '.join(spec.names)})."
    if key not in df.columns:  # free-text column absent from the file
        return pd.Series([None] * len(df), index=df.index, dtype=object), "str", None
    kind = spec.column(key).kind if key in {c.name for c in spec.columns} else "str"
    return df[key], kind, None


def _matches(s: pd.Series, kind: str, value: Any) -> pd.Series:
    if kind == "list":
        return s.map(lambda t: isinstance(t, (tuple, list)) and str(value) in t).astype(bool)
    if kind in {"float", "int"}:
        return (pd.to_numeric(s, errors="coerce") == float(value)).fillna(False).astype(bool)
    if kind == "bool":
        return (s.astype("boolean") == bool(value)).fillna(False).astype(bool)
    return (s.astype(object) == str(value)).fillna(False).astype(bool)


def _mask(ctx: _Ctx, table: str, where: Mapping[str, Any] | None, say: Any) -> pd.Series | None:
    df = ctx.table(table)
    mask = pd.Series(True, index=df.index)
    if not where:
        return mask
    ok = True
    for key, val in where.items():
        s, kind, err = _series_for(ctx, table, str(key))
        if err:
            say(err, f"where.{key}", "Correct the column name.")
            ok = False
            continue
        assert s is not None and kind is not None
        values = val if isinstance(val, list) else [val]
        if not values:
            say(f"filter '{key}' has an empty list of values.", f"where.{key}", None)
            ok = False
            continue
        any_m = pd.Series(False, index=df.index)
        for v in values:
            if v is None or isinstance(v, (Mapping, list)):
                say(f"filter '{key}': value {v!r} is not a single value.", f"where.{key}", "Give a value or a list of values.")
                ok = False
                continue
            if isinstance(v, bool) and kind != "bool":
                say(f"filter '{key}': got the boolean {str(v).lower()}, YAML reads unquoted yes/no/on/off/NO as booleans.",
                    f"where.{key}", f"Quote the value, e.g. {key}: \"NO\".")
                ok = False
                continue
            if kind in {"float", "int"} and not _is_num(v):
                say(f"filter '{key}': {v!r} is not a number.", f"where.{key}", None)
                ok = False
                continue
            m = _matches(s, kind, v)
            if not m.any():
                known = sorted({_fmt(x) for x in (y for t in s.dropna() for y in (t if isinstance(t, tuple) else (t,)))})
                sample = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
                say(f"filter '{key}': value {_fmt(v)!r} does not occur in table '{table}'.", f"where.{key}",
                    f"Use a value that occurs ({sample or 'the column is empty'}).")
                ok = False
                continue
            any_m |= m
        mask &= any_m
    if not ok:
        return None
    if not mask.any():
        say(f"filter {_filter_text(where)} selects no row of table '{table}' (each value exists, not together).",
            "where", "Loosen the filter.")
        return None
    return mask


def _as_tuple(v: Any) -> tuple[str, ...]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ()
    items = v if isinstance(v, (list, tuple)) else str(v).split(";")
    return tuple(sorted({str(x).strip() for x in items if str(x).strip()}))


def _rowkeys(df: pd.DataFrame, table: str, mask: pd.Series) -> list[tuple[Any, ...]]:
    key = list(TABLES[table].key)
    return [tuple(r) for r in df.loc[mask, key].itertuples(index=False, name=None)]


def _apply_change(ctx: _Ctx, sc: Scenario, i: int, ch: Mapping[str, Any], touched: dict[tuple[Any, ...], int]) -> None:
    table = ch["table"]
    spec = TABLES[table]
    base_col = f"scenarios.{sc.name}.changes[{i}]"

    def say(msg: str, col: str | None, fix: str | None) -> None:
        ctx.problems.append(_p(sc.where, sc.name, f"change #{i} (table {table}): {msg}",
                               column=f"{base_col}.{col}" if col else base_col, fix=fix, table=table))

    if ch.get("add_rows"):
        df = ctx.table(table)
        recs = [dict(r) for r in ch["add_rows"]]
        for j, r in enumerate(recs, 1):
            unknown = [c for c in r if c not in spec.names]
            if unknown:
                say(f"added row {j}: unknown column(s) {unknown}.", "add_rows", f"Columns: {', '.join(spec.names)}.")
                return
            for k in spec.key:
                if r.get(k) is None:
                    say(f"added row {j}: key column '{k}' is missing.", "add_rows", None)
                    return
        new = pd.DataFrame(recs)
        kinds = {c.name: c.kind for c in spec.columns}
        for c in new.columns:  # raw YAML values, typed when the table is re-parsed; list columns as tuples now
            if kinds.get(c) == "list":
                new[c] = pd.Series([_as_tuple(v) for v in new[c]], index=new.index, dtype=object)
            else:
                new[c] = new[c].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v).astype(object)
        start = int(np.abs(df["_row"].to_numpy(dtype=int)).max()) + 1 if len(df) else 1
        new["_row"] = -np.arange(start, start + len(new))  # negative: added by a scenario
        for rkey in [tuple(str(r[k]) for k in spec.key) for r in recs]:
            touched[(table, rkey, "*row*")] = i
        ctx.tables[table] = pd.concat([df.astype(object), new], ignore_index=True)
        ctx.changed.add(table)
        ctx.log.append(f"{table}: added {len(recs)} row(s) " + "; ".join(
            "(" + ", ".join(f"{c}={_fmt(r.get(c))}" for c in spec.key) + ")" for r in recs))
        return

    mask = _mask(ctx, table, ch.get("where"), say)
    if mask is None:
        return
    df = ctx.table(table)
    n = int(mask.sum())
    ftxt = _filter_text(ch.get("where"))
    if ch.get("remove"):
        ctx.tables[table] = df.loc[~mask].reset_index(drop=True)
        ctx.changed.add(table)
        ctx.log.append(f"{table}{ftxt}: removed {n} row(s)")
        return
    keys = _rowkeys(df, table, mask)
    cols = {c.name: c for c in spec.columns}
    for op in OPS:
        for col, val in (ch.get(op) or {}).items():
            col = str(col)
            if col not in spec.names:
                say(f"unknown column '{col}' (columns: {', '.join(spec.names)}).", f"{op}.{col}", "Correct the column name.")
                continue
            if col in spec.key:
                say(f"'{col}' is a key column and cannot be changed.", f"{op}.{col}",
                    "Remove the row (remove: true) and add a new one (add_rows).")
                continue
            kind = cols[col].kind if col in cols else "str"
            dup = [k for k in keys if (table, k, col) in touched]
            if dup:
                say(f"column '{col}' of row {dict(zip(spec.key, dup[0]))} is already changed by change "
                    f"#{touched[(table, dup[0], col)]} of this scenario.", f"{op}.{col}",
                    "Change each value once per scenario (or split into a scenario that extends this one).")
                continue
            if col not in df.columns:
                df[col] = ""
            old = df.loc[mask, col]
            if op == "set":
                if isinstance(val, (Mapping,)) or (isinstance(val, list) and kind != "list"):
                    say(f"set {col}: {val!r} is not a single value.", f"set.{col}", None)
                    continue
                if val is None and cols.get(col) is not None and cols[col].required:
                    say(f"set {col}: a required column cannot be emptied.", f"set.{col}", "Give a value.")
                    continue
                if isinstance(val, bool) and kind not in {"bool"}:
                    say(f"set {col}: got the boolean {str(val).lower()}; YAML reads unquoted yes/no/on/off as booleans.",
                        f"set.{col}", "Quote the value.")
                    continue
                if kind in {"float", "int"} and val is not None and not _is_num(val):
                    say(f"set {col}: {val!r} is not a number.", f"set.{col}", "Give a number.")
                    continue
                if kind == "list":
                    items = val if isinstance(val, list) else ([] if val in (None, "") else str(val).split(";"))
                    newv: Any = tuple(sorted({str(x).strip() for x in items if str(x).strip()}))
                    new = pd.Series([newv] * n, index=old.index, dtype=object)
                else:
                    new = pd.Series([val] * n, index=old.index, dtype=object)
                desc = f"= {_fmt(val) if not isinstance(val, list) else ';'.join(map(str, val))}"
            elif op == "scale":
                if kind not in {"float", "int"}:
                    say(f"scale {col}: column is not numeric.", f"scale.{col}", "Use set.")
                    continue
                if not _is_num(val):
                    say(f"scale {col}: factor {val!r} is not a number.", f"scale.{col}", "Give a number, e.g. 0.7.")
                    continue
                new = old.astype(float) * float(val)
                desc = f"x {_fmt(val)}"
            else:  # add
                if kind == "list":
                    items = val if isinstance(val, list) else str(val).split(";")
                    extra = {str(x).strip() for x in items if str(x).strip()}
                    new = old.map(lambda t, extra=extra: tuple(sorted(set(t) | extra)))
                    desc = f"+ {';'.join(sorted(extra))}"
                elif kind in {"float", "int"}:
                    if not _is_num(val):
                        say(f"add {col}: {val!r} is not a number.", f"add.{col}", "Give a number, e.g. 0.2.")
                        continue
                    new = old.astype(float) + float(val)
                    desc = f"+{_fmt(val)}" if float(val) >= 0 else _fmt(val)
                else:
                    say(f"add {col}: column is neither numeric nor a list.", f"add.{col}", "Use set.")
                    continue
            for rkey in keys:
                touched[(table, rkey, col)] = i
            if df[col].dtype != object and (op == "set" or kind == "list"):
                df[col] = df[col].astype(object)
            if kind == "list":
                for idx, v in zip(old.index, new):
                    df.at[idx, col] = v
            else:
                df.loc[mask, col] = new.to_numpy()
            empty = ""
            if op in {"scale", "add"} and kind != "list":
                k_empty = int(old.isna().sum())
                if k_empty:
                    empty = f"; {k_empty} empty cell(s) left empty"
            ctx.log.append(f"{table}{ftxt}.{col} ({desc}): {_summ(old)} -> {_summ(new)} ({n} row{'s' if n != 1 else ''}{empty})")
            ctx.changed.add(table)


def _merge_settings(ctx: _Ctx, sc_name: str, where: str, settings: Mapping[str, Any], label: str) -> None:
    before = copy.deepcopy(ctx.settings)
    for k, v in settings.items():
        if k not in SETTINGS_KEYS:
            ctx.problems.append(_p(where, sc_name, f"setting '{k}' cannot be changed.", column=f"{label}.{k}",
                                   fix=f"Use one of: {', '.join(SETTINGS_KEYS)}."))
            continue
        if k in _MERGED_KEYS and isinstance(v, Mapping):
            base = ctx.settings.get(k)
            if isinstance(base, list):  # rule lists (plants_kept): a mapping merges into the one rule
                if len(base) > 1:
                    ctx.problems.append(_p(where, sc_name, f"setting '{k}': the instance has {len(base)} rules, so a "
                                           "mapping cannot be merged into them.", column=f"{label}.{k}",
                                           fix=f"Give the whole list of {k} rules."))
                    continue
                base = base[0] if base else {}
            cur = dict(base or {})
            for kk, vv in v.items():
                ctx.log.append(f"settings.{k}.{kk}: {_fmt(cur.get(kk))} -> {_fmt(vv)}")
                cur[kk] = vv
                if k == "solver" and kk == "threads":
                    ctx.threads_set = True
            ctx.settings[k] = cur
        else:
            ctx.log.append(f"settings.{k}: {_fmt_any(ctx.settings.get(k))} -> {_fmt_any(v)}")
            ctx.settings[k] = v
    try:
        Settings.model_validate({**ctx.settings, "tables": {}})
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(x) for x in err["loc"])
            ctx.problems.append(_p(where, sc_name, f"setting {key}: {err['msg']} (got {err.get('input')!r}).",
                                   column=f"{label}.{key}"))
        ctx.settings = before


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [c for c in df.columns if c != "_row"]
    return [{c: _cell(v) for c, v in zip(cols, row)} for row in df[cols].itertuples(index=False, name=None)]


def apply_scenario(
    inst: Instance,
    scenario: str | Scenario | Mapping[str, Any] | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    overrides_where: str = "batch job",
    name: str | None = None,
) -> AppliedScenario:
    """Apply a scenario (by name, definition or inline mapping) to ``inst``; return a new instance.

    ``scenarios`` is the catalogue used to resolve names and ``extends`` (default:
    :func:`load_scenarios` of ``inst``). ``overrides`` are settings applied last (batch
    job level). An inline mapping is called ``name`` (default ``inline``). Raises
    :class:`InstanceValidationError` listing every problem.
    """
    if isinstance(scenario, Mapping):
        scenario = parse_scenarios({name or "inline": scenario}, where=overrides_where)[name or "inline"]
    if isinstance(scenario, Scenario):
        if scenario.extends and scenario.extends != BASE:
            cat = scenarios if scenarios is not None else load_scenarios(inst)
            chain = [*resolve_chain(scenario.extends, cat), scenario]
        else:
            chain = [scenario]
        name = scenario.name
    elif scenario is None or scenario == BASE:
        chain, name = [], BASE
    else:
        cat = scenarios if scenarios is not None else load_scenarios(inst)
        chain, name = resolve_chain(str(scenario), cat), str(scenario)

    ctx = _Ctx(inst)
    for sc in chain:
        n_log = len(ctx.log)
        _merge_settings(ctx, sc.name, sc.where, sc.settings, f"scenarios.{sc.name}.settings")
        touched: dict[tuple[Any, ...], int] = {}
        for i, ch in enumerate(sc.changes, 1):
            _apply_change(ctx, sc, i, ch, touched)
        seen_fix: set[tuple[str, str]] = set()
        sw = ctx.table("software")
        for j, fx in enumerate(sc.fix_software, 1):
            key = (str(fx["model"]), str(fx["stack"]))
            col = f"scenarios.{sc.name}.fix_software[{j}]"
            if key in seen_fix:
                ctx.problems.append(_p(sc.where, sc.name, f"software {key[0]}/{key[1]} is fixed twice.", column=col))
                continue
            seen_fix.add(key)
            hit = sw[(sw["model"] == key[0]) & (sw["stack"] == key[1])]
            if hit.empty:
                ctx.problems.append(_p(sc.where, sc.name, f"fix_software: no software row {key[0]}/{key[1]}.", column=col,
                                       fix="Name a (model, stack) of the software table.", table="software"))
                continue
            if bool(hit["default"].iloc[0]):
                ctx.problems.append(_p(sc.where, sc.name, f"fix_software: {key[0]}/{key[1]} is the default stack "
                                       "(always developed).", column=col, table="software"))
                continue
            ctx.fixes[key] = bool(fx["developed"])
            ctx.log.append(f"software {key[0]}/{key[1]}: forced {'developed' if fx['developed'] else 'not developed'}")
        if sc is not chain[-1]:  # inherited through 'extends'
            ctx.log[n_log:] = [f"(from {sc.name}) {line}" for line in ctx.log[n_log:]]
    if overrides:
        _merge_settings(ctx, name, overrides_where, overrides, "settings")
    if ctx.problems:
        raise InstanceValidationError(ctx.problems, instance=inst.name)

    settings_raw = {**ctx.settings}
    new_inst = inst
    if ctx.changed:
        settings_raw["tables"] = {t: _records(ctx.table(t) if t in ctx.changed else inst.tables[t])
                                  for t in TABLES}
        # an empty table is "not given": optional ones load empty, required ones are reported missing
        settings_raw["tables"] = {t: recs for t, recs in settings_raw["tables"].items() if recs}
        try:
            fresh = from_dict(settings_raw, folder=None)
        except InstanceError as exc:
            raise InstanceValidationError(_rewrap(exc.problems, ctx, chain, name), instance=inst.name) from None
        tables = dict(inst.tables)
        rows = dict(inst.rows)
        for t in ctx.changed:
            tables[t] = fresh.tables[t]
            rows[t] = np.abs(ctx.table(t)["_row"].to_numpy(dtype=int))
        settings = fresh.settings.model_copy(update={"tables": inst.settings.tables})
        new_inst = inst.replace(settings=settings, tables=tables, rows=rows)
    elif chain or overrides:
        new_inst = inst.replace(settings=Settings.model_validate(settings_raw))
    try:
        warnings = validate(new_inst)
    except InstanceValidationError as exc:
        raise InstanceValidationError(_rewrap(exc.problems, ctx, chain, name, cross=True), instance=inst.name) from None
    return AppliedScenario(instance=new_inst, name=name, changes=tuple(ctx.log), fix_software=dict(ctx.fixes),
                           threads_set=ctx.threads_set, warnings=tuple(warnings))


def _rewrap(problems: Sequence[Problem], ctx: _Ctx, chain: Sequence[Scenario], name: str,
            cross: bool = False) -> list[Problem]:
    where = chain[-1].where if chain else "scenario overrides"
    out = []
    for p in problems:
        row = p.row
        added = False
        if p.table in ctx.changed and row is not None:
            rows = ctx.table(p.table)["_row"].to_numpy()
            idx = row - 1 if not cross else None
            if cross:
                idx = int(np.nonzero(np.abs(rows) == row)[0][0]) if (np.abs(rows) == row).any() else None
            if idx is not None and 0 <= idx < len(rows):
                row = int(abs(rows[idx]))
                added = rows[idx] < 0
        loc = f"{p.table} " if p.table else ""
        loc += f"{'added ' if added else ''}row {row}" if row is not None else ""
        msg = f"scenario '{name}' makes the instance invalid: {loc + ', ' if loc else ''}" \
              f"{('column ' + p.column + ': ') if p.column else ''}{p.message}"
        out.append(Problem(where, msg, table=p.table, row=row, column=p.column,
                           fix=p.fix or "Correct the scenario's values."))
    return out


# ---------------------------------------------------------------------------
# building and solving
# ---------------------------------------------------------------------------


def build_scenario(applied: AppliedScenario, options: Any = None) -> Any:
    """Build the model of an applied scenario, fixing its ``fix_software`` decisions."""
    from ..api import build

    built = build(applied.instance, options)
    for (v, s), dev in applied.fix_software.items():
        if built.has("w", (v, s)):
            built.fix("w", (v, s), 1.0 if dev else 0.0)
        elif dev:
            raise InstanceValidationError([Problem(
                "scenario", f"scenario '{applied.name}': software {v}/{s} cannot be forced developed: no flow can use it "
                "(no production/demand/lane for that model, or banned everywhere).", table="software")])
    return built


def solve_scenario(
    source: str | Path | Instance,
    scenario: str | Scenario | Mapping[str, Any] | None = None,
    *,
    scenarios_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    build_options: Any = None,
    **solve_kwargs: Any,
) -> tuple[Any, AppliedScenario]:
    """Load (if needed), apply ``scenario`` and solve; return ``(Result, AppliedScenario)``.

    ``build_options`` (:class:`models.BuildOptions`) go to the model build, ``solve_kwargs`` to
    :func:`optimizer.solve` (time_limit, mip_gap, threads, seed, ...).  The result carries the
    scenario's name and change log (``Result.scenario``, ``Result.scenario_changes``; also in
    ``summary.json``).
    """
    from ..api import load, solve

    inst = source if isinstance(source, Instance) else load(source)
    cat = None
    if isinstance(scenario, str) and scenario != BASE or isinstance(scenario, Scenario) and scenario.extends:
        cat = load_scenarios(inst, scenarios_file)
    applied = apply_scenario(inst, scenario, cat, overrides=overrides)
    built = build_scenario(applied, build_options)
    res = solve(built, **solve_kwargs)
    res.scenario, res.scenario_changes = applied.name, list(applied.changes)
    return res, applied


_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_name(text: str) -> str:
    """A file-system safe version of ``text`` (used for job ids)."""
    out = _SAFE.sub("_", str(text)).strip("._")
    return out or "job"
