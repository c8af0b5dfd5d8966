"""From a validated instance to the sparse data the model is built on.

Everything here is pandas: the flow set is a chain of joins over the tables that
exist (``production`` ⋈ ``freight`` ⋈ ``demand`` ⋈ stacks, minus banned software), so
the full plant x model x stack x market product is never formed.  Per-unit money
terms of every flow (price, production, freight, duty, software, channel fee) are
computed here once, vectorised, and reused by the model builder and the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InstanceValidationError, Problem
from .instance import Instance

IMPLICIT_STACK = "default"
"""Name of the one stack of a model that has no ``software`` rows."""

UNIT_TERMS = ("revenue", "production", "freight", "duties", "software", "channel_fees")
"""Per-unit components of a flow's margin; revenue counts +, the others -."""


def annuity_factor(horizon_years: int, rate: float) -> float:
    """A = sum_{t=1..H} (1 + r)^-t  (A = H when r = 0)."""
    if rate == 0:
        return float(horizon_years)
    return float(sum((1.0 + rate) ** -t for t in range(1, horizon_years + 1)))


@dataclass
class ModelData:
    """Sparse, model-ready data.

    Attributes
    ----------
    plants:
        One row per plant (index = plant id): country, capacity, fixed_cost,
        closure_cost, headcount, status.
    stacks:
        One row per (model, stack): origin, dev_cost, unit_cost, default.
    flows:
        One row per existing flow f = (plant, model, stack, market), position = the
        flow's index in the model; columns include the per-unit terms of
        :data:`UNIT_TERMS`, ``margin``, ``domestic``, ``channel`` (origin country of the
        export channel used, or None) and ``max_units``.
    demand:
        One row per (model, market) with min_units, max_units, price.
    lines:
        (plant, model) line capacities that are given.
    channels:
        Export channels (index = origin country): capacity, unit_fee.
    annuity:
        The annuity factor A.
    """

    plants: pd.DataFrame
    stacks: pd.DataFrame
    flows: pd.DataFrame
    demand: pd.DataFrame
    lines: pd.DataFrame
    channels: pd.DataFrame
    annuity: float
    plants_kept: tuple[int | None, int | None]
    min_jobs_cut: float | None
    single_sourcing: bool
    duty_basis: str
    name: str = "instance"
    currency: str = "USD"
    warnings: list[Problem] = field(default_factory=list)

    @property
    def n_flows(self) -> int:
        """Number of flow variables."""
        return len(self.flows)


def _stacks(inst: Instance) -> pd.DataFrame:
    sw = inst.tables["software"][["model", "stack", "origin", "dev_cost", "unit_cost", "default"]].copy()
    sw["default"] = sw["default"].astype(bool)
    missing = sorted(set(inst.tables["models"]["model"]) - set(sw["model"]))
    implicit = pd.DataFrame({"model": missing, "stack": IMPLICIT_STACK, "origin": None, "dev_cost": 0.0,
                             "unit_cost": 0.0, "default": True})
    return pd.concat([sw, implicit], ignore_index=True) if len(implicit) else sw.reset_index(drop=True)


def _resolve_tariffs(triples: pd.DataFrame, tariffs: pd.DataFrame, where: str, rows: np.ndarray | None) -> pd.DataFrame:
    """Pick, for each (origin, market, powertrain), the matching tariff row with most non-wildcard keys.

    Returns ``triples`` with ``ad_valorem`` and ``specific`` (0 where no row matches).
    Raises :class:`InstanceValidationError` if two equally specific rows match a triple.
    """
    keys = ["origin", "market", "powertrain"]
    out = triples[keys].copy()
    out["ad_valorem"] = 0.0
    out["specific"] = 0.0
    if tariffs.empty or out.empty:
        return out
    t = tariffs.reset_index(drop=True).copy()
    t["_row"] = rows if rows is not None else np.arange(1, len(t) + 1)
    wild = t[keys] == "*"
    t["_spec"] = (~wild).sum(axis=1)
    t["_pattern"] = wild.apply(lambda r: tuple(r), axis=1)
    matches = []
    base = out[keys].reset_index().rename(columns={"index": "_tri"})
    for pattern, grp in t.groupby("_pattern", sort=False):
        on = [k for k, w in zip(keys, pattern) if not w]
        cols = on + ["ad_valorem", "specific", "_row", "_spec"]
        if on:
            matches.append(base.merge(grp[cols], on=on, how="inner")[["_tri", "ad_valorem", "specific", "_row", "_spec"]])
        else:
            matches.append(base[["_tri"]].merge(grp[cols], how="cross"))
    mt = pd.concat(matches, ignore_index=True)
    if mt.empty:
        return out
    best = mt[mt["_spec"] == mt.groupby("_tri")["_spec"].transform("max")]
    n = best.groupby("_tri")["_row"].transform("size")
    amb = best[n > 1]
    if not amb.empty:
        problems = []
        for tri, grp in amb.groupby("_tri"):
            o, m, p = out.loc[tri, keys]
            problems.append(Problem(
                where, f"rows {sorted(grp['_row'].astype(int).tolist())} are equally specific and both match "
                f"origin={o}, market={m}, powertrain={p}.", table="tariffs", row=int(grp["_row"].min()),
                column="origin, market, powertrain",
                fix="Add a more specific row for that combination or remove one of them."))
        raise InstanceValidationError(problems)
    best = best.set_index("_tri")
    out.loc[best.index, "ad_valorem"] = best["ad_valorem"].astype(float)
    out.loc[best.index, "specific"] = best["specific"].astype(float)
    return out


def prepare(inst: Instance) -> ModelData:
    """Build the sparse flow set and every per-unit term of the model.

    A flow (p, v, s, m) exists iff production(p, v), freight(p, m) and demand(v, m)
    exist and origin(s) is not banned in m.
    """
    t = inst.tables
    s = inst.settings
    plants = t["plants"].set_index("plant")
    models = t["models"].set_index("model")
    markets = t["markets"].set_index("market")
    stacks = _stacks(inst)
    demand = t["demand"].copy()

    f = t["production"][["plant", "model", "unit_cost"]].rename(columns={"unit_cost": "production"})
    f = f.merge(t["freight"][["plant", "market", "unit_cost"]].rename(columns={"unit_cost": "freight"}), on="plant")
    f = f.merge(demand[["model", "market", "price", "customs_value", "max_units"]], on=["model", "market"])
    f = f.merge(stacks[["model", "stack", "origin", "unit_cost"]].rename(columns={"unit_cost": "software"}), on="model")
    bans = markets["banned_software_origins"].explode().dropna()
    if len(f) and len(bans):
        bans = pd.DataFrame({"market": bans.index, "origin": bans.to_numpy(), "_banned": True})
        f = f.merge(bans, on=["market", "origin"], how="left")
        f = f[f["_banned"].isna()].drop(columns="_banned")
    f = f.sort_values(["plant", "model", "stack", "market"], kind="stable").reset_index(drop=True)

    f["country"] = plants["country"].reindex(f["plant"]).to_numpy()
    f["market_country"] = markets["country"].reindex(f["market"]).to_numpy()
    f["powertrain"] = models["powertrain"].reindex(f["model"]).to_numpy()
    f["domestic"] = f["country"] == f["market_country"]

    foreign = ~f["domestic"]
    triples = f.loc[foreign, ["country", "market", "powertrain"]].drop_duplicates().rename(columns={"country": "origin"})
    rates = _resolve_tariffs(triples.reset_index(drop=True), t["tariffs"], inst.origins.get("tariffs", "tariffs"),
                             inst.rows.get("tariffs"))
    f = f.merge(rates.rename(columns={"origin": "country"}), on=["country", "market", "powertrain"], how="left")
    f[["ad_valorem", "specific"]] = f[["ad_valorem", "specific"]].fillna(0.0)
    f.loc[f["domestic"], ["ad_valorem", "specific"]] = 0.0
    basis = f["customs_value"] + (f["freight"] if s.duty_basis == "cif" else 0.0)
    f["duties"] = np.where(f["domestic"], 0.0, f["ad_valorem"] * basis + f["specific"])

    channels = t["export_channels"].set_index("origin")[["capacity", "unit_fee"]]
    has_channel = f["country"].isin(channels.index) & ~f["domestic"]
    f["channel"] = f["country"].where(has_channel, None)
    f["channel_fees"] = np.where(has_channel, channels["unit_fee"].reindex(f["country"]).fillna(0.0).to_numpy(), 0.0)
    f["revenue"] = f["price"]
    f["margin"] = f["revenue"] - f["production"] - f["freight"] - f["duties"] - f["software"] - f["channel_fees"]
    f = f.drop(columns=["market_country"])

    lines = t["production"].dropna(subset=["capacity"])[["plant", "model", "capacity"]].reset_index(drop=True)
    kept = (s.plants_kept.min, s.plants_kept.max)
    return ModelData(
        plants=plants, stacks=stacks, flows=f, demand=demand, lines=lines, channels=channels,
        annuity=annuity_factor(s.horizon_years, s.discount_rate), plants_kept=kept,
        min_jobs_cut=s.min_jobs_cut.min, single_sourcing=s.single_sourcing, duty_basis=s.duty_basis,
        name=inst.name, currency=s.currency,
    )
