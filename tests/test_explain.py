"""Explain: each decision's regret equals base NPV minus a separate solve with that decision fixed."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import optimizer
from optimizer.studies.explain import explain

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
NISSAN = ROOT / "instances" / "nissan_2026_v1"
CLI = [sys.executable, "-c", "from optimizer.cli import main; main()"]


def with_status(inst: optimizer.Instance, plant: str, status: str) -> optimizer.Instance:
    p = inst.tables["plants"].copy()
    p.loc[p["plant"] == plant, "status"] = status
    return inst.replace(tables={**inst.tables, "plants": p})


def solve_with_software(inst: optimizer.Instance, model: str, stack: str, developed: bool) -> float | None:
    built = optimizer.build(inst)
    built.fix("w", (model, stack), 1 if developed else 0)
    return optimizer.solve(built, threads=1).objective


def check_regrets(path: Path, exp, gap: float) -> None:
    inst = optimizer.load(path)
    base = optimizer.solve(inst, threads=1, mip_gap=gap)
    assert exp.base_objective == pytest.approx(base.objective, rel=1e-9)
    t = exp.table
    for r in t.itertuples():
        if r.kind == "plant":
            if r.flip == "-":
                continue
            res = optimizer.solve(with_status(inst, r.decision, "close" if r.base == "kept" else "keep"), threads=1,
                                  mip_gap=gap)
            obj = res.objective
        else:
            model, stack = r.decision.split("/")
            inst_g = inst.replace(settings=inst.settings.model_copy(
                update={"solver": inst.settings.solver.model_copy(update={"mip_rel_gap": gap})}))
            obj = solve_with_software(inst_g, model, stack, r.base != "developed")
        if obj is None:
            assert math.isinf(r.regret) and r.status == "infeasible", r
        else:
            assert r.regret == pytest.approx(exp.base_objective - obj, rel=1e-9, abs=1e-6), r


def test_tiny_plant_regrets(tmp_path: Path) -> None:
    exp = explain(TINY, workers=0, out=tmp_path / "ex", mip_gap=0)
    t = exp.table
    assert set(t["decision"]) == {"A", "B"}
    assert dict(zip(t["decision"], t["base"])) == {"A": "closed", "B": "kept"}
    assert dict(zip(t["decision"], t["flip"])) == {"A": "forced kept", "B": "forced closed"}
    assert t["rank"].tolist() == [1, 2] and exp.complete
    check_regrets(TINY, exp, gap=0)
    assert (tmp_path / "ex" / "explain.csv").is_file()
    md = (tmp_path / "ex" / "explain.md").read_text()
    assert "| 1 | plant |" in md


def test_generated_instance_plants_and_software(tmp_path: Path) -> None:
    from optimizer.bench.generate import generate

    d = tmp_path / "gen"
    generate(d, plants=8, models=3, markets=10, seed=1)
    exp = explain(d, workers=2, mip_gap=0)
    t = exp.table
    inst = optimizer.load(d)
    free = inst.tables["plants"].query("status == 'free'")["plant"]
    fixed = inst.tables["plants"].query("status != 'free'")["plant"]
    assert set(t.loc[t["kind"] == "plant"].query("flip != '-'")["decision"]) == set(free)
    assert set(t.loc[t["status"].str.startswith("fixed in input"), "decision"]) == set(fixed)
    assert (t["kind"] == "software").any()
    ranked = t[t["rank"].notna()]
    assert ranked["regret"].is_monotonic_decreasing
    assert (ranked["regret"] >= -1e-6 * abs(exp.base_objective)).all()  # mip_gap 0: the base plan is optimal
    check_regrets(d, exp, gap=0)


def test_an_infeasible_flip_has_infinite_regret(tmp_path: Path) -> None:
    d = tmp_path / "tiny"
    shutil.copytree(TINY, d)
    cfg = yaml.safe_load((d / "instance.yaml").read_text())
    cfg["plants_kept"] = {"min": 2}  # both plants must stay: closing either is infeasible
    (d / "instance.yaml").write_text(yaml.safe_dump(cfg))
    exp = explain(d, workers=0)
    assert exp.table["regret"].map(math.isinf).all() and exp.table["status"].eq("infeasible").all()
    assert exp.complete
    check_regrets(d, exp, gap=1e-4)


def test_explain_cli(tmp_path: Path) -> None:
    r = subprocess.run([*CLI, "explain", str(TINY), "--out", str(tmp_path / "ex"), "--workers", "1"],
                       capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "forced" in r.stdout and "2,340" in r.stdout
    t = pd.read_csv(tmp_path / "ex" / "explain.csv")
    assert len(t) == 2
    r = subprocess.run([*CLI, "explain", str(tmp_path / "nowhere")], capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.skipif(not NISSAN.is_dir(), reason="nissan_2026_v1 not present")
def test_nissan_every_plant_decision_ranked_and_checked(tmp_path: Path) -> None:
    exp = explain(NISSAN, out=tmp_path / "ex")
    t = exp.table
    inst = optimizer.load(NISSAN)
    assert set(t.loc[t["kind"] == "plant", "decision"]) == set(inst.tables["plants"]["plant"])
    assert exp.complete
    oppama = t.set_index("decision").loc["Oppama"]
    assert oppama["base"] == "closed" and oppama["regret"] > 0
    check_regrets(NISSAN, exp, gap=inst.settings.solver.mip_rel_gap)


def test_multi_year_plan_flips_closure_years(tmp_path: Path) -> None:
    """v2_cases 'closure_timing' (arithmetic there): closing in 2027 gives 250; closing in 2026 -50,
    in 2028 230, never 220, so the regrets of one year earlier / later / never are 300, 20 and 30."""
    import v2_cases
    from randinst_v2 import write

    cfg, npv, _ = v2_cases.CASES["closure_timing"]
    folder = write(cfg, tmp_path / "inst")
    exp = explain(folder, workers=1, mip_gap=0, software=False)
    t = exp.table.set_index("flip")
    assert exp.base_objective == pytest.approx(npv)
    assert t.loc["closed 2026", "regret"] == pytest.approx(300.0)
    assert t.loc["closed 2028", "regret"] == pytest.approx(20.0)
    assert t.loc["never closed", "regret"] == pytest.approx(30.0)
