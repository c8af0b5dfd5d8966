"""Infeasibility explained: every kind of rule a user can break is named, and relaxing the named
rules by the reported shortfalls makes random infeasible instances feasible.

The tiny cases are built so that one rule is clearly the cheapest to give (violations are
weighed relative to each rule's size; the comment of each case gives the weights).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimizer  # noqa: E402
import randinst  # noqa: E402
import randinst_v2  # noqa: E402
from optimizer.data.instance import from_dict  # noqa: E402
from optimizer.errors import InstanceError  # noqa: E402
from v2_cases import instance  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def two_plants(demand_min=(0, 0), periods=None, plants=None, **extra) -> dict:
    """Plants A (JP) and B (CN), capacity 100, headcount 50 / 80; one model; markets M1, M2 (max 60 each)."""
    pl = plants or [{"plant": "A", "country": "JP", "headcount": 50}, {"plant": "B", "country": "CN", "headcount": 80}]
    prod = extra.pop("prod", {})
    return instance(
        plants=pl,
        production=[{"plant": p["plant"], "model": "V1", "unit_cost": 50, **prod} for p in pl],
        markets=[{"market": "M1", "country": "JP"}, {"market": "M2", "country": "TH"}],
        demand=[{"model": "V1", "market": m, "price": 100, "max_units": 60, **({"min_units": lo} if lo else {})}
                for m, lo in zip(("M1", "M2"), demand_min)],
        freight=[{"plant": p["plant"], "market": m} for p in pl for m in ("M1", "M2")],
        periods=periods, **extra)


def solve_dict(cfg: dict):
    return optimizer.solve(from_dict(cfg))


def only(res, rule: str) -> dict:
    assert str(res.status) == "infeasible"
    items = res.diagnosis
    assert items, res.message
    assert [i["rule"] for i in items] == [rule], items
    return items[0]


def test_min_units() -> None:
    # one plant (100) for 120 units of min_units: min_units 20/60 short (0.33) beats plants_kept max over by 1 (1)
    it = only(solve_dict(two_plants((60, 60), plants_kept={"max": 1})), "min_units")
    assert it["shortfall"] == pytest.approx(20) and it["required"] == 60 and it["reachable"] == pytest.approx(40)
    assert it["where"] in ("demand[model=V1, market=M1]", "demand[model=V1, market=M2]")
    assert "while plants_kept max 1 holds" in it["message"]


def test_plants_kept_min() -> None:
    it = only(solve_dict(two_plants(plants_kept={"min": 3})), "plants_kept.min")
    assert (it["required"], it["reachable"], it["shortfall"]) == (3, 2, 1)
    assert it["where"] == "plants_kept"


def test_plants_kept_max() -> None:
    # max 0 over by 1 (weight 1) beats two demand rows unmet (2)
    it = only(solve_dict(two_plants((10, 10), plants_kept=[{"max": 1}, {"max": 0}])), "plants_kept.max")
    assert (it["required"], it["reachable"], it["shortfall"]) == (0, 1, 1)
    assert it["where"] == "plants_kept[1]"


def test_capacity_kept_min_and_max() -> None:
    it = only(solve_dict(two_plants(capacity_kept={"min": 300})), "capacity_kept.min")
    assert (it["required"], it["reachable"], it["shortfall"]) == (300, 200, 100)
    it = only(solve_dict(two_plants((10, 10), capacity_kept={"max": 50})), "capacity_kept.max")
    assert (it["required"], it["reachable"], it["shortfall"]) == (50, 100, 50)


def test_min_jobs_cut() -> None:
    # A must stay: the closest plan closes B and cuts 80 of 100 (20/100 = 0.2 beats breaking A's status, 1)
    pl = [{"plant": "A", "country": "JP", "headcount": 50, "status": "keep"},
          {"plant": "B", "country": "CN", "headcount": 80}]
    it = only(solve_dict(two_plants(plants=pl, min_jobs_cut=100)), "min_jobs_cut")
    assert (it["required"], it["reachable"], it["shortfall"]) == (100, 80, 20)
    assert it["message"].startswith("min_jobs_cut 100: the closest plan cuts 80 (short by 20)")


def test_status() -> None:
    # both plants closed by status, both markets need 10: reopening one plant (1) beats two unmet rows (2)
    pl = [{"plant": "A", "country": "JP", "status": "close"}, {"plant": "B", "country": "CN", "status": "close"}]
    it = only(solve_dict(two_plants((10, 10), plants=pl)), "status")
    assert it["where"] in ("plants[plant=A].status", "plants[plant=B].status")
    assert it["required"] == "close" and it["reachable"] == "kept"


def test_closure_year() -> None:
    # A closes in 2027 by closure_year, but M1 needs 10 units in 2027 and 2028: keeping A open 2 of 3 years (2/3)
    # beats two unmet demand rows (2)
    pl = [{"plant": "A", "country": "JP", "closure_year": 2027}]
    cfg = instance(plants=pl, production=[{"plant": "A", "model": "V1", "unit_cost": 50}],
                   markets=[{"market": "M1", "country": "JP"}],
                   demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 60, "to_year": 2026},
                           {"model": "V1", "market": "M1", "price": 100, "max_units": 60, "min_units": 10,
                            "from_year": 2027}],
                   freight=[{"plant": "A", "market": "M1"}], periods=(2026, 2028))
    it = only(solve_dict(cfg), "closure_year")
    assert it["where"] == "plants[plant=A].closure_year" and it["required"] == 2027
    assert it["reachable"] == "kept" and it["years"] == [2027, 2028]


def test_earliest_closure() -> None:
    # jobs must be cut by 2027 and only A has jobs, but A may close from 2028 only: one plant-year (1/3) beats
    # the whole jobs rule (1)
    pl = [{"plant": "A", "country": "JP", "headcount": 50, "earliest_closure": 2028},
          {"plant": "B", "country": "CN", "headcount": 0}]
    it = only(solve_dict(two_plants(plants=pl, periods=(2026, 2028), min_jobs_cut={"min": 50, "by_year": 2027})),
              "earliest_closure")
    assert it["where"] == "plants[plant=A].earliest_closure" and it["required"] == 2028
    assert it["reachable"] == "closed from 2027"


def test_fix_software(tmp_path: Path) -> None:
    # both markets ban CN software; the only other stack (JPS) is fixed not developed by the scenario
    cfg = two_plants((10, 10),
                     software=[{"model": "V1", "stack": "CNS", "origin": "CN", "dev_cost": 0, "unit_cost": 0,
                                "default": True},
                               {"model": "V1", "stack": "JPS", "origin": "JP", "dev_cost": 10, "unit_cost": 0,
                                "default": False}],
                     bans=[{"market": "M1", "kind": "software", "origin": "CN"},
                           {"market": "M2", "kind": "software", "origin": "CN"}])
    folder = randinst_v2.write(cfg, tmp_path / "sw")
    res, _ = optimizer.solve_scenario(folder, {"fix_software": [{"model": "V1", "stack": "JPS",
                                                                          "developed": False}]})
    it = only(res, "fix_software")
    assert it["where"] == "fix_software[V1/JPS]" and it["required"] is False and it["reachable"] == "developed"


def test_co2_cap() -> None:
    # 1 t/unit, 60 units required, cap 50: over by 10 (10/50 = 0.2) beats 10 units short on a 30-unit row (0.33)
    it = only(solve_dict(two_plants((30, 30), prod={"co2": 1.0}, co2_cap={"max": 50})), "co2_cap")
    assert (it["required"], it["reachable"], it["shortfall"]) == (50, 60, 10)


def test_pre_check_unserved_demand(tmp_path: Path) -> None:
    cfg = two_plants()
    cfg["tables"]["markets"].append({"market": "M3", "country": "US"})
    cfg["tables"]["demand"].append({"model": "V1", "market": "M3", "price": 100, "max_units": 9, "min_units": 5})
    res = solve_dict(cfg)
    it = only(res, "min_units")
    assert it["where"] == "demand[model=V1, market=M3]" and it["shortfall"] == 5 and it["reachable"] == 0
    assert "no flow can serve it" in it["message"]
    res.write(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["diagnosis"][0]["rule"] == "min_units"
    assert set(summary["diagnosis"][0]) >= {"rule", "where", "required", "reachable", "shortfall"}


def test_feasible_has_no_diagnosis(tmp_path: Path) -> None:
    res = optimizer.solve(ROOT / "instances" / "tiny")
    assert res.diagnosis is None and "diagnosis" not in res.summary()
    assert optimizer.diagnose(ROOT / "instances" / "tiny").feasible


def test_cli_diagnose(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    cfg = two_plants(plants_kept={"min": 3})
    randinst_v2.write(cfg, folder)
    run = subprocess.run([sys.executable, "-m", "optimizer", "diagnose", str(folder), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "plants_kept min 3: the closest plan keeps 2 plants open (short by 1)" in run.stdout
    d = json.loads((tmp_path / "o" / "diagnosis.json").read_text())
    assert d["feasible"] is False and d["diagnosis"][0]["rule"] == "plants_kept.min"
    run = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(folder)], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 1 and "plants_kept min 3" in run.stdout


# --------------------------------------------------------------------------- relaxing by the shortfall
def _rules(value, exact: bool) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, (int, float)):
        return [{"min": value, "max": value}] if exact else [{"min": value}]
    if isinstance(value, dict):
        return [dict(value)]
    return [dict(v) for v in value]


def _records(folder: Path, cfg: dict, name: str) -> list[dict]:
    spec = cfg["tables"][name]
    if isinstance(spec, list):
        return spec
    with (folder / spec).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _save(folder: Path, cfg: dict, name: str, recs: list[dict]) -> None:
    spec = cfg["tables"][name]
    if isinstance(spec, list):
        cfg["tables"][name] = recs
        return
    cols: list[str] = []
    for r in recs:
        cols += [k for k in r if k not in cols]
    with (folder / spec).open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in recs:
            w.writerow({k: "" if r.get(k) is None else r.get(k) for k in cols})


def _num(v) -> float | None:
    return None if v is None or v == "" else float(v)


def relax(folder: Path, items: list[dict]) -> None:
    """Relax each reported rule of the instance in ``folder`` by its shortfall (files rewritten)."""
    cfg = yaml.safe_load((folder / "instance.yaml").read_text())
    for it in items:
        rule, where, s = it["rule"], it["where"], it["shortfall"]
        eps = 1e-7 * (1 + abs(float(s))) if isinstance(s, (int, float)) else 0
        idx = int(re.search(r"\[(\d+)\]", where).group(1)) if re.search(r"\[(\d+)\]", where) else 0
        if rule == "min_units":
            m = re.match(r"demand\[model=(.*?), market=(.*?)(?:, year=(\d+))?\]", where)
            v, mk, y = m.group(1), m.group(2), m.group(3)
            recs = _records(folder, cfg, "demand")
            hit = 0
            for r in recs:
                lo, hi = _num(r.get("from_year")), _num(r.get("to_year"))
                if r["model"] == v and r["market"] == mk and (y is None or ((lo is None or lo <= int(y))
                                                                              and (hi is None or int(y) <= hi))):
                    r["min_units"] = max(0.0, (_num(r.get("min_units")) or 0.0) - s - eps)
                    hit += 1
            assert hit, where
            _save(folder, cfg, "demand", recs)
        elif rule in ("plants_kept.min", "plants_kept.max", "capacity_kept.min", "capacity_kept.max"):
            kind, side = rule.split(".")
            lst = _rules(cfg.get(kind), exact=True)
            delta = math.ceil(s - 1e-6) if kind == "plants_kept" else s + eps
            lst[idx][side] = max(0, lst[idx][side] - delta) if side == "min" else lst[idx][side] + delta
            cfg[kind] = lst
        elif rule == "min_jobs_cut":
            lst = _rules(cfg.get("min_jobs_cut"), exact=False)
            lst[idx]["min"] = max(0.0, lst[idx]["min"] - s - eps)
            cfg["min_jobs_cut"] = lst
        elif rule == "co2_cap":
            lst = _rules(cfg.get("co2_cap"), exact=False)
            lst[idx]["max"] = lst[idx]["max"] + s + eps
            cfg["co2_cap"] = lst
        elif rule in ("status", "closure_year", "earliest_closure"):
            plant = re.search(r"plant=(.*?)\]", where).group(1)
            recs = _records(folder, cfg, "plants")
            for r in recs:
                if r["plant"] == plant:
                    r["status" if rule == "status" else rule] = "free" if rule == "status" else None
            _save(folder, cfg, "plants", recs)
        else:
            raise AssertionError(f"unexpected rule {rule} in {items}")
    (folder / "instance.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def _check_relaxation(folder: Path) -> bool:
    """False if the instance is feasible (nothing to check); else assert that the relaxed one is."""
    res = optimizer.solve(folder, time_limit=60)
    if str(res.status) != "infeasible":
        return False
    assert res.diagnosis, (folder, res.message)
    relax(folder, res.diagnosis)
    again = optimizer.solve(folder, time_limit=60, diagnose=False)
    assert again.status.has_solution, (folder, res.diagnosis, again.status)
    return True


V1_INFEASIBLE = [9, 13, 22, 25, 29, 33]
V2_INFEASIBLE = [2, 3, 15, 22, 35, 38, 45, 48, 53, 62, 74, 75]
"""Seeds of tests/randinst.py and randinst_v2.py whose instance is infeasible (asserted); the slow tests scan
every seed of a range."""


@pytest.mark.parametrize("seed", V2_INFEASIBLE)
def test_random_v2_relaxed_by_the_shortfall_is_feasible(tmp_path: Path, seed: int) -> None:
    inst = randinst_v2.generate(seed)
    folder = randinst_v2.write(inst, tmp_path / f"v2-{seed}", csv=["plants", "demand"] if seed % 2 else False)
    assert _check_relaxation(folder)


@pytest.mark.parametrize("seed", V1_INFEASIBLE)
def test_random_v1_relaxed_by_the_shortfall_is_feasible(tmp_path: Path, seed: int) -> None:
    assert _check_relaxation(randinst.generate(seed, tmp_path / f"v1-{seed}"))


@pytest.mark.slow
def test_random_scan_relaxed_by_the_shortfall_is_feasible(tmp_path: Path) -> None:
    n = 0
    for seed in range(200):
        try:
            n += _check_relaxation(randinst.generate(seed, tmp_path / f"v1-{seed}"))
            folder = randinst_v2.write(randinst_v2.generate(seed), tmp_path / f"v2-{seed}", csv=bool(seed % 2))
            n += _check_relaxation(folder)
        except InstanceError:
            continue
    assert n >= 60, n


def test_validate_counts_warnings(tmp_path: Path) -> None:
    folder = randinst_v2.write(two_plants(min_jobs_cut=200), tmp_path / "w")  # 200 > 130 jobs: a warning
    run = subprocess.run([sys.executable, "-m", "optimizer", "validate", str(folder)], capture_output=True, text=True,
                         cwd=ROOT)
    assert run.returncode == 0 and "OK with 1 warning(s)" in run.stdout, run.stdout + run.stderr
    run = subprocess.run([sys.executable, "-m", "optimizer", "validate", str(folder), "--strict"], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 2
