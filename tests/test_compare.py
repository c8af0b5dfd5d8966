"""Compare: NPV change, plant decisions, flow shifts and software changes against a baseline; report files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from optimizer.studies.batch import run_batch
from optimizer.studies.compare import compare

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
CLI = [sys.executable, "-c", "from optimizer.cli import main; main()"]


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cmp")
    d = tmp / "tiny"
    shutil.copytree(TINY, d)
    (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {
        "keep_a": {"changes": [{"table": "plants", "where": {"plant": "A"}, "set": {"status": "keep"}}]},
        "th_half": {"changes": [{"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]},
        "nothing_open": {"settings": {"min_jobs_cut": 1000}},  # more than all jobs: infeasible
    }}))
    out = tmp / "out"
    run_batch(d, out, workers=0)
    return out


def test_compare_against_base(batch_dir: Path, tmp_path: Path) -> None:
    rep = compare(batch_dir, out=tmp_path / "rep")
    s = rep.summary.set_index("job")
    assert set(s.index) == {"keep_a", "th_half", "nothing_open"} and (s["baseline"] == "base").all()
    idx = pd.read_csv(batch_dir / "index.csv").set_index("job")
    for j in ("keep_a", "th_half"):
        assert s.loc[j, "npv_change"] == pytest.approx(idx.loc[j, "objective"] - idx.loc["base", "objective"])
    # keep_a: A forced open, and with at most one plant B closes
    assert s.loc["keep_a", "plants_closed"] == "B" and s.loc["keep_a", "plants_opened"] == "A"
    assert s.loc["keep_a", "plants_changed"] == "closed B; kept A"
    assert s.loc["th_half", "plants_changed"] == ""
    assert s.loc["nothing_open", "status"] == "infeasible" and pd.isna(s.loc["nothing_open", "npv_change"])
    sh = rep.shifts[rep.shifts["job"] == "keep_a"]
    assert set(zip(sh["model"], sh["market"])) == {("V", "JP"), ("V", "TH")}
    jp = sh.set_index("market").loc["JP"]
    assert "B -" in jp["by_plant"] and "A +" in jp["by_plant"]
    assert jp["moved"] == pytest.approx(abs(jp["units"]) + abs(jp["baseline_units"]))  # full re-sourcing
    th = rep.shifts[rep.shifts["job"] == "th_half"].set_index("market").loc["TH"]
    assert th["net_change"] == pytest.approx(-25)
    assert bool(rep.plants.loc["A", "keep_a"]) and not bool(rep.plants.loc["A", "base"])
    for name in ("report.md", "report.html", "comparison.csv", "flow_shifts.csv", "plant_decisions.csv"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
    for p in rep.plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = rep.markdown.read_text()
    assert "| keep_a | base | optimal |" in md and "closed B; kept A" in md and "![npv_change](npv_change.png)" in md
    assert "plants[plant=A].status (= keep): free -> keep (1 row)" in md
    page = rep.html.read_text()
    assert "<img" not in page and "src=" not in page  # one self-contained file: inline SVG, nothing linked
    assert "id='plant-grid'" in page and "id='waterfall-keep_a'" in page and "id='npv-change-chart'" in page
    # JP is re-sourced from B to A: every unit changed plant, none switched stack, sales unchanged
    assert jp["changed_plant"] == pytest.approx(jp["baseline_units"]) and jp["stack_switch"] == 0
    # the NPV change by component adds up to the NPV change
    c = rep.components.set_index("job")
    parts = c.drop(columns=["baseline", "npv"])
    assert (parts.sum(axis=1) - c["npv"]).abs().max() < 1e-6
    assert c.loc["keep_a", "npv"] == pytest.approx(s.loc["keep_a", "npv_change"])


def test_baseline_by_job_id_and_unknown_baseline(batch_dir: Path, tmp_path: Path) -> None:
    rep = compare(batch_dir, baseline="th_half", out=tmp_path / "r2")
    assert set(rep.summary["job"]) == {"base", "keep_a", "nothing_open"} and (rep.summary["baseline"] == "th_half").all()
    with pytest.raises(ValueError, match="no job or scenario named 'zzz'"):
        compare(batch_dir, baseline="zzz", out=tmp_path / "r3")


def test_software_added_and_sweep_baselines(tmp_path: Path) -> None:
    from optimizer.bench.generate import generate

    d = tmp_path / "gen"
    generate(d, plants=8, models=3, markets=10, seed=1)
    import optimizer

    base = optimizer.solve(d, threads=1)
    sw = base.software
    off = sw[~sw["default"].astype(bool) & ~sw["developed"]]
    on = sw[~sw["default"].astype(bool) & sw["developed"]]
    jobs = []
    if len(off):
        jobs.append({"instance": "gen", "id": "dev", "scenario": {"fix_software": [
            {"model": off.iloc[0]["model"], "stack": off.iloc[0]["stack"], "developed": True}]}})
    if len(on):
        jobs.append({"instance": "gen", "id": "drop", "scenario": {"fix_software": [
            {"model": on.iloc[0]["model"], "stack": on.iloc[0]["stack"], "developed": False}]}})
    assert jobs
    spec = {"jobs": [{"instance": "gen"}, *jobs],
            "sweeps": [{"instance": "gen", "scenario": ["base"], "id": "sw", "parameters": {"discount_rate": [0.05]}}]}
    out = tmp_path / "out"
    run_batch(spec, out, workers=0, base_dir=tmp_path)
    rep = compare(out, out=tmp_path / "rep")
    s = rep.summary.set_index("job")
    if len(off):
        assert s.loc["dev", "software_added"] == f"{off.iloc[0]['model']}/{off.iloc[0]['stack']}"
    if len(on):
        assert s.loc["drop", "software_dropped"] == f"{on.iloc[0]['model']}/{on.iloc[0]['stack']}"
    assert s.loc["sw__discount_rate=0.05", "baseline"] == "gen__base"  # a parameterised baseline job


def test_compare_cli(batch_dir: Path, tmp_path: Path) -> None:
    r = subprocess.run([*CLI, "compare", str(batch_dir), "--out", str(tmp_path / "rep")], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "COLUMNS": "160"}, check=False)
    assert r.returncode == 0, r.stderr
    assert "keep_a" in r.stdout and "closed B; kept A" in r.stdout
    assert (tmp_path / "rep" / "report.html").is_file()
    r = subprocess.run([*CLI, "compare", str(batch_dir), "--baseline", "zzz"], capture_output=True, text=True, check=False,
                       timeout=120)
    assert r.returncode == 2 and "no job or scenario named 'zzz'" in r.stderr
