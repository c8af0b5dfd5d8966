"""Small helpers shared by the model tests (no fixtures, no engine imports)."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

__all__ = ["write_instance", "base_instance"]


def write_instance(folder: Path, cfg: dict, csv_tables: dict[str, list[dict]] | None = None) -> Path:
    """Write ``cfg`` as ``folder/instance.yaml``; return the folder.

    Tables in ``cfg["tables"]`` are written inline.  Tables in ``csv_tables``
    (name -> list of records) are written to ``folder/<name>.csv`` and
    referenced from ``tables``; a ``None`` value becomes an empty cell.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dict(cfg)
    cfg["tables"] = dict(cfg.get("tables", {}))
    for name, records in (csv_tables or {}).items():
        columns: list[str] = []
        for rec in records:
            columns += [k for k in rec if k not in columns]
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for rec in records:
                writer.writerow({k: _cell(rec.get(k)) for k in columns})
        cfg["tables"][name] = f"{name}.csv"
    (folder / "instance.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return folder


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def base_instance(**overrides: object) -> dict:
    """One plant P1 (JP), one model V1 (BEV), one domestic market M1 (JP).

    Margin of the only flow: 100 - 60 - 5 = 35 per unit, up to 10 units,
    plant capacity 100, fixed cost 50/yr, no closure cost.
    """
    cfg: dict = {
        "tables": {
            "plants": [
                {"plant": "P1", "country": "JP", "capacity": 100, "fixed_cost": 50,
                 "closure_cost": 0, "headcount": 10},
            ],
            "models": [{"model": "V1", "powertrain": "BEV"}],
            "production": [{"plant": "P1", "model": "V1", "unit_cost": 60}],
            "markets": [{"market": "M1", "country": "JP"}],
            "demand": [{"model": "V1", "market": "M1", "price": 100, "max_units": 10}],
            "freight": [{"plant": "P1", "market": "M1", "unit_cost": 5}],
        }
    }
    tables = overrides.pop("tables", {})
    cfg.update(overrides)
    cfg["tables"].update(tables)
    return cfg

