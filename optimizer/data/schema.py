"""The one declarative schema of an instance: every YAML key and every table column.

Settings (``instance.yaml``) are a pydantic model whose fields carry type, default,
range and description.  Tables are :class:`TableSpec` records listing a
:class:`ColumnSpec` per column (type, unit, default, allowed range or values,
description); the table checks in :mod:`optimizer.data.instance` are generated from them
with pandera, and the README's format section is generated from them too
(:func:`format_reference`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# ---------------------------------------------------------------------------
# limits: numbers the solver can represent
# ---------------------------------------------------------------------------

MAX_QUANTITY = 1e12
"""Largest capacity, unit count, headcount or money figure accepted.

HiGHS refuses a model whose constraint coefficients reach 1e15 and reads bounds or costs of
1e20 or more as infinite, which silently changes the model.  Capacities and headcounts
enter the constraints as coefficients and money figures are multiplied by the annuity
factor (up to 200 years) and by duty rates (up to ``MAX_RATE``); 1e12 keeps every product
below both limits with room to spare, and is far above any real plant or price."""
MAX_RATE = 10.0
"""Largest ad-valorem duty rate accepted (1,000 %), for the same reason."""
MAX_COUNT = 1_000_000
"""Largest plant count in ``plants_kept`` (a count, kept well inside the solver's limits)."""
MAX_THREADS = 256
"""Most HiGHS threads (one OS thread each; thousands abort the process)."""
MAX_SEED = 2**31 - 1
"""HiGHS's random seed is a 32-bit signed integer."""

# ---------------------------------------------------------------------------
# instance.yaml settings
# ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Source(_Strict):
    """A reference for figures used in the instance."""

    id: str | None = None
    """Short id cited in a table's ``source`` column, e.g. ``S3``."""
    title: str | None = None
    """Title of the page or document."""
    url: str | None = None
    """Where it can be read."""
    date: str | None = None
    """Publication or event date."""
    note: str | None = None
    """What was taken from it."""


YEAR_MIN, YEAR_MAX = 1900, 2200
"""Range allowed for every year (periods, rule years, table year columns)."""

MAX_PERIODS = 100
"""At most this many periods (calendar years) in one plan."""


class Periods(_Strict):
    """One period per calendar year ``first``..``last`` (inclusive)."""

    first: int = Field(ge=YEAR_MIN, le=YEAR_MAX)
    """First year Y1 of the plan (year)."""
    last: int = Field(ge=YEAR_MIN, le=YEAR_MAX)
    """Last year YT of the plan (year)."""

    @model_validator(mode="after")
    def _order(self) -> Periods:
        if self.first > self.last:
            msg = f"first ({self.first}) is after last ({self.last}); set first <= last"
            raise ValueError(msg)
        if self.last - self.first + 1 > MAX_PERIODS:
            msg = f"{self.last - self.first + 1} periods ({self.first}..{self.last}); at most {MAX_PERIODS} are allowed"
            raise ValueError(msg)
        return self

    @property
    def years(self) -> range:
        """The calendar years Y1..YT."""
        return range(self.first, self.last + 1)


def _country_list(value: Any) -> Any:
    """A selector may be one country (a string) or a list of them."""
    if isinstance(value, str):
        return [value]
    return value


_COUNTRIES_DOC = "Only plants in these countries (plants.country) count."
_EXCLUDE_DOC = "All plants except those in these countries count."


class _Selector(_Strict):
    """Checks and helpers shared by the plant rules (fields are declared per rule, in display order)."""

    @model_validator(mode="before")
    @classmethod
    def _one_selector(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = dict(value)
            for k in ("countries", "exclude_countries"):
                if k in value:
                    value[k] = _country_list(value[k])
            if value.get("countries") is not None and value.get("exclude_countries") is not None:
                msg = "give at most one selector: countries or exclude_countries, not both"
                raise ValueError(msg)
            for k in ("countries", "exclude_countries"):
                if isinstance(value.get(k), list) and not value[k]:
                    msg = f"{k} is an empty list; name at least one country or remove {k}"
                    raise ValueError(msg)
        return value

    @property
    def selector(self) -> tuple[str, tuple[str, ...]] | None:
        """``("countries", (...))``, ``("exclude_countries", (...))`` or None (every plant)."""
        inc, exc = getattr(self, "countries", None), getattr(self, "exclude_countries", None)
        if inc is not None:
            return "countries", tuple(inc)
        if exc is not None:
            return "exclude_countries", tuple(exc)
        return None

    def selects(self, countries: Any) -> Any:
        """Boolean mask (or bool) of the plants, given their countries, that this rule counts."""
        import pandas as pd

        c = pd.Series(countries) if not isinstance(countries, pd.Series) else countries
        sel = self.selector
        if sel is None:
            return pd.Series(True, index=c.index)
        return c.isin(sel[1]) if sel[0] == "countries" else ~c.isin(sel[1])


class _BoundsRule(_Selector):
    @model_validator(mode="after")
    def _min_le_max(self) -> Any:
        lo, hi = getattr(self, "min"), getattr(self, "max")
        if lo is None and hi is None:
            msg = "a rule needs min and/or max"
            raise ValueError(msg)
        if lo is not None and hi is not None and lo > hi:
            msg = f"min ({lo:g}) is greater than max ({hi:g}); set min <= max"
            raise ValueError(msg)
        return self

    @property
    def plain(self) -> bool:
        """True for a v1-style rule: every plant, no from_year."""
        return self.selector is None and getattr(self, "from_year", None) is None


class PlantsKeptRule(_BoundsRule):
    """Bounds on the number of plants open (an integer n means exactly n)."""

    min: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    """At least this many selected plants are open (count)."""
    max: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    """At most this many selected plants are open (count)."""
    from_year: int | None = Field(default=None, ge=YEAR_MIN, le=YEAR_MAX)
    """The rule holds in every year >= from_year; empty = the last year only (year)."""
    countries: list[str] | None = Field(default=None, description=_COUNTRIES_DOC)
    exclude_countries: list[str] | None = Field(default=None, description=_EXCLUDE_DOC)


class CapacityKeptRule(_BoundsRule):
    """Bounds on the capacity of the plants open (a number x means exactly x)."""

    min: float | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    """At least this much capacity of selected plants is open (units/yr)."""
    max: float | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    """At most this much capacity of selected plants is open (units/yr)."""
    from_year: int | None = Field(default=None, ge=YEAR_MIN, le=YEAR_MAX)
    """The rule holds in every year >= from_year; empty = the last year only (year)."""
    countries: list[str] | None = Field(default=None, description=_COUNTRIES_DOC)
    exclude_countries: list[str] | None = Field(default=None, description=_EXCLUDE_DOC)


class JobsRule(_Selector):
    """Jobs lost (plants.jobs_cut of the selected plants closed by by_year) must reach min."""

    min: float = Field(ge=0, le=MAX_QUANTITY)
    """Jobs cut must reach at least this (people)."""
    by_year: int | None = Field(default=None, ge=YEAR_MIN, le=YEAR_MAX)
    """Count the plants closed in this year; empty = the last year (year)."""
    countries: list[str] | None = Field(default=None, description=_COUNTRIES_DOC)
    exclude_countries: list[str] | None = Field(default=None, description=_EXCLUDE_DOC)

    @model_validator(mode="before")
    @classmethod
    def _no_max(cls, value: Any) -> Any:
        if isinstance(value, dict) and "max" in value:
            msg = "min_jobs_cut has no max (it is a lower bound on jobs cut); remove max"
            raise ValueError(msg)
        return value

    @property
    def plain(self) -> bool:
        """True for a v1-style rule: every plant, no by_year."""
        return self.selector is None and self.by_year is None


class Co2CapRule(_Strict):
    """A cap on the yearly emissions E_y."""

    max: float = Field(ge=0, le=MAX_QUANTITY)
    """Emissions must stay at or below this in every covered year (t CO2/yr)."""
    from_year: int | None = Field(default=None, ge=YEAR_MIN, le=YEAR_MAX)
    """The cap holds in every year >= from_year; empty = every year (year)."""


class RuleList(list):  # type: ignore[type-arg]
    """A list of plant rules, with the v1 reading (``.min``/``.max``) of its plain rules.

    ``.min`` / ``.max`` are the tightest bounds among the rules that count every plant
    and have no ``from_year``/``by_year``; they raise ``ValueError`` when the list holds
    a rule with a selector or a year, so a reader that only knows the v1 form cannot
    silently ignore a v2 rule.  Iterate the list to read every rule.
    """

    def _plain(self) -> list[Any]:
        if any(not r.plain for r in self):
            msg = "this rule list has rules with a selector or a year; iterate the rules instead of reading .min/.max"
            raise ValueError(msg)
        return list(self)

    @property
    def min(self) -> Any:
        """The tightest (largest) min of the plain rules, or None."""
        vals = [r.min for r in self._plain() if r.min is not None]
        return max(vals) if vals else None

    @property
    def max(self) -> Any:
        """The tightest (smallest) max of the plain rules, or None (absent for min_jobs_cut)."""
        vals = [getattr(r, "max", None) for r in self._plain()]
        vals = [v for v in vals if v is not None]
        return min(vals) if vals else None

    @property
    def is_v1(self) -> bool:
        """True when every rule is plain (no selector, no year): the v1 form."""
        return all(r.plain for r in self)


def v1_bounds(rules: Any) -> tuple[Any, Any]:
    """``(min, max)`` of a rule list read the v1 way (see :class:`RuleList`); (None, None) for no rule."""
    rl = rules if isinstance(rules, RuleList) else RuleList(rules)
    return rl.min, rl.max


def _normalise_rules(value: Any, *, exact: bool) -> Any:
    """v1 forms -> list of rule mappings.

    ``None`` -> no rule; a number n -> one rule (``exact``: min = max = n, else min = n);
    a mapping -> one rule (an empty mapping, or one with min and max both empty and no
    other key, -> no rule); a list -> itself.
    """
    if value is None:
        return []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [{"min": value, "max": value}] if exact else [{"min": value}]
    if isinstance(value, dict):
        if all(v is None for v in value.values()) and set(value) <= {"min", "max"}:
            return []
        return [value]
    if isinstance(value, tuple):
        return list(value)
    return value


class SolverSettings(_Strict):
    """Solver options; the CLI and API arguments override them."""

    time_limit_s: float = Field(default=60.0, gt=0, le=1e9)
    """Wall-clock limit for HiGHS (seconds)."""
    mip_rel_gap: float = Field(default=1e-4, ge=0, le=1)
    """Stop when the relative MIP gap is at most this (fraction)."""
    threads: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    """HiGHS threads; empty = HiGHS default."""
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    """HiGHS random seed."""
    method: Literal["auto", "monolithic", "benders"] = "monolithic"
    """How to solve: monolithic (one HiGHS MIP; the default: Ctrl-C keeps the incumbent and the live status line shows its progress), benders (decomposition: plan master, flow LP subproblems per year; single sourcing is always monolithic) or auto (benders from 5,000 flow-years without single sourcing, monolithic below; measured in benchmarks/results/benders.md)."""


TableValue = str | list[dict[str, Any]]


class Settings(_Strict):
    """Top-level keys of ``instance.yaml``."""

    name: str | None = None
    """Instance name (default: the folder name)."""
    description: str = ""
    """Free text."""
    currency: str = "USD"
    """Currency of every money figure."""
    sources: list[str | Source] = Field(default_factory=list)
    """Where the figures come from (strings or mappings with id/title/url/date/note)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form information, ignored by the model (e.g. a published optimum)."""
    horizon_years: int = Field(default=1, ge=1, le=200)
    """Years H over which the steady-state year's cash flows count, without periods; with periods it must be absent (years)."""
    discount_rate: float = Field(default=0.0, ge=0, lt=1)
    """Annual rate r: annuity factor A = sum_{t=1..H} (1+r)^-t, or with periods year t's factor (1+r)^-t (fraction)."""
    periods: Periods | None = None
    """{first: Y1, last: YT}: a multi-year plan, one period per year; empty = the v1 steady state (years)."""
    tail_years: int = Field(default=0, ge=0, le=200)
    """Years after YT in which the last year's operating cash flow is repeated; needs periods (years)."""
    plants_kept: list[PlantsKeptRule] = Field(default_factory=RuleList)
    """Rules on the number of plants open: {min, max} (v1), an integer n (exactly n), one rule mapping or a list of rules {min, max, from_year, countries or exclude_countries} (count)."""
    capacity_kept: list[CapacityKeptRule] = Field(default_factory=RuleList)
    """Rules on the capacity of plants open, same forms as plants_kept (units/yr)."""
    min_jobs_cut: list[JobsRule] = Field(default_factory=RuleList)
    """Jobs cut (plants.jobs_cut of closed plants) must reach min: a number (v1), one mapping {min, by_year, countries or exclude_countries} or a list of them (people)."""
    co2_price: float = Field(default=0.0, ge=0, le=MAX_QUANTITY)
    """Charge per tonne of CO2 emitted (money/t)."""
    co2_cap: list[Co2CapRule] = Field(default_factory=list)
    """Caps on yearly emissions: one mapping {max, from_year} or a list of them (t CO2/yr)."""
    duty_basis: Literal["cif", "fob"] = "cif"
    """Ad-valorem duty on customs value plus freight (cif) or customs value only (fob)."""
    single_sourcing: bool = False
    """Each (model, market) is supplied by at most one plant."""
    solver: SolverSettings = Field(default_factory=SolverSettings)
    """Solver options."""
    scenarios: dict[str, Any] = Field(default_factory=dict)
    """Named what-if overrides applied on top of this instance (see the README's scenarios section)."""
    scenario_sets: dict[str, Any] = Field(default_factory=dict)
    """Named sets of scenarios for one plan under uncertainty: {description, criterion, scenarios: {name: weight}}."""
    tables: dict[str, TableValue] = Field(default_factory=dict)
    """Table name -> CSV path (relative to the folder) or inline list of records."""

    @field_validator("plants_kept", "capacity_kept", mode="before")
    @classmethod
    def _bounds_forms(cls, value: Any) -> Any:
        return _normalise_rules(value, exact=True)

    @field_validator("min_jobs_cut", mode="before")
    @classmethod
    def _jobs_forms(cls, value: Any) -> Any:
        return _normalise_rules(value, exact=False)

    @field_validator("co2_cap", mode="before")
    @classmethod
    def _co2_forms(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value

    @field_validator("plants_kept", "capacity_kept", "min_jobs_cut", mode="after")
    @classmethod
    def _as_rule_list(cls, value: Any) -> Any:
        return RuleList(value)

    @property
    def years(self) -> list[int]:
        """The plan's calendar years (empty without periods)."""
        return list(self.periods.years) if self.periods is not None else []


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------

Kind = Literal["id", "str", "float", "int", "year", "bool", "enum", "list"]
"""Column kinds.  ``year`` columns are integers (checked), stored as float64 with NaN for empty
cells, so that ``.astype(float)`` and comparisons with a year work directly."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of one table."""

    name: str
    kind: Kind
    description: str
    required: bool = True
    default: Any = None
    unit: str = ""
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    choices: tuple[str, ...] = ()
    wildcard: bool = False
    default_from: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table: its key columns and every column."""

    name: str
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    description: str
    required: bool = True
    allowed_extra: tuple[str, ...] = field(default=("source", "note"))

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column ``name``."""
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        """All column names, model columns first, then the free-text ones."""
        return tuple(c.name for c in self.columns) + self.allowed_extra


def _id(name: str, description: str) -> ColumnSpec:
    return ColumnSpec(name, "id", description)


def _year(name: str, description: str) -> ColumnSpec:
    return ColumnSpec(name, "year", description, required=False, unit="year", ge=YEAR_MIN, le=YEAR_MAX)


YEAR_COLUMNS = ("from_year", "to_year")
"""Columns that limit a row to some years (inclusive; empty = open-ended)."""


def _range_cols() -> tuple[ColumnSpec, ColumnSpec]:
    return (_year("from_year", "First year the row applies; empty = from the start (needs periods)."),
            _year("to_year", "Last year the row applies; empty = to the end (needs periods)."))


def _co2(what: str) -> ColumnSpec:
    return ColumnSpec("co2", "float", f"CO2 emitted {what}.", required=False, default=0.0, unit="t/unit", ge=0)


def _money(name: str, description: str, unit: str, *, required: bool = True, default: Any = None) -> ColumnSpec:
    return ColumnSpec(name, "float", description, required=required, default=default, unit=unit, ge=0, le=MAX_QUANTITY)


_POWERTRAINS = ("BEV", "PHEV", "HEV", "ICE")

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "plants",
            ("plant",),
            (
                _id("plant", "Plant id."),
                ColumnSpec("country", "str", "Country of the plant (origin for tariffs and export channels)."),
                ColumnSpec("capacity", "float", "Plant capacity.", unit="units/yr", ge=0, le=MAX_QUANTITY),
                _money("fixed_cost", "Fixed cost while the plant is kept.", "money/yr"),
                ColumnSpec("closure_cost", "float",
                           "One-off cost if the plant is closed, charged in the first year closed; negative = net sale proceeds.",
                           unit="money", ge=-MAX_QUANTITY, le=MAX_QUANTITY),
                ColumnSpec("headcount", "float", "Jobs at the plant (cut if closed).", unit="people", ge=0,
                           le=MAX_QUANTITY),
                ColumnSpec(
                    "status",
                    "enum",
                    "free: the model decides; keep/close: decision fixed.",
                    required=False,
                    default="free",
                    choices=("free", "keep", "close"),
                ),
                ColumnSpec("region", "str", "Region label.", required=False, default=""),
                ColumnSpec("lat", "float", "Latitude.", required=False, unit="deg", ge=-90, le=90),
                ColumnSpec("lon", "float", "Longitude.", required=False, unit="deg", ge=-180, le=180),
                _year("earliest_closure", "The plant is open in every year before this one (needs periods)."),
                _year("closure_year", "Decided closure: open before this year, closed from it on (needs periods; "
                                      "not with status keep/close)."),
                ColumnSpec("equity_share", "float",
                           "Share of the plant's cash flows (margins, fixed and closure costs) counted in the NPV, e.g. 0.5 "
                           "for a 50:50 joint venture.", required=False, default=1.0, unit="fraction", gt=0, le=1),
                ColumnSpec("jobs_cut", "float", "Jobs lost if the plant closes (min_jobs_cut, jobs KPIs); empty = headcount.",
                           required=False, unit="people", ge=0, le=MAX_QUANTITY, default_from="headcount"),
            ),
            "Candidate plants and their cost, capacity and jobs.",
        ),
        TableSpec(
            "models",
            ("model",),
            (
                _id("model", "Vehicle model id."),
                ColumnSpec("powertrain", "enum", "Powertrain (selects tariff rows).", choices=_POWERTRAINS),
                ColumnSpec("segment", "str", "Segment label.", required=False, default=""),
            ),
            "Vehicle models.",
        ),
        TableSpec(
            "production",
            ("plant", "model"),
            (
                _id("plant", "Plant id (plants.plant)."),
                _id("model", "Model id (models.model)."),
                _money("unit_cost", "Production cost per vehicle at this plant.", "money/unit"),
                ColumnSpec(
                    "capacity",
                    "float",
                    "Line capacity for this model at this plant; empty = no line limit.",
                    required=False,
                    unit="units/yr",
                    ge=0,
                    le=MAX_QUANTITY,
                ),
                _co2("making one unit of this model at this plant"),
                *_range_cols(),
            ),
            "Which plant can build which model, at what cost.",
        ),
        TableSpec(
            "software",
            ("model", "stack"),
            (
                _id("model", "Model id (models.model)."),
                _id("stack", "Software stack id."),
                ColumnSpec("origin", "str", "Country of the AI/software supplier (checked against bans)."),
                _money("dev_cost", "One-off cost to develop this variant (not charged for the default).", "money"),
                _money("unit_cost", "Software cost per vehicle.", "money/unit"),
                ColumnSpec("default", "bool", "True for the stack the model already has."),
                _year("available_from", "The stack cannot be developed before this year (needs periods; not on a "
                                        "default stack)."),
            ),
            "Software stacks per model. A model without rows has one implicit stack 'default' with no origin.",
            required=False,
        ),
        TableSpec(
            "markets",
            ("market",),
            (
                _id("market", "Market id."),
                ColumnSpec("country", "str", "Country of the market (a flow is domestic when it equals the plant's)."),
                ColumnSpec("region", "str", "Region label.", required=False, default=""),
                ColumnSpec(
                    "banned_software_origins",
                    "list",
                    "';'-separated software origins banned here; empty = none.",
                    required=False,
                    default="",
                ),
            ),
            "Markets.",
        ),
        TableSpec(
            "demand",
            ("model", "market"),
            (
                _id("model", "Model id (models.model)."),
                _id("market", "Market id (markets.market)."),
                _money("price", "Net revenue per vehicle sold.", "money/unit"),
                ColumnSpec("max_units", "float", "Most units that can be sold.", unit="units/yr", ge=0, le=MAX_QUANTITY),
                ColumnSpec("min_units", "float", "Units that must be sold.", required=False, default=0.0, unit="units/yr", ge=0,
                           le=MAX_QUANTITY),
                ColumnSpec(
                    "customs_value",
                    "float",
                    "Declared value per unit for ad-valorem duty; empty = price.",
                    required=False,
                    unit="money/unit",
                    ge=0,
                    le=MAX_QUANTITY,
                    default_from="price",
                ),
                *_range_cols(),
            ),
            "Demand and price per (model, market).",
        ),
        TableSpec(
            "freight",
            ("plant", "market"),
            (
                _id("plant", "Plant id (plants.plant)."),
                _id("market", "Market id (markets.market)."),
                _money("unit_cost", "Freight per vehicle; a missing pair means the lane does not exist.", "money/unit"),
                _co2("shipping one unit on this lane"),
                *_range_cols(),
            ),
            "Lanes from plants to markets.",
        ),
        TableSpec(
            "tariffs",
            ("origin", "market", "powertrain"),
            (
                ColumnSpec("origin", "str", "Country of the plant, or '*'.", wildcard=True),
                ColumnSpec("market", "str", "Market id, or '*'.", wildcard=True),
                ColumnSpec("powertrain", "str", "Powertrain, or '*'.", wildcard=True),
                ColumnSpec("ad_valorem", "float", "Ad-valorem duty rate.", unit="fraction", ge=0, le=MAX_RATE),
                ColumnSpec("specific", "float", "Specific duty per vehicle.", required=False, default=0.0, unit="money/unit", ge=0,
                           le=MAX_QUANTITY),
                *_range_cols(),
            ),
            "Import duties; the matching row with the most non-wildcard keys applies (per year, among the rows that "
            "apply in that year).",
            required=False,
        ),
        TableSpec(
            "export_channels",
            ("origin",),
            (
                ColumnSpec("origin", "str", "Country whose exports pass through this channel."),
                ColumnSpec("capacity", "float", "Units per year leaving that country.", unit="units/yr", ge=0,
                           le=MAX_QUANTITY),
                _money("unit_fee", "Fee per exported vehicle.", "money/unit"),
                *_range_cols(),
            ),
            "Export channels limiting non-domestic flows out of a country.",
            required=False,
        ),
        TableSpec(
            "bans",
            ("market", "kind", "origin"),
            (
                _id("market", "Market id (markets.market)."),
                ColumnSpec("kind", "enum", "software: stacks of this origin are banned in the market; plant: vehicles "
                                           "built in plants of this country may not be sold there (domestic sales included).",
                           choices=("software", "plant")),
                ColumnSpec("origin", "str", "Software origin (kind software) or plant country (kind plant)."),
                *_range_cols(),
            ),
            "Bans that hold for some years (markets.banned_software_origins still holds in every year).",
            required=False,
        ),
        TableSpec(
            "tariff_quotas",
            ("origin", "market", "powertrain"),
            (
                ColumnSpec("origin", "str", "Country of the plant, or '*'.", wildcard=True),
                ColumnSpec("market", "str", "Market id, or '*'.", wildcard=True),
                ColumnSpec("powertrain", "str", "Powertrain, or '*'.", wildcard=True),
                ColumnSpec("quota", "float", "Units per year admitted at the in-quota rate (one pool per row).",
                           unit="units/yr", ge=0, le=MAX_QUANTITY),
                ColumnSpec("ad_valorem", "float", "In-quota ad-valorem duty rate.", unit="fraction", ge=0, le=MAX_RATE),
                ColumnSpec("specific", "float", "In-quota specific duty per vehicle.", required=False, default=0.0,
                           unit="money/unit", ge=0, le=MAX_QUANTITY),
                *_range_cols(),
            ),
            "Tariff-rate quotas: up to quota units of the non-domestic flows covered by the most specific matching row "
            "pay its rate instead of the tariffs rate.",
            required=False,
        ),
    )
}


def _typename(ann: Any) -> str:
    name = getattr(ann, "__name__", None) if not hasattr(ann, "__args__") else None
    text = name or str(ann).replace("typing.", "").replace("optimizer.data.schema.", "")
    return text.replace("|", "or").replace("NoneType", "None")


def _bounds(info: Any) -> str:
    out = []
    for meta in info.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                out.append(f"{op} {getattr(meta, attr)}")
    return ", ".join(out)


DOC_HEADER = (
    "# Instance format reference\n\n"
    "<!-- generated by `optimizer schema > docs/instance-format.md`; tests/test_docs.py checks it is current -->\n\n"
    "Capacities, unit counts, headcounts and money figures are limited to 1e12 (and duty rates to 10): "
    "HiGHS refuses constraint coefficients of 1e15 or more and reads bounds or costs of 1e20 or more as "
    "infinite, and these figures are multiplied by the horizon and the rates in the model. Use thousands "
    "or millions as the unit if your figures are larger.\n\n"
)


YEARS_NOTE = (
    "**Years.** Every `year` column holds whole calendar years between "
    f"{YEAR_MIN} and {YEAR_MAX}; an empty cell means open-ended (`from_year`, `to_year`) or none. Loaded tables "
    "store year columns as float64, empty = NaN. Year columns, `tail_years`, rule `from_year`/`by_year` and "
    "`co2_cap[].from_year` need `periods`; with `periods`, `horizon_years` must be absent. Rows of one key "
    "(the table's key columns) may repeat when their [from_year, to_year] ranges do not overlap; a row that "
    "applies in no period is a warning. The v1 forms of `plants_kept` ({min, max} or an integer n = exactly n), "
    "`capacity_kept` and `min_jobs_cut` (a number) are read as one rule that counts every plant in the last "
    "year; a mapping with `from_year`, `by_year` or a selector is one rule; a list is a list of rules."
)


def format_reference() -> str:
    """Return the instance format as Markdown, generated from this schema."""
    lines = ["### `instance.yaml` keys", "", "| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    items: list[tuple[str, Any]] = list(Settings.model_fields.items())
    items += [(f"periods.{k}", v) for k, v in Periods.model_fields.items()]
    for key, model in (("plants_kept", PlantsKeptRule), ("capacity_kept", CapacityKeptRule),
                       ("min_jobs_cut", JobsRule), ("co2_cap", Co2CapRule)):
        items += [(f"{key}[].{k}", v) for k, v in model.model_fields.items()]
    items += [(f"solver.{k}", v) for k, v in SolverSettings.model_fields.items()]
    for name, info in items:
        if info.is_required():
            lines.append(f"| `{name}` | {_typename(info.annotation)} | required | {_bounds(info)} | {info.description or ''} |")
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump()
        lines.append(f"| `{name}` | {_typename(info.annotation)} | `{default!r}` | {_bounds(info)} | {info.description or ''} |")
    lines += ["", YEARS_NOTE]
    for spec in TABLES.values():
        req = "required" if spec.required else "optional"
        lines += ["", f"### table `{spec.name}` ({req}; key: {', '.join(spec.key)})", "", spec.description, ""]
        lines += ["| column | type | unit | required | default | allowed | description |", "|---|---|---|---|---|---|---|"]
        for c in spec.columns:
            allowed = []
            if c.ge is not None:
                allowed.append(f">= {c.ge:g}")
            if c.gt is not None:
                allowed.append(f"> {c.gt:g}")
            if c.le is not None:
                allowed.append(f"<= {c.le:g}")
            if c.choices:
                allowed.append(" / ".join(c.choices))
            if c.wildcard:
                allowed.append("`*` = any")
            default = "" if c.required else (f"= {c.default_from}" if c.default_from else repr(c.default))
            lines.append(
                f"| `{c.name}` | {c.kind} | {c.unit} | {'yes' if c.required else 'no'} | {default} | {', '.join(allowed)} | {c.description} |"
            )
        lines.append("| `source`, `note` | str | | no | | | Free text, ignored by the model. |")
    from .validate import ERROR_CHECKS, WARNING_CHECKS  # late: validate imports this module

    lines += ["", "### Cross-table checks", "",
              "Run after the type checks above; every problem found is listed with file, table, row, column and a fix.",
              "", "| check | kind | what |", "|---|---|---|"]
    for kind, checks in (("error", ERROR_CHECKS), ("warning", WARNING_CHECKS)):
        for check in checks:
            doc = " ".join((check.__doc__ or "").split("\n\n")[0].split())
            lines.append(f"| `{check.__name__}` | {kind} | {doc} |")
    return "\n".join(lines) + "\n"

