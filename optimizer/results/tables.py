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

from ..errors import NoSolutionError, OutputPathError, Problem
from ..data.prepare import ModelData
from ..models import Blocks
from ..solver.highs import SolveReport, Status

FLOW_TOL = 1e-7
"""Flows below this many units are treated as zero in the tables."""

TABLE_NAMES = ("plants", "flows", "sales", "software", "breakdown")
"""Tables of every result."""

YEAR_TABLES = ("plant_years", "quota_use", "breakdown_by_year", "kpis_by_year")
"""Further tables of a multi-year plan."""


ANNUAL = ("revenue", "production", "freight", "duties", "software", "channel_fees", "co2", "fixed")
"""Components that are yearly cash flows (the others are one-off: closure, development)."""


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




def _first_year(values: np.ndarray, years: np.ndarray, closed: bool) -> Any:
    """First year in which a plan variable is 0 (closed) or 1 (developed), or None."""
    hit = values < 0.5 if closed else values > 0.5
    return int(years[np.argmax(hit)]) if hit.any() else None


def extract_tables(mb: Blocks, data: ModelData, sol: np.ndarray) -> dict[str, Any]:
    """Build the result tables from the solution vector ``sol`` (values by column of ``mb``)."""
    multi = data.multi_year
    years = data.years
    last = int(years[-1])
    fl = data.flows
    x = mb.values(sol, "x").copy()
    x[np.abs(x) < FLOW_TOL] = 0.0
    qv = np.zeros(len(fl))
    if "q" in mb.vars and mb.vars["q"].size:
        qi = np.flatnonzero((fl["quota"] >= 0).to_numpy())
        qv[qi] = mb.values(sol, "q")
        qv[np.abs(qv) < FLOW_TOL] = 0.0
    npl, nyr = len(data.plants), len(years)
    zmat = mb.values(sol, "z").round().reshape(npl, nyr) if npl else np.zeros((0, nyr))
    pl = data.plants

    cols = ["plant", "model", "stack", "market"] + (["year"] if multi else []) + [
        "country", "domestic", "price", "production", "freight", "ad_valorem", "specific", "duties", "software",
        "channel_fees", "margin"]
    used = x > 0
    flows = fl.loc[used, cols].copy()
    flows.insert(5 if multi else 4, "units", x[used])
    flows = flows.rename(columns={"production": "production_cost", "freight": "freight_cost", "duties": "duty",
                                  "software": "software_cost", "channel_fees": "channel_fee", "country": "origin"})
    flows["annual_margin"] = flows["units"] * flows["margin"]
    if multi:
        saving = fl["quota_saving"].to_numpy(float)[used]
        flows["in_quota"] = qv[used]
        flows["duty_paid"] = flows["units"] * flows["duty"] - flows["in_quota"] * saving
        flows["annual_margin"] += flows["in_quota"] * saving
        flows["equity"] = fl["equity"].to_numpy(float)[used]
        flows["co2"] = flows["units"] * fl["co2"].to_numpy(float)[used]
    flows = flows.reset_index(drop=True)

    xs = pd.Series(x, index=fl.index)
    open_last = zmat[:, -1] > 0.5 if npl else np.zeros(0, dtype=bool)
    last_rows = fl["year"].to_numpy() == last
    prod = xs[last_rows].groupby(fl.loc[last_rows, "plant"]).sum().reindex(pl.index, fill_value=0.0)
    plants = pd.DataFrame({
        "plant": pl.index, "country": pl["country"].to_numpy(), "status": pl["status"].to_numpy(),
        "kept": open_last, "production": prod.to_numpy(float), "capacity": pl["capacity"].to_numpy(float),
    })
    cap = plants["capacity"].replace(0, np.nan)
    plants["utilisation"] = (plants["production"] / cap).fillna(0.0)
    plants["fixed_cost_annual"] = np.where(plants["kept"], pl["fixed_cost"].to_numpy(float), 0.0)
    plants["closure_cost"] = np.where(plants["kept"], 0.0, pl["closure_cost"].to_numpy(float))
    plants["headcount"] = pl["headcount"].to_numpy(float)
    plants["jobs_cut"] = np.where(plants["kept"], 0.0, pl["jobs_cut"].to_numpy(float))
    closures = {p: _first_year(zmat[i], years, closed=True) for i, p in enumerate(pl.index)}
    if multi:
        plants["equity_share"] = pl["equity"].to_numpy(float)
        plants["closure_year"] = pd.array([closures[p] for p in pl.index], dtype="Int64")
        plants["open_years"] = [f"{years[0]}-{years[0] + int(z.sum()) - 1}" if z.sum() else "" for z in zmat]

    d = data.demand
    sold = xs.groupby([fl["model"], fl["market"], fl["year"]]).sum()
    sales = d[["model", "market", "year", "price", "min_units", "max_units"]].copy()
    sales["sold"] = sold.reindex(pd.MultiIndex.from_frame(sales[["model", "market", "year"]]), fill_value=0.0).to_numpy()
    sales["unmet"] = (sales["max_units"] - sales["sold"]).clip(lower=0.0)
    sales["revenue_annual"] = sales["sold"] * sales["price"]
    sales = sales[["model", "market"] + (["year"] if multi else [])
                  + ["sold", "min_units", "max_units", "unmet", "price", "revenue_annual"]].reset_index(drop=True)

    st = data.stacks.copy()
    w = mb.vars["w"]
    wv = mb.values(sol, "w")
    dev_year: dict[tuple[str, str], Any] = {}
    if w.size:
        wmat = wv.reshape(-1, nyr)
        keys = w.labels[["model", "stack"]].iloc[::nyr]
        for (v, s_), row in zip(keys.itertuples(index=False, name=None), wmat):
            dev_year[(v, s_)] = _first_year(row, years, closed=False)
    st["developed"] = [bool(dflt) or dev_year.get((v, s_)) is not None
                       for v, s_, dflt in zip(st["model"], st["stack"], st["default"])]
    st["dev_cost_charged"] = np.where(st["developed"] & ~st["default"].astype(bool), st["dev_cost"], 0.0)
    units = xs.groupby([fl["model"], fl["stack"]]).sum()
    st["units"] = units.reindex(pd.MultiIndex.from_frame(st[["model", "stack"]]), fill_value=0.0).to_numpy()
    keep = ["model", "stack", "origin", "default", "developed", "dev_cost", "dev_cost_charged", "unit_cost", "units"]
    software = st[keep].rename(columns={"unit_cost": "unit_software_cost"}).reset_index(drop=True)
    developments = {f"{v}/{s_}": dev_year.get((v, s_)) for v, s_, dflt in
                    zip(st["model"], st["stack"], st["default"]) if not dflt}
    if multi:
        software["developed_year"] = pd.array([None if dflt else dev_year.get((v, s_)) for v, s_, dflt in
                                               zip(st["model"], st["stack"], st["default"])], dtype="Int64")

    rows = []
    for c in mb.costs:
        val = c.constant + float(c.coef @ sol[c.col]) + 0.0
        annual = c.name in ANNUAL
        rows.append({"component": c.name, "annual": val / data.annuity if annual else math.nan, "npv": val})
    breakdown = pd.DataFrame(rows, columns=["component", "annual", "npv"])
    breakdown = breakdown.groupby("component", sort=False, as_index=False).agg(
        annual=("annual", lambda v: v.sum(min_count=1)), npv=("npv", "sum"))
    total = {"component": "npv", "annual": breakdown["annual"].sum(min_count=1), "npv": breakdown["npv"].sum()}
    breakdown = pd.concat([breakdown, pd.DataFrame([total])], ignore_index=True)
    if multi:  # yearly figures are in breakdown_by_year
        breakdown["annual"] = math.nan
    out: dict[str, Any] = {"plants": plants, "flows": flows, "sales": sales, "software": software,
                           "breakdown": breakdown,
                           "plan": {"closures": closures, "developments": developments}}
    if multi:
        out.update(_yearly(mb, data, sol, x, qv, zmat, closures, dev_year))
    return out


def _yearly(mb: Blocks, data: ModelData, sol: np.ndarray, x: np.ndarray, qv: np.ndarray, zmat: np.ndarray,
            closures: dict[str, Any], dev_year: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """The per-year tables of a multi-year plan: plant years, quota use, breakdown and KPIs by year."""
    fl, pl, years = data.flows, data.plants, data.years
    yi = pd.Index(years)
    xs = pd.Series(x, index=fl.index)
    prod = xs.groupby([fl["plant"], fl["year"]]).sum()
    py = pd.DataFrame({"plant": np.repeat(pl.index.to_numpy(), len(years)), "year": np.tile(years, len(pl)),
                       "open": zmat.ravel() > 0.5})
    py["production"] = prod.reindex(pd.MultiIndex.from_frame(py[["plant", "year"]]), fill_value=0.0).to_numpy()
    py["capacity"] = np.where(py["open"], np.repeat(pl["capacity"].to_numpy(float), len(years)), 0.0)
    py["utilisation"] = (py["production"] / py["capacity"].replace(0, np.nan)).fillna(0.0)

    quota_use = data.quotas[["origin", "market", "powertrain", "year", "quota"]].copy() if len(data.quotas) else         pd.DataFrame(columns=["origin", "market", "powertrain", "year", "quota"])
    if len(data.quotas):
        used = pd.Series(qv).groupby(fl["quota"].to_numpy()).sum()
        quota_use["used"] = used.reindex(data.quotas["pool"]).fillna(0.0).to_numpy()
        cov = xs.groupby(fl["quota"].to_numpy()).sum()
        quota_use["covered_units"] = cov.reindex(data.quotas["pool"]).fillna(0.0).to_numpy()
    else:
        quota_use["used"] = []
        quota_use["covered_units"] = []

    rows = []
    for c in mb.costs:
        if c.year is None:
            continue
        contrib = pd.Series(c.coef * sol[c.col]).groupby(c.year).sum().reindex(yi, fill_value=0.0)
        for y, v in contrib.items():
            w = data.weight[yi.get_loc(y)]
            rows.append({"component": c.name, "year": int(y), "value": v / w if w else 0.0,
                         "discounted": v * data.oneoff[yi.get_loc(y)] / w if w else 0.0, "npv": v})
    e = pl["equity"].astype(float)
    for p, y in closures.items():
        if y is not None and y in yi:
            cost = -float(e[p] * pl.at[p, "closure_cost"])
            o = data.oneoff[yi.get_loc(y)]
            rows.append({"component": "closure", "year": int(y), "value": cost, "discounted": cost * o, "npv": cost * o})
    dev = data.stacks.set_index(["model", "stack"])["dev_cost"]
    for k, y in dev_year.items():
        if y is not None:
            cost = -float(dev[k])
            o = data.oneoff[yi.get_loc(y)]
            rows.append({"component": "development", "year": int(y), "value": cost, "discounted": cost * o,
                         "npv": cost * o})
    by_year = pd.DataFrame(rows, columns=["component", "year", "value", "discounted", "npv"])
    by_year = by_year.groupby(["component", "year"], sort=False, as_index=False).sum()

    duty = fl["duties"].to_numpy(float) * x - fl["quota_saving"].to_numpy(float) * qv
    kp = pd.DataFrame({"year": years})
    kp["plants_open"] = zmat.sum(axis=0).astype(int) if len(pl) else 0
    kp["capacity_open"] = (zmat * pl["capacity"].to_numpy(float)[:, None]).sum(axis=0) if len(pl) else 0.0
    kp["jobs_cut"] = ((1 - zmat) * pl["jobs_cut"].to_numpy(float)[:, None]).sum(axis=0) if len(pl) else 0.0
    g = fl["year"].to_numpy()
    kp["units"] = pd.Series(x).groupby(g).sum().reindex(yi, fill_value=0.0).to_numpy()
    kp["duty_paid"] = pd.Series(duty).groupby(g).sum().reindex(yi, fill_value=0.0).to_numpy()
    kp["in_quota_units"] = pd.Series(qv).groupby(g).sum().reindex(yi, fill_value=0.0).to_numpy()
    kp["co2"] = pd.Series(x * fl["co2"].to_numpy(float)).groupby(g).sum().reindex(yi, fill_value=0.0).to_numpy()
    return {"plant_years": py, "quota_use": quota_use, "breakdown_by_year": by_year, "kpis_by_year": kp}


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
    diagnosis: list[dict[str, Any]] | None = None
    """An infeasible solve: the written rules that have to give, each {rule, where, required, reachable,
    shortfall, years, message} (:mod:`optimizer.studies.diagnose`); ``None`` otherwise."""
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
    def plan(self) -> dict[str, Any]:
        """The plan: ``closures`` {plant: first year closed, or None} and ``developments``
        {"model/stack": year developed, or None} for every non-default stack (v1: year 0)."""
        self.raise_for_status()
        return self._tables["plan"]

    @property
    def multi_year(self) -> bool:
        """True for a plan over periods (the tables then carry a ``year`` column)."""
        return "kpis_by_year" in self._tables

    def table(self, name: str) -> pd.DataFrame:
        """Any result table by name (also ``plant_years``, ``quota_use``, ``breakdown_by_year``,
        ``kpis_by_year`` of a multi-year plan)."""
        return self._table(name)

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
            bd = {r["component"]: ({"annual": None if pd.isna(r["annual"]) else float(r["annual"])} if "annual" in r
                                   else {}) | {"npv": float(r["npv"])}
                  for r in self.breakdown.to_dict("records")}
        rep = self.report
        extra: dict[str, Any] = {}
        if self.status.has_solution:
            extra["plan"] = self.plan
            if self.multi_year:
                by = self._tables["breakdown_by_year"]
                for comp, grp in by.groupby("component", sort=False):
                    if comp in bd:
                        bd[comp]["by_year"] = {int(r.year): float(r.value) for r in grp.itertuples()}
                        bd[comp]["discounted_by_year"] = {int(r.year): float(r.npv) for r in grp.itertuples()}
                extra["kpis_by_year"] = {int(r["year"]): {k: (float(v) if k != "plants_open" else int(v))
                                                          for k, v in r.items() if k != "year"}
                                         for r in self._tables["kpis_by_year"].to_dict("records")}
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
            **extra,
            "timings": self.timings,
            "termination": str(rep.termination.value) if rep else None,
            "solver": rep.solver if rep else "HiGHS",
            "solver_version": rep.solver_version if rep else None,
            "nodes": rep.nodes if rep else None,
            "method": rep.method if rep else None,
            "decomposition": dict(rep.decomposition) if rep else {},
            "sizes": self.sizes,
            "message": self.message,
            "warnings": [str(w) for w in self.warnings],
            "context": self.context,
            **({"diagnosis": self.diagnosis} if self.diagnosis is not None else {}),
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
                for name in TABLE_NAMES + (YEAR_TABLES if self.multi_year else ()):
                    self._tables[name].to_csv(tmp / f"{name}.csv", index=False)
                    names.append(f"{name}.csv")
            (tmp / "summary.json").write_text(json.dumps(self.summary(), indent=2, default=_json_default) + "\n",
                                              encoding="utf-8")
            ours = {"summary.json", *(f"{n}.csv" for n in TABLE_NAMES + YEAR_TABLES)}
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
