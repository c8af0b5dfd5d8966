"""Results of a solve: status, figures and tidy DataFrames.

Tables are extracted only from a solve that holds a feasible solution; asking for
them otherwise raises :class:`~optimizer.errors.NoSolutionError`.  Values are
read through one registry of variables (``x`` flows, ``z`` plants, ``w`` stacks) and
the cost hub of the model, so the breakdown is the objective the solver optimised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..errors import NoSolutionError, Problem
from ..data.prepare import ModelData
from ..solver.highs import SolveReport, Status

FLOW_TOL = 1e-7
"""Flows below this many units are treated as zero in the tables."""

TABLE_NAMES = ("plants", "flows", "sales", "software", "breakdown")


def context_of(instance: Any, annuity: float | None = None) -> dict[str, Any]:
    """What a report needs from the instance besides the result tables (kept in ``summary.json``).

    Currency, horizon, discount rate, annuity factor, plant coordinates (``None`` where the
    plants table has no lat/lon) and the country of each market.
    """
    s = instance.settings
    pl = instance.tables["plants"]
    mk = instance.tables["markets"]

    def coord(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    lat = pl["lat"] if "lat" in pl else pd.Series([None] * len(pl))
    lon = pl["lon"] if "lon" in pl else pd.Series([None] * len(pl))
    return {
        "currency": s.currency,
        "horizon_years": s.horizon_years,
        "discount_rate": s.discount_rate,
        "annuity": annuity,
        "plants": {str(p): [coord(a), coord(o)] for p, a, o in zip(pl["plant"], lat, lon)},
        "markets": {str(m): str(c) for m, c in zip(mk["market"], mk["country"])},
    }


def _values(var: Any, keys: Any) -> np.ndarray:
    return np.array([0.0 if var[k].value is None else float(var[k].value) for k in keys], dtype=float)


def extract_tables(m: pyo.ConcreteModel, data: ModelData) -> dict[str, pd.DataFrame]:
    """Build the result tables from the solved model ``m``."""
    A = data.annuity
    fl = data.flows
    x = _values(m.x, range(data.n_flows))
    x[np.abs(x) < FLOW_TOL] = 0.0
    z = pd.Series(_values(m.z, list(data.plants.index)).round(), index=data.plants.index)

    flows = fl.loc[x > 0, ["plant", "model", "stack", "market", "country", "domestic", "price", "production", "freight",
                           "ad_valorem", "specific", "duties", "software", "channel_fees", "margin"]].copy()
    flows.insert(4, "units", x[x > 0])
    flows = flows.rename(columns={"production": "production_cost", "freight": "freight_cost", "duties": "duty",
                                  "software": "software_cost", "channel_fees": "channel_fee", "country": "origin"})
    flows["annual_margin"] = flows["units"] * flows["margin"]
    flows = flows.reset_index(drop=True)

    pl = data.plants
    prod = pd.Series(x, index=fl.index).groupby(fl["plant"]).sum().reindex(pl.index, fill_value=0.0)
    plants = pd.DataFrame({
        "plant": pl.index, "country": pl["country"].to_numpy(), "status": pl["status"].to_numpy(),
        "kept": z.to_numpy() > 0.5, "production": prod.to_numpy(), "capacity": pl["capacity"].to_numpy(float),
    })
    cap = plants["capacity"].replace(0, np.nan)
    plants["utilisation"] = (plants["production"] / cap).fillna(0.0)
    plants["fixed_cost_annual"] = np.where(plants["kept"], pl["fixed_cost"].to_numpy(float), 0.0)
    plants["closure_cost"] = np.where(plants["kept"], 0.0, pl["closure_cost"].to_numpy(float))
    plants["headcount"] = pl["headcount"].to_numpy(float)
    plants["jobs_cut"] = np.where(plants["kept"], 0.0, plants["headcount"])

    d = data.demand
    sold = pd.Series(x, index=fl.index).groupby([fl["model"], fl["market"]]).sum()
    sales = d[["model", "market", "price", "min_units", "max_units"]].copy()
    sales["sold"] = sold.reindex(pd.MultiIndex.from_frame(sales[["model", "market"]]), fill_value=0.0).to_numpy()
    sales["unmet"] = (sales["max_units"] - sales["sold"]).clip(lower=0.0)
    sales["revenue_annual"] = sales["sold"] * sales["price"]
    sales = sales[["model", "market", "sold", "min_units", "max_units", "unmet", "price", "revenue_annual"]]

    st = data.stacks.copy()
    wv = {k: (m.w[k].value or 0.0) for k in m.W}
    st["developed"] = [bool(dflt) or wv.get((v, s), 0.0) > 0.5 for v, s, dflt in zip(st["model"], st["stack"], st["default"])]
    st["dev_cost_charged"] = np.where(st["developed"] & ~st["default"].astype(bool), st["dev_cost"], 0.0)
    units = pd.Series(x, index=fl.index).groupby([fl["model"], fl["stack"]]).sum()
    st["units"] = units.reindex(pd.MultiIndex.from_frame(st[["model", "stack"]]), fill_value=0.0).to_numpy()
    software = st[["model", "stack", "origin", "default", "developed", "dev_cost", "dev_cost_charged", "unit_cost", "units"]]
    software = software.rename(columns={"unit_cost": "unit_software_cost"}).reset_index(drop=True)

    rows = []
    for c in m.cost_hub:
        val = c.constant + sum(k * (v.value or 0.0) for v, k in c.var_terms)
        if c.flow_coef is not None:
            val += float(c.flow_coef @ x)
        val = c.sign * val + 0.0
        rows.append({"component": c.name, "annual": val if c.annual else math.nan, "npv": val * A if c.annual else val})
    breakdown = pd.DataFrame(rows)
    total = {"component": "npv", "annual": breakdown["annual"].sum(min_count=1), "npv": breakdown["npv"].sum()}
    breakdown = pd.concat([breakdown, pd.DataFrame([total])], ignore_index=True)
    return {"plants": plants, "flows": flows, "sales": sales, "software": software, "breakdown": breakdown}


@dataclass
class Result:
    """The answer of one solve.

    ``status``, ``objective`` (NPV), ``bound`` and ``gap`` are always set (``None``
    where they do not exist); the tables exist only when ``status`` is optimal or
    feasible.
    """

    status: Status
    objective: float | None
    bound: float | None
    gap: float | None
    report: SolveReport | None
    timings: dict[str, float]
    instance: str = ""
    message: str = ""
    warnings: list[Problem] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    scenario: str | None = None
    """Name of the scenario solved (set by :func:`optimizer.solve_scenario`), ``None`` for a plain solve."""
    scenario_changes: list[str] = field(default_factory=list)
    """The scenario's applied changes, in order (human-readable)."""
    context: dict[str, Any] = field(default_factory=dict)
    """Currency, horizon, coordinates and market countries (:func:`context_of`), for reports."""
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def _table(self, name: str) -> pd.DataFrame:
        if not self.status.has_solution:
            msg = f"no solution to report: the solve ended '{self.status}'" + (f" ({self.message})" if self.message else "")
            raise NoSolutionError(msg)
        return self._tables[name]

    @property
    def plants(self) -> pd.DataFrame:
        """One row per plant: kept, production, capacity, utilisation, costs, headcount, jobs cut."""
        return self._table("plants")

    @property
    def flows(self) -> pd.DataFrame:
        """One row per used flow (plant, model, stack, market): units, unit margin and its parts."""
        return self._table("flows")

    @property
    def sales(self) -> pd.DataFrame:
        """One row per (model, market) with demand: sold, bounds, unmet demand, revenue."""
        return self._table("sales")

    @property
    def software(self) -> pd.DataFrame:
        """One row per (model, stack): developed or not, costs, units."""
        return self._table("software")

    @property
    def breakdown(self) -> pd.DataFrame:
        """NPV components (annual and NPV) and their total."""
        return self._table("breakdown")

    @property
    def kpis(self) -> dict[str, Any]:
        """Headline figures: plants kept/closed, jobs cut, units sold, NPV."""
        if not self.status.has_solution:
            return {}
        p = self.plants
        return {
            "npv": self.objective,
            "plants_kept": int(p["kept"].sum()),
            "plants_closed": int((~p["kept"]).sum()),
            "closed_plants": p.loc[~p["kept"], "plant"].tolist(),
            "jobs_cut": float(p["jobs_cut"].sum()),
            "units_sold": float(self.sales["sold"].sum()),
            "stacks_developed": int((self.software["developed"] & ~self.software["default"].astype(bool)).sum()),
        }

    @property
    def solver(self) -> str:
        """Solver name and version."""
        return f"{self.report.solver} {self.report.solver_version}" if self.report else ""

    def raise_for_status(self) -> Result:
        """Raise :class:`NoSolutionError` unless the solve holds a solution; return self."""
        if not self.status.has_solution:
            self._table("plants")
        return self

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``summary.json`` holds)."""
        k = self.kpis
        bd = None
        if self.status.has_solution:
            bd = {r.component: {"annual": None if pd.isna(r.annual) else float(r.annual), "npv": float(r.npv)}
                  for r in self.breakdown.itertuples()}
        rep = self.report
        scen = {} if self.scenario is None else {"scenario": self.scenario,
                                                  "scenario_changes": list(self.scenario_changes)}
        return {
            "instance": self.instance,
            **scen,
            "status": str(self.status),
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "plants_kept": k.get("plants_kept"),
            "jobs_cut": k.get("jobs_cut"),
            "kpis": k,
            "breakdown": bd,
            "timings": self.timings,
            "termination": str(rep.termination.value) if rep else None,
            "solver": rep.solver if rep else "HiGHS",
            "solver_version": rep.solver_version if rep else None,
            "nodes": rep.nodes if rep else None,
            "sizes": self.sizes,
            "message": self.message,
            "warnings": [str(w) for w in self.warnings],
            "context": self.context,
        }

    def write(self, out: str | Path) -> Path:
        """Write ``summary.json`` and, with a solution, one CSV per table into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(self.summary(), indent=2, default=_json_default) + "\n")
        if self.status.has_solution:
            for name in TABLE_NAMES:
                self._tables[name].to_csv(out / f"{name}.csv", index=False)
        return out


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return str(o)
