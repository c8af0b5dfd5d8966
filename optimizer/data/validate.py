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
from .schema import TABLES

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
    """Every id used in a table exists in the table that defines it (plants, models, markets; tariff, quota and ban
    markets; powertrains), for the pairs of tables that are both present."""
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
    if {"bans", "markets"} <= have:
        out += _unknown_refs(inst, "bans", "market", "markets", "market")
    for table in ("tariffs", "tariff_quotas"):
        if {table, "markets"} <= have:
            out += _unknown_refs(inst, table, "market", "markets", "market", wildcard=True)
        tariffs = inst.tables.get(table)
        if tariffs is not None and not tariffs.empty:
            rows = _rows(inst, table)
            bad = ~tariffs["powertrain"].isin(["*", "BEV", "PHEV", "HEV", "ICE"])
            out += [
                Problem(inst.origins[table], f"unknown powertrain '{tariffs.at[i, 'powertrain']}'.", table=table,
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


_YEAR_COLS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in spec.columns if c.kind == "year") for name, spec in TABLES.items()
}
"""Per table, its year columns."""

_RULE_KEYS = ("plants_kept", "capacity_kept", "min_jobs_cut")
YAML = "instance.yaml"


def _rule_key(inst: Instance, key: str, i: int, field: str | None = None) -> str:
    """``plants_kept[2].from_year`` (1-based), or ``plants_kept.from_year`` when the YAML held one mapping."""
    rules = getattr(inst.settings, key)
    base = key if len(rules) == 1 else f"{key}[{i + 1}]"
    return f"{base}.{field}" if field else base


def _row_list(rows: list[int], limit: int = 10) -> str:
    head = ", ".join(map(str, rows[:limit]))
    return head + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _years_text(years: list[int]) -> str:
    """2027, or 2027..2030, or 2027, 2029..2030."""
    out: list[str] = []
    start = prev = None
    for y in years:
        if start is None:
            start = prev = y
        elif y == prev + 1:
            prev = y
        else:
            out.append(str(start) if start == prev else f"{start}..{prev}")
            start = prev = y
    if start is not None:
        out.append(str(start) if start == prev else f"{start}..{prev}")
    return ", ".join(out)


def applies(df: pd.DataFrame, year: int | None) -> pd.Series:
    """Mask of the rows of ``df`` that apply in ``year`` (every row when ``year`` is None)."""
    if year is None or "from_year" not in df.columns:
        return pd.Series(True, index=df.index)
    lo, hi = df["from_year"].astype(float), df["to_year"].astype(float)
    return (lo.isna() | (lo <= year)) & (hi.isna() | (hi >= year))


def check_settings_years(inst: Instance) -> list[Problem]:
    """With periods, horizon_years is absent and a min_jobs_cut by_year is a period; without, tail_years and rule years are absent.

    With periods: ``horizon_years`` must be absent, a rule's ``by_year`` must be a
    period.  Without periods: ``tail_years``, rule ``from_year``/``by_year`` and
    ``co2_cap`` ``from_year`` are errors.
    """
    s = inst.settings
    out: list[Problem] = []
    if s.periods is not None:
        if "horizon_years" in s.model_fields_set:
            out.append(Problem(YAML, f"horizon_years ({s.horizon_years}) is given together with periods; the periods "
                               f"{s.periods.first}..{s.periods.last} are the horizon.", column="horizon_years",
                               fix="Remove horizon_years (use tail_years for years after the last period)."))
        for i, r in enumerate(s.min_jobs_cut):
            if r.by_year is not None and r.by_year not in s.periods.years:
                out.append(Problem(YAML, f"by_year {r.by_year} is outside the periods {s.periods.first}..{s.periods.last}.",
                                   column=_rule_key(inst, "min_jobs_cut", i, "by_year"),
                                   fix=f"Use a year from {s.periods.first} to {s.periods.last}, or remove by_year "
                                       "(= the last year)."))
        return out
    need = "Add 'periods: {first: Y1, last: YT}' or remove it (without periods there is one steady-state year)."
    if "tail_years" in s.model_fields_set:
        out.append(Problem(YAML, f"tail_years ({s.tail_years}) needs periods.", column="tail_years", fix=need))
    for key in (*_RULE_KEYS, "co2_cap"):
        year_field = "by_year" if key == "min_jobs_cut" else "from_year"
        for i, r in enumerate(getattr(s, key)):
            if getattr(r, year_field) is not None:
                out.append(Problem(YAML, f"{year_field} ({getattr(r, year_field)}) needs periods.",
                                   column=_rule_key(inst, key, i, year_field), fix=need))
    return out


def check_years_need_periods(inst: Instance) -> list[Problem]:
    """Without periods, every year column (from_year, to_year, earliest_closure, closure_year, available_from) is empty."""
    if inst.settings.periods is not None:
        return []
    out: list[Problem] = []
    for table, cols in _YEAR_COLS.items():
        df = inst.tables[table]
        if df.empty:
            continue
        rows = _rows(inst, table)
        for col in cols:
            given = df.index[df[col].notna()]
            if len(given):
                lines = [int(rows[i]) for i in given]
                out.append(Problem(
                    inst.origins.get(table, table),
                    f"{col} is given on row{'s' if len(lines) > 1 else ''} {_row_list(lines)} but the instance has no "
                    "periods.", table=table, row=lines[0], column=col,
                    fix=f"Add 'periods: {{first: Y1, last: YT}}' to instance.yaml or empty the column {col}."))
    return out


def check_closure_timing(inst: Instance) -> list[Problem]:
    """closure_year with status keep/close; closure_year before earliest_closure; status close with earliest_closure > Y1."""
    s = inst.settings
    p = inst.tables["plants"]
    if s.periods is None or p.empty:
        return []
    rows = _rows(inst, "plants")
    where = inst.origins.get("plants", "plants")
    out: list[Problem] = []
    cy, ec = p["closure_year"].astype(float), p["earliest_closure"].astype(float)
    for i in p.index[cy.notna() & p["status"].isin(["keep", "close"])]:
        out.append(Problem(where, f"plant {p.at[i, 'plant']} has closure_year {cy[i]:.0f} and status "
                           f"{p.at[i, 'status']}.", table="plants", row=int(rows[i]), column="closure_year",
                           fix="Give either a closure_year (with status free or empty) or status keep/close, not both."))
    for i in p.index[(cy < ec).fillna(False)]:
        out.append(Problem(where, f"plant {p.at[i, 'plant']}: closure_year {cy[i]:.0f} is before earliest_closure "
                           f"{ec[i]:.0f}.", table="plants", row=int(rows[i]), column="closure_year",
                           fix="Move closure_year to earliest_closure or later, or correct earliest_closure."))
    y1 = s.periods.first
    for i in p.index[(p["status"] == "close") & (ec > y1).fillna(False)]:
        out.append(Problem(where, f"plant {p.at[i, 'plant']} has status close (closed from {y1}) but earliest_closure "
                           f"{ec[i]:.0f} keeps it open until then.", table="plants", row=int(rows[i]),
                           column="earliest_closure",
                           fix=f"Use closure_year {ec[i]:.0f} with status free instead of status close, or remove "
                               "earliest_closure."))
    return out


def check_available_from(inst: Instance) -> list[Problem]:
    """available_from only on non-default stacks (a default stack is developed in every year)."""
    sw = inst.tables["software"]
    if sw.empty:
        return []
    rows = _rows(inst, "software")
    bad = sw["available_from"].notna() & sw["default"].fillna(False).astype(bool)
    return [
        Problem(inst.origins.get("software", "software"),
                f"stack {sw.at[i, 'model']}/{sw.at[i, 'stack']} is the default stack but has available_from "
                f"{sw.at[i, 'available_from']:.0f}.", table="software", row=int(rows[i]), column="available_from",
                fix="Remove available_from (the default stack is in use in every year) or set default to false.")
        for i in sw.index[bad]
    ]


def check_selectors(inst: Instance) -> list[Problem]:
    """Rule selectors (countries, exclude_countries) name countries that have plants."""
    known = set(inst.tables["plants"]["country"].dropna())
    sample = ", ".join(sorted(known)[:8]) + (" ..." if len(known) > 8 else "")
    out: list[Problem] = []
    for key in _RULE_KEYS:
        for i, r in enumerate(getattr(inst.settings, key)):
            sel = r.selector
            if sel is None:
                continue
            unknown = [c for c in sel[1] if c not in known]
            if unknown:
                out.append(Problem(YAML, f"{sel[0]} names {', '.join(map(repr, unknown))}, not a country of any plant.",
                                   column=_rule_key(inst, key, i, sel[0]),
                                   fix=f"Use countries from plants.country ({sample}) or correct the spelling."))
    return out


_KEYS3 = ("origin", "market", "powertrain")


def _stacks_available(inst: Instance, model: str, market: str, year: int | None, any_year: bool = False) -> bool:
    """At least one stack of ``model`` may be sold in ``market`` in ``year`` (not banned, available).

    ``any_year``: in some year (dated bans and available_from ignored: a superset)."""
    sw = inst.tables["software"]
    mine = sw[sw["model"] == model]
    if mine.empty:
        return True  # implicit stack, no origin, never banned
    banned = set(inst.tables["markets"].set_index("market")["banned_software_origins"].get(market, ()) or ())
    b = inst.tables["bans"]
    if not b.empty and not any_year:
        hit = b[(b["market"] == market) & (b["kind"] == "software") & applies(b, year)]
        banned |= set(hit["origin"])
    ok = ~mine["origin"].isin(banned)
    if year is not None:
        af = mine["available_from"].astype(float)
        ok &= af.isna() | (af <= year)
    return bool(ok.any())


def _realised(inst: Instance, origin: str, market: str, powertrain: str, year: int | None,
              any_year: bool = False) -> bool:
    """Some flow from a plant in ``origin`` of a ``powertrain`` model to ``market`` exists in ``year``.

    ``year`` None: the single v1 year (every row applies).  ``any_year``: a cheap superset test,
    every row applies and no dated ban holds."""
    t = inst.tables
    b = t["bans"]
    if not b.empty and not any_year and ((b["market"] == market) & (b["kind"] == "plant") & (b["origin"] == origin)
                        & applies(b, year)).any():
        return False
    plants = set(t["plants"].loc[t["plants"]["country"] == origin, "plant"])
    models = set(t["models"].loc[t["models"]["powertrain"] == powertrain, "model"])
    pr = t["production"]
    pr = pr[pr["plant"].isin(plants) & pr["model"].isin(models) & applies(pr, year)]
    fr = t["freight"]
    fr = fr[fr["plant"].isin(set(pr["plant"])) & (fr["market"] == market) & applies(fr, year)]
    dm = t["demand"]
    dm = dm[(dm["market"] == market) & dm["model"].isin(set(pr["model"])) & applies(dm, year)]
    pairs = pr.merge(fr[["plant"]].drop_duplicates(), on="plant").merge(dm[["model"]].drop_duplicates(), on="model")
    return any(_stacks_available(inst, v, market, year, any_year) for v in pairs["model"].drop_duplicates())


def _ambiguous(inst: Instance, table: str) -> list[Problem]:
    df = inst.tables[table]
    if len(df) < 2:
        return []
    s = inst.settings
    rows = _rows(inst, table)
    where = inst.origins.get(table, table)
    t = df[list(_KEYS3) + ["from_year", "to_year"]].copy()
    t["_row"] = rows.to_numpy()
    wild = t[list(_KEYS3)] == "*"
    t["_spec"] = (~wild).sum(axis=1)
    t["_pat"] = [tuple(r) for r in wild.to_numpy()]
    mk = inst.tables["markets"].set_index("market")["country"]
    domain = {
        "origin": sorted(set(inst.tables["plants"]["country"].dropna())),
        "market": sorted(set(mk.index)),
        "powertrain": sorted(set(inst.tables["models"]["powertrain"].dropna())),
    }
    years: list[int | None] = list(s.periods.years) if s.periods is not None else [None]
    pats = sorted(set(t["_pat"]))
    found: dict[tuple[int, int, tuple[str, str, str]], list[int | None]] = {}
    for ia, pa_ in enumerate(pats):
        for pb in pats[ia + 1:]:
            if sum(not w for w in pa_) != sum(not w for w in pb):
                continue
            ga, gb = t[t["_pat"] == pa_], t[t["_pat"] == pb]
            on = [k for k, wa, wb in zip(_KEYS3, pa_, pb) if not wa and not wb]
            ca = ga.rename(columns={c: f"{c}_a" for c in ga.columns if c not in on})
            cb = gb.rename(columns={c: f"{c}_b" for c in gb.columns if c not in on})
            pairs = ca.merge(cb, on=on) if on else ca.merge(cb, how="cross")
            if pairs.empty:
                continue
            for rd in pairs.to_dict("records"):
                lo = max(rd["from_year_a"] if rd["from_year_a"] == rd["from_year_a"] else -1e9,
                         rd["from_year_b"] if rd["from_year_b"] == rd["from_year_b"] else -1e9)
                hi = min(rd["to_year_a"] if rd["to_year_a"] == rd["to_year_a"] else 1e9,
                         rd["to_year_b"] if rd["to_year_b"] == rd["to_year_b"] else 1e9)
                common = [y for y in years if y is None or lo <= y <= hi]
                if not common:
                    continue
                fixed = {}
                for k, wa, wb in zip(_KEYS3, pa_, pb):
                    if k in on:
                        fixed[k] = [rd[k]]
                    elif not wa:
                        fixed[k] = [rd[f"{k}_a"]]
                    elif not wb:
                        fixed[k] = [rd[f"{k}_b"]]
                    else:
                        fixed[k] = domain[k]
                spec = rd["_spec_a"]
                for o in fixed["origin"]:
                    for m in fixed["market"]:
                        if m in mk.index and mk[m] == o:
                            continue  # domestic: no duty, no quota
                        for ptr in fixed["powertrain"]:
                            # a more specific row that matches and applies wins in that year
                            match = ((t["origin"].isin([o, "*"])) & (t["market"].isin([m, "*"]))
                                     & (t["powertrain"].isin([ptr, "*"])) & (t["_spec"] > spec))
                            better = df[match.to_numpy()]
                            bad = [y for y in common if not applies(better, y).any()]
                            if bad and bad != [None] and not _realised(inst, o, m, ptr, None, any_year=True):
                                continue  # no flow of this combination in any year (all rows: a superset)
                            bad = [y for y in bad if _realised(inst, o, m, ptr, y)]
                            if bad:
                                found[(int(rd["_row_a"]), int(rd["_row_b"]), (o, m, ptr))] = bad
                                if len(found) >= _MAX_REPORTED:
                                    return _ambiguity_problems(found, where, table)
    return _ambiguity_problems(found, where, table)


_MAX_REPORTED = 50
"""At most this many ambiguous (row pair, combination) problems are listed per table."""


def _ambiguity_problems(found: dict[tuple[int, int, tuple[str, str, str]], list[int | None]], where: str,
                        table: str) -> list[Problem]:
    out = []
    for (ra, rb, (o, m, ptr)), yrs in found.items():
        a, b = sorted((ra, rb))
        when = "" if yrs == [None] else f" in {_years_text([y for y in yrs if y is not None])}"
        out.append(Problem(
            where, f"rows [{a}, {b}] are equally specific and both match origin={o}, market={m}, powertrain={ptr}"
            f"{when}.", table=table, row=a, column="origin, market, powertrain",
            fix="Add a more specific row for that combination, remove one of them"
                + (", or give them from_year/to_year ranges that do not overlap." if when else ".")))
    return out


def check_ambiguous_rates(inst: Instance) -> list[Problem]:
    """No two equally specific tariffs (or tariff_quotas) rows both match an existing non-domestic flow's (origin, market, powertrain) and apply in a common year, unless a more specific row applies then."""
    return _ambiguous(inst, "tariffs") + _ambiguous(inst, "tariff_quotas")


ERROR_CHECKS: tuple[Check, ...] = (
    check_references, check_min_le_max, check_settings_years, check_years_need_periods, check_closure_timing,
    check_available_from, check_selectors, check_ambiguous_rates,
)

PARTIAL_CHECKS: tuple[Check, ...] = (check_references, check_min_le_max)
"""The stage-2 checks that need only tables, run on the tables that passed stage 1 when others failed."""


def warn_plants_kept(inst: Instance) -> list[Problem]:
    """plants_kept, capacity_kept and min_jobs_cut rules that no plan can meet given plant status (the solve will report infeasible)."""
    s = inst.settings
    plants = inst.tables["plants"]
    out = []
    for i, r in enumerate(s.plants_kept):
        sel = r.selects(plants["country"])
        n, keep = int(sel.sum()), int((sel & (plants["status"] == "keep")).sum())
        n_close = int((sel & (plants["status"] == "close")).sum())
        key = _rule_key(inst, "plants_kept", i)
        if r.min is not None and r.min > n - n_close:
            out.append(Problem(YAML, f"{key}.min = {r.min} but only {n - n_close} plants can stay open.",
                               column=f"{key}.min", fix=f"Lower {key}.min or change plant status."))
        if r.max is not None and r.max < keep:
            out.append(Problem(YAML, f"{key}.max = {r.max} but {keep} plants have status keep.",
                               column=f"{key}.max", fix=f"Raise {key}.max or change plant status."))
    for i, c in enumerate(s.capacity_kept):
        sel = c.selects(plants["country"])
        can = float(plants.loc[sel & (plants["status"] != "close"), "capacity"].sum())
        must = float(plants.loc[sel & (plants["status"] == "keep"), "capacity"].sum())
        key = _rule_key(inst, "capacity_kept", i)
        if c.min is not None and c.min > can:
            out.append(Problem(YAML, f"{key}.min = {c.min:g} but the plants that can stay open have capacity {can:g}.",
                               column=f"{key}.min", fix=f"Lower {key}.min or change plant status."))
        if c.max is not None and c.max < must:
            out.append(Problem(YAML, f"{key}.max = {c.max:g} but the plants with status keep have capacity {must:g}.",
                               column=f"{key}.max", fix=f"Raise {key}.max or change plant status."))
    for i, r in enumerate(s.min_jobs_cut):
        sel = r.selects(plants["country"])
        can = plants.loc[sel & (plants["status"] != "keep"), "jobs_cut"].sum()
        key = _rule_key(inst, "min_jobs_cut", i)
        if r.min > can:
            out.append(Problem(YAML, f"{key} = {r.min:g} exceeds the jobs_cut of plants that may close ({can:g}).",
                               column=key if key == "min_jobs_cut" else f"{key}.min", fix=f"Lower {key}."))
    return out


def warn_years(inst: Instance) -> list[Problem]:
    """Years that make a row or rule do nothing: rows that apply in no period, closure_year after YT,
    rule from_year after YT, available_from after YT."""
    s = inst.settings
    if s.periods is None:
        return []
    y1, yt = s.periods.first, s.periods.last
    out: list[Problem] = []
    for table, cols in _YEAR_COLS.items():
        df = inst.tables[table]
        if df.empty or "from_year" not in cols:
            continue
        rows = _rows(inst, table)
        lo, hi = df["from_year"].astype(float), df["to_year"].astype(float)
        idle = df.index[((lo > yt) | (hi < y1)).fillna(False) & ~(lo > hi).fillna(False)]
        for i in idle[:20]:
            out.append(Problem(inst.origins.get(table, table), f"row applies in no period ({y1}..{yt}): from_year "
                               f"{'' if pd.isna(lo[i]) else f'{lo[i]:.0f}'}, to_year {'' if pd.isna(hi[i]) else f'{hi[i]:.0f}'}.",
                               table=table, row=int(rows[i]), column="from_year" if lo[i] > yt else "to_year",
                               fix="Correct the years or delete the row (it has no effect)."))
        if len(idle) > 20:
            out.append(Problem(inst.origins.get(table, table), f"{len(idle) - 20} more rows apply in no period.",
                               table=table, column="from_year, to_year"))
    p = inst.tables["plants"]
    rows = _rows(inst, "plants")
    for i in p.index[(p["closure_year"].astype(float) > yt).fillna(False)]:
        out.append(Problem(inst.origins.get("plants", "plants"), f"plant {p.at[i, 'plant']}: closure_year "
                           f"{p.at[i, 'closure_year']:.0f} is after the last period {yt}, so the plant is open in "
                           "every year.", table="plants", row=int(rows[i]), column="closure_year",
                           fix=f"Use a year up to {yt}, or remove closure_year."))
    sw = inst.tables["software"]
    rows = _rows(inst, "software")
    for i in sw.index[(sw["available_from"].astype(float) > yt).fillna(False)]:
        out.append(Problem(inst.origins.get("software", "software"), f"stack {sw.at[i, 'model']}/{sw.at[i, 'stack']}: "
                           f"available_from {sw.at[i, 'available_from']:.0f} is after the last period {yt}, so it is "
                           "never developed.", table="software", row=int(rows[i]), column="available_from",
                           fix=f"Use a year up to {yt}, or delete the row."))
    for key in ("plants_kept", "capacity_kept", "co2_cap"):
        for i, r in enumerate(getattr(s, key)):
            if r.from_year is not None and r.from_year > yt:
                out.append(Problem(YAML, f"from_year {r.from_year} is after the last period {yt}: the rule covers no year.",
                                   column=_rule_key(inst, key, i, "from_year"),
                                   fix=f"Use a year up to {yt}, or remove the rule."))
    return out


WARNING_CHECKS: tuple[Check, ...] = (warn_plants_kept, warn_years)


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
        extra = [p for check in PARTIAL_CHECKS for p in check(partial)] if partial is not None else []
        if not extra or getattr(exc, "dropped", 0):
            raise
        raise InstanceValidationError(list(exc.problems) + extra, instance=exc.instance) from None
    return inst, validate(inst, strict=strict)
