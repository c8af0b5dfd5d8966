"""Stage 2 of validation: references across tables, and sanity warnings.

Each check is a named function returning problems; :func:`validate` runs them all,
raises one :class:`InstanceValidationError` listing every error, and returns the
warnings.  Instances that are well formed but have no feasible plan (for example
``plants_kept.min`` above the number of plants) are *not* input errors: the solve
reports them as ``infeasible``; such cases are returned as warnings so the user sees
the likely cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from ..errors import InstanceValidationError, Problem
from pathlib import Path

from .instance import Instance, PartialInstance
from .instance import load as _load_stage1

Check = Callable[[Instance], Iterable[Problem]]


def _rows(inst: Instance, table: str) -> pd.Series:
    df = inst.tables[table]
    rows = inst.rows.get(table)
    return pd.Series(rows if rows is not None else range(1, len(df) + 1), index=df.index)


def _unknown_refs(inst: Instance, table: str, column: str, target: str, target_col: str,
                  wildcard: bool = False) -> list[Problem]:
    df = inst.tables[table]
    if df.empty:
        return []
    known = set(inst.tables[target][target_col])
    vals = df[column]
    bad = ~vals.isin(known)
    if wildcard:
        bad &= vals != "*"
    rows = _rows(inst, table)
    sample = ", ".join(sorted(map(str, known))[:8]) + (" ..." if len(known) > 8 else "")
    hint = f"Use an id from {target}.{target_col} ({sample}) or add it to '{target}'." if known else \
        f"Table '{target}' has no rows: add them."
    return [
        Problem(inst.origins.get(table, table), f"unknown {target_col} '{vals[i]}' (not in table '{target}').",
                table=table, row=int(rows[i]), column=column,
                fix=hint)
        for i in df.index[bad]
    ]


def check_references(inst: Instance | PartialInstance) -> list[Problem]:
    """Every id used in a table exists in the table that defines it (pairs of tables that are both present)."""
    out: list[Problem] = []
    have = set(inst.tables)
    for table, column, target, target_col in (
        ("production", "plant", "plants", "plant"),
        ("production", "model", "models", "model"),
        ("software", "model", "models", "model"),
        ("demand", "model", "models", "model"),
        ("demand", "market", "markets", "market"),
        ("freight", "plant", "plants", "plant"),
        ("freight", "market", "markets", "market"),
    ):
        if {table, target} <= have:
            out += _unknown_refs(inst, table, column, target, target_col)
    if {"tariffs", "markets"} <= have:
        out += _unknown_refs(inst, "tariffs", "market", "markets", "market", wildcard=True)
    tariffs = inst.tables.get("tariffs")
    if tariffs is not None and not tariffs.empty:
        rows = _rows(inst, "tariffs")
        bad = ~tariffs["powertrain"].isin(["*", "BEV", "PHEV", "HEV", "ICE"])
        out += [
            Problem(inst.origins["tariffs"], f"unknown powertrain '{tariffs.at[i, 'powertrain']}'.", table="tariffs",
                    row=int(rows[i]), column="powertrain", fix="Use BEV, PHEV, HEV, ICE or *.")
            for i in tariffs.index[bad]
        ]
    return out


def check_min_le_max(inst: Instance | PartialInstance) -> list[Problem]:
    """demand.min_units <= demand.max_units."""
    if "demand" not in inst.tables:
        return []
    d = inst.tables["demand"]
    rows = _rows(inst, "demand")
    bad = d["min_units"] > d["max_units"]
    return [
        Problem(inst.origins["demand"], f"min_units ({d.at[i, 'min_units']:g}) > max_units ({d.at[i, 'max_units']:g}).",
                table="demand", row=int(rows[i]), column="min_units", fix="Make min_units <= max_units.")
        for i in d.index[bad]
    ]


ERROR_CHECKS: tuple[Check, ...] = (check_references, check_min_le_max)


def warn_plants_kept(inst: Instance) -> list[Problem]:
    """Bounds on plants kept that no plan can meet (the solve will report infeasible)."""
    s = inst.settings
    plants = inst.tables["plants"]
    n, keep = len(plants), int((plants["status"] == "keep").sum())
    n_close = int((plants["status"] == "close").sum())
    out = []
    if s.plants_kept.min is not None and s.plants_kept.min > n - n_close:
        out.append(Problem("instance.yaml", f"plants_kept.min = {s.plants_kept.min} but only {n - n_close} plants can stay open.",
                           column="plants_kept.min", fix="Lower plants_kept.min or change plant status."))
    if s.plants_kept.max is not None and s.plants_kept.max < keep:
        out.append(Problem("instance.yaml", f"plants_kept.max = {s.plants_kept.max} but {keep} plants have status keep.",
                           column="plants_kept.max", fix="Raise plants_kept.max or change plant status."))
    if s.min_jobs_cut is not None and s.min_jobs_cut > plants.loc[plants["status"] != "keep", "headcount"].sum():
        out.append(Problem("instance.yaml", f"min_jobs_cut = {s.min_jobs_cut:g} exceeds the headcount of plants that may close.",
                           column="min_jobs_cut", fix="Lower min_jobs_cut."))
    return out


WARNING_CHECKS: tuple[Check, ...] = (warn_plants_kept,)


def validate(inst: Instance, *, strict: bool = False) -> list[Problem]:
    """Run the cross-table checks.

    Returns the warnings; raises :class:`InstanceValidationError` listing all errors
    (and the warnings too when ``strict``).
    """
    errors = [p for check in ERROR_CHECKS for p in check(inst)]
    warnings = [p for check in WARNING_CHECKS for p in check(inst)]
    if errors or (strict and warnings):
        raise InstanceValidationError(errors + (warnings if strict else []), instance=inst.name)
    return warnings


def load_checked(path: str | Path, *, strict: bool = False) -> tuple[Instance, list[Problem]]:
    """Load (stage 1) and cross-check (stage 2) an instance folder; return it and its warnings.

    When stage 1 finds problems, stage 2 still runs on the tables that passed it, and one
    :class:`InstanceValidationError` lists both kinds together.
    """
    try:
        inst = _load_stage1(path)
    except InstanceValidationError as exc:
        partial = getattr(exc, "partial", None)
        extra = [p for check in ERROR_CHECKS for p in check(partial)] if partial is not None else []
        if not extra or getattr(exc, "dropped", 0):
            raise
        raise InstanceValidationError(list(exc.problems) + extra, instance=exc.instance) from None
    return inst, validate(inst, strict=strict)
