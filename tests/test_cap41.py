"""Special case of the spec: capacitated facility location (OR-Library ``cap*``).

The OR-Library file is parsed here (format in shared/benchdata/orlib-cap/README.txt)
and written as an instance folder exactly as the spec's special case says:
warehouses are plants (fixed_cost, capacity, closure 0, headcount 0), one model,
each customer is a market with min_units = max_units = demand and price 0,
freight = c_ij / d_j (c_ij is the cost of serving ALL of j from i), H = 1, r = 0.
The optimal NPV must be minus the published optimum (optima.csv).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimizer  # noqa: E402
from helpers import write_instance  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CAP_DIR = SHARED / "benchdata" / "orlib-cap"

pytestmark = pytest.mark.skipif(
    not CAP_DIR.is_dir(), reason=f"OR-Library cap data not found at {CAP_DIR} (shared/ must sit beside the repo)"
)


def parse_cap(path: Path) -> tuple[list[tuple[float, float]], list[float], list[list[float]]]:
    """(capacity, fixed_cost) per warehouse, demand per customer, cost[i][j] of serving all of j from i."""
    tokens = path.read_text().split()
    m, n = int(tokens[0]), int(tokens[1])
    pos = 2
    warehouses = []
    for _ in range(m):
        warehouses.append((float(tokens[pos]), float(tokens[pos + 1])))
        pos += 2
    demand, cost = [], [[0.0] * n for _ in range(m)]
    for j in range(n):
        demand.append(float(tokens[pos]))
        pos += 1
        for i in range(m):
            cost[i][j] = float(tokens[pos])
            pos += 1
    assert pos == len(tokens), f"{path}: {len(tokens) - pos} tokens left over"
    return warehouses, demand, cost


def published_optimum(name: str) -> float:
    with (CAP_DIR / "optima.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["instance"] == name:
                return float(row["optimal_value"])
    raise KeyError(name)


def write_cflp_instance(folder: Path, name: str) -> Path:
    """The spec's CFLP special case as an instance folder (CSV tables)."""
    warehouses, demand, cost = parse_cap(CAP_DIR / f"{name}.txt")
    plants = [
        {"plant": f"W{i + 1}", "country": "US", "capacity": cap, "fixed_cost": fixed, "closure_cost": 0,
         "headcount": 0}
        for i, (cap, fixed) in enumerate(warehouses)
    ]
    markets = [{"market": f"C{j + 1}", "country": "US"} for j in range(len(demand))]
    dem = [{"model": "V", "market": f"C{j + 1}", "price": 0, "min_units": d, "max_units": d}
           for j, d in enumerate(demand)]
    freight = [{"plant": f"W{i + 1}", "market": f"C{j + 1}", "unit_cost": cost[i][j] / demand[j]}
               for i in range(len(warehouses)) for j in range(len(demand))]
    production = [{"plant": p["plant"], "model": "V", "unit_cost": 0} for p in plants]
    cfg = {
        "name": name,
        "horizon_years": 1,
        "discount_rate": 0.0,
        "tables": {"models": [{"model": "V", "powertrain": "ICE"}]},
    }
    csv_tables = {"plants": plants, "markets": markets, "demand": dem, "freight": freight, "production": production}
    return write_instance(folder, cfg, csv_tables)


def test_parser_reads_cap41():
    warehouses, demand, cost = parse_cap(CAP_DIR / "cap41.txt")
    assert len(warehouses) == 16 and len(demand) == 50
    assert warehouses[0] == (5000.0, 7500.0) and warehouses[10] == (5000.0, 0.0)
    assert demand[:2] == [146.0, 87.0]
    assert cost[0][0] == 6739.725 and cost[15][0] == 6051.7
    assert sum(demand) == 58268.0  # README: total demand


@pytest.mark.parametrize("name", ["cap41", "cap42", "cap43", "cap44", "cap51", "cap61", "cap71"])
def test_cflp_matches_published_optimum(tmp_path, name):
    folder = write_cflp_instance(tmp_path / name, name)
    res = optimizer.solve(folder, mip_gap=1e-9)
    assert str(res.status) == "optimal"
    assert res.objective == pytest.approx(-published_optimum(name), abs=1e-3)
    # every customer fully served (min = max = demand)
    assert float(res.sales["unmet"].abs().max()) == pytest.approx(0.0, abs=1e-6)
