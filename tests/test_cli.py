"""The command line: exit codes, output files, and no tracebacks for input mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def test_solve_writes_outputs(tmp_path: Path) -> None:
    code, out = run("solve", str(TINY), "--out", str(tmp_path), "--mip-gap", "1e-9")
    assert code == 0, out
    assert "optimal" in out and "2,340" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["plants_kept"] == 1
    assert abs(summary["objective"] - 2340.0) < 1e-6
    plants = (tmp_path / "plants.csv").read_text().splitlines()
    assert len(plants) == 1 + 2  # header + one row per plant
    for name in ("flows", "sales", "software"):
        assert (tmp_path / f"{name}.csv").is_file()


def test_infeasible_exit_1_and_null_objective(tmp_path: Path) -> None:
    inst = tmp_path / "inst"
    inst.mkdir()
    for f in TINY.glob("*.csv"):
        (inst / f.name).write_text(f.read_text())
    (inst / "instance.yaml").write_text((TINY / "instance.yaml").read_text().replace("{max: 1}", "{min: 5}"))
    code, out = run("solve", str(inst), "--out", str(tmp_path / "out"))
    assert code == 1
    assert "infeasible" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "infeasible" and summary["objective"] is None
    assert not (tmp_path / "out" / "flows.csv").exists()


def test_bad_input_exit_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "instance.yaml").write_text("tables: {plants: plants.csv}\nhorizon: 3\n")
    (tmp_path / "plants.csv").write_text("plant,country,capacity,fixed_cost,closure_cost,headcount\nA,JP,-1,0,0,0\n")
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(tmp_path)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "plants.csv, table 'plants', row 2, column 'capacity'" in proc.stderr
    assert "'horizon': unknown key" in proc.stderr


def test_yaml_tag_exit_2(tmp_path: Path) -> None:
    (tmp_path / "instance.yaml").write_text("name: !!python/object/apply:os.getcwd []\n")
    code, out = run("validate", str(tmp_path))
    assert code == 2


def test_validate_ok_and_counts_flows() -> None:
    code, out = run("validate", str(TINY))
    assert code == 0 and "4 flows" in out


def test_validate_reports_ambiguous_tariffs(tmp_path: Path) -> None:
    for f in TINY.glob("*"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "tariffs.csv").write_text("origin,market,powertrain,ad_valorem\nCN,*,BEV,0.1\n*,TH,BEV,0.2\n")
    code, out = run("validate", str(tmp_path))
    assert code == 2


def test_usage_error_exit_2() -> None:
    code, _ = run("solve", str(TINY), "--time-limit", "-3")
    assert code == 2
    code, _ = run("frobnicate")
    assert code == 2


def test_time_limit_option_reaches_solver(tmp_path: Path) -> None:
    code, out = run("solve", str(TINY), "--time-limit", "30", "--threads", "1", "--out", str(tmp_path))
    assert code == 0
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "optimal"


def test_console_script_and_module_agree() -> None:
    exe = Path(sys.executable).with_name("optimizer")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    proc = subprocess.run([str(exe), "validate", str(TINY)], capture_output=True, text=True)
    assert proc.returncode == 0 and "OK" in proc.stdout


def test_valid_inequalities_flag(tmp_path: Path) -> None:
    code, out = run("solve", str(TINY), "--no-valid-inequalities", "--out", str(tmp_path))
    assert code == 0
    assert abs(json.loads((tmp_path / "summary.json").read_text())["objective"] - 2340.0) < 1e-6


def test_solve_scenario_equals_a_solve_of_the_hand_edited_instance(tmp_path: Path) -> None:
    """`solve --scenario mexico_duty_up` (MX->US duty 15 % -> 27.5 %) against the same edit made in the CSV."""
    import shutil

    import optimizer

    nissan = ROOT / "instances" / "nissan_2026_v1"
    edited = tmp_path / "edited"
    shutil.copytree(nissan, edited)
    tariffs = edited / "tariffs.csv"
    lines = tariffs.read_text().splitlines(keepends=True)
    hit = [i for i, line in enumerate(lines) if line.startswith("MX,US,*,0.15,")]
    assert len(hit) == 1
    lines[hit[0]] = lines[hit[0]].replace("MX,US,*,0.15,", "MX,US,*,0.275,", 1)
    tariffs.write_text("".join(lines))
    by_hand = optimizer.solve(edited, mip_gap=0.0)
    base = optimizer.solve(nissan, mip_gap=0.0)

    code, out = run("solve", str(nissan), "--scenario", "mexico_duty_up", "--mip-gap", "0", "--out", str(tmp_path / "o"))
    assert code == 0, out
    assert "Scenario mexico_duty_up: 1 change(s)" in out and "0.15 -> 0.275" in out
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["scenario"] == "mexico_duty_up" and len(s["scenario_changes"]) == 1
    assert s["objective"] == pytest.approx(by_hand.objective, rel=1e-9)
    assert s["objective"] < base.objective - 1e8  # the duty really changed the answer
    # a plain solve carries no scenario keys
    code, _ = run("solve", str(TINY), "--out", str(tmp_path / "plain"))
    assert "scenario" not in json.loads((tmp_path / "plain" / "summary.json").read_text())


def test_solve_scenario_input_errors_exit_2(tmp_path: Path) -> None:
    nissan = str(ROOT / "instances" / "nissan_2026_v1")
    code, out = run("solve", nissan, "--scenario", "no_such_scenario")
    assert code == 2 and "unknown scenario 'no_such_scenario'" in out and "Traceback" not in out
    code, out = run("solve", nissan, "--scenarios", str(tmp_path / "s.yaml"))
    assert code == 2 and "--scenarios FILE needs --scenario NAME" in out
    code, out = run("solve", nissan, "--scenario", "trade_war", "--scenarios", str(tmp_path / "missing.yaml"))
    assert code == 2 and "scenarios file not found" in out
