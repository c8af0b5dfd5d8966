"""Results of a solve: status, figures and tidy DataFrames.

Tables are extracted only from a solve that holds a feasible solution; asking for
them otherwise raises :class:`~optimizer.errors.NoSolutionError`.  Values are
read through one registry of variables (``x`` flows, ``z`` plants, ``w`` stacks) and
the cost hub of the model, so the breakdown is the objective the solver optimised.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..errors import NoSolutionError, OutputPathError, Problem
from ..data.prepare import ModelData
from ..solver.highs import SolveReport, Status

FLOW_TOL = 1e-7
"""Flows below this many units are treated as zero in the tables."""

TABLE_NAMES = ("plants", "flows", "sales", "software", "breakdown")


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
        }

    def write(self, out: str | Path) -> Path:
        """Write ``summary.json`` and, with a solution, one CSV per table into ``out``.

        The result files are replaced as a whole: they are written to a temporary folder
        first, then an ``out`` holding only result files is swapped for it by renames; in a
        folder with other files, the old result files (also tables this result does not
        have) are removed and the new ones moved in, ``summary.json`` last.  Nothing of an
        earlier result stays beside the new summary.
        """
        out = Path(out)
        check_out_dir(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            names = ["summary.json"]
            if self.status.has_solution:
                for name in TABLE_NAMES:
                    self._tables[name].to_csv(tmp / f"{name}.csv", index=False)
                    names.append(f"{name}.csv")
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2, default=_json_default) + "\n",
                                              encoding="utf-8")
            ours = {"summary.json", *(f"{n}.csv" for n in TABLE_NAMES)}
            if not out.exists():
                os.rename(tmp, out)
                return out
            if {p.name for p in out.iterdir()} <= ours:
                trash = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:10]}"
                os.rename(out, trash)
                os.rename(tmp, out)
                shutil.rmtree(trash, ignore_errors=True)
                return out
            for stale in ["summary.json", *sorted(ours - set(names))]:
                (out / stale).unlink(missing_ok=True)
            for name in [*names[1:], "summary.json"]:
                os.replace(tmp / name, out / name)
            return out
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return str(o)


def check_out_dir(out: str | Path) -> Path:
    """Check that result files can be written to folder ``out`` (before a long solve).

    Raises :class:`~optimizer.errors.OutputPathError` when ``out`` is a file, lies under a
    file, or its folder (or nearest existing parent) is not writable.
    """
    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            msg = f"--out '{out}' is a file, not a folder; pass a folder (it is created if missing)"
            raise OutputPathError(msg)
        probe = out
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            msg = f"--out '{out}' cannot be created: '{probe}' is a file"
            raise OutputPathError(msg)
        if not os.access(probe, os.W_OK | os.X_OK):
            msg = f"--out '{out}': folder '{probe}' is not writable; choose another folder or fix its permissions"
            raise OutputPathError(msg)
    except OSError as exc:  # e.g. a name too long, a NUL byte, a symlink loop
        msg = f"--out '{out}' cannot be used: {exc.strerror or exc}"
        raise OutputPathError(msg) from None
    except ValueError as exc:
        if isinstance(exc, OutputPathError):
            raise
        msg = f"--out {str(out)!r} cannot be used: {exc}"
        raise OutputPathError(msg) from None
    return out
