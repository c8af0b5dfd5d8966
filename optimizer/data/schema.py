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

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class PlantsKept(_Strict):
    """Bounds on the number of plants kept open (an integer n means exactly n)."""

    min: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    """At least this many plants are kept (count)."""
    max: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    """At most this many plants are kept (count)."""

    @model_validator(mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        """``plants_kept: 10`` means exactly 10 (min = max = 10)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return {"min": value, "max": value}
        return value

    @model_validator(mode="after")
    def _min_le_max(self) -> PlantsKept:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min ({self.min}) is greater than max ({self.max}); set min <= max"
            raise ValueError(msg)
        return self


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
    """Years H over which annual cash flows count (years)."""
    discount_rate: float = Field(default=0.0, ge=0, lt=1)
    """Annual rate r of the annuity factor A = sum_{t=1..H} (1+r)^-t (fraction)."""
    plants_kept: PlantsKept = Field(default_factory=PlantsKept)
    """Bounds on the number of plants kept (count)."""
    min_jobs_cut: float | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    """Total headcount of closed plants must reach this (people)."""
    duty_basis: Literal["cif", "fob"] = "cif"
    """Ad-valorem duty on customs value plus freight (cif) or customs value only (fob)."""
    single_sourcing: bool = False
    """Each (model, market) is supplied by at most one plant."""
    solver: SolverSettings = Field(default_factory=SolverSettings)
    """Solver options."""
    scenarios: dict[str, Any] = Field(default_factory=dict)
    """Named what-if overrides applied on top of this instance (see the README's scenarios section)."""
    tables: dict[str, TableValue] = Field(default_factory=dict)
    """Table name -> CSV path (relative to the folder) or inline list of records."""


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------

Kind = Literal["id", "str", "float", "int", "bool", "enum", "list"]


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
                _money("closure_cost", "One-off cost if the plant is closed.", "money"),
                ColumnSpec("headcount", "float", "Jobs at the plant (cut if closed).", unit="people", ge=0, le=MAX_QUANTITY),
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
            ),
            "Import duties; the matching row with the most non-wildcard keys applies.",
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
            ),
            "Export channels limiting non-domestic flows out of a country.",
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


def format_reference() -> str:
    """Return the instance format as Markdown, generated from this schema."""
    lines = ["### `instance.yaml` keys", "", "| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    items: list[tuple[str, Any]] = list(Settings.model_fields.items())
    items += [(f"plants_kept.{k}", v) for k, v in PlantsKept.model_fields.items()]
    items += [(f"solver.{k}", v) for k, v in SolverSettings.model_fields.items()]
    for name, info in items:
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump()
        lines.append(f"| `{name}` | {_typename(info.annotation)} | `{default!r}` | {_bounds(info)} | {info.description or ''} |")
    for spec in TABLES.values():
        req = "required" if spec.required else "optional"
        lines += ["", f"### table `{spec.name}` ({req}; key: {', '.join(spec.key)})", "", spec.description, ""]
        lines += ["| column | type | unit | required | default | allowed | description |", "|---|---|---|---|---|---|---|"]
        for c in spec.columns:
            allowed = []
            if c.ge is not None:
                allowed.append(f">= {c.ge:g}")
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
    return "\n".join(lines) + "\n"

