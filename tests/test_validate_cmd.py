"""Issue 8, item 7: validate counts warnings, --strict fails on them, scenarios are checked, both
validation stages are reported together; ``benchmarks run`` measures in a fresh clone.

Before: "OK" after a warning that the instance cannot be solved; scenarios.yaml never read; a
type error hid every cross-table problem; ``run smoke`` found the committed CSV "done".
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import optimizer
from optimizer.cli import main
from optimizer.errors import InstanceValidationError

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"


def _tiny(tmp: Path) -> Path:
    d = tmp / "tiny"
    shutil.copytree(TINY, d)
    return d


def test_ok_with_warnings_and_strict(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    y = d / "instance.yaml"
    y.write_text(y.read_text().replace("plants_kept: {max: 1}", "plants_kept: {min: 5}"))
    r = CliRunner().invoke(main, ["validate", str(d)])
    assert r.exit_code == 0 and "OK with 1 warning(s)" in r.output and "plants_kept.min" in r.output
    r = CliRunner().invoke(main, ["validate", str(d), "--strict"])
    assert r.exit_code == 2 and "plants_kept.min" in r.output and "OK" not in r.output


def test_plain_ok_has_no_warning_count() -> None:
    r = CliRunner().invoke(main, ["validate", str(TINY)])
    assert r.exit_code == 0 and "OK: tiny" in r.output and "warning" not in r.output


def test_validate_checks_every_scenario(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {
        "good": {"changes": [{"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]},
        "bad_col": {"changes": [{"table": "plants", "where": {"plant": "A"}, "set": {"capacty": 5}}]},
        "bad_row": {"changes": [{"table": "plants", "where": {"plant": "ZZ"}, "set": {"status": "keep"}}]},
    }}))
    r = CliRunner().invoke(main, ["validate", str(d)])
    assert r.exit_code == 2, r.output
    assert "scenarios.yaml" in r.output and "bad_col" in r.output and "capacty" in r.output
    assert "bad_row" in r.output  # both bad scenarios, together
    assert "good" not in r.output.replace("bad_", "")


def test_validate_names_a_scenario_file_given(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    f = tmp_path / "what_if.yaml"
    f.write_text(yaml.safe_dump({"scenarios": {"s": {"changes": [{"table": "nope", "set": {"x": 1}}]}}}))
    r = CliRunner().invoke(main, ["validate", str(d), "--scenarios", str(f)])
    assert r.exit_code == 2 and "what_if.yaml" in r.output and "unknown table" in r.output
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"scenarios": {"s": {"settings": {"plants_kept": {"max": 2}}}}}))
    r = CliRunner().invoke(main, ["validate", str(d), "--scenarios", str(ok)])
    assert r.exit_code == 0 and "1 scenario(s) checked" in r.output


def test_both_stages_reported_together(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    p = d / "plants.csv"
    p.write_text(p.read_text().replace("A,JP,100,", "A,JP,abc,", 1))  # stage 1: type error in plants
    f = d / "freight.csv"
    f.write_text(f.read_text().rstrip("\n") + "\nB,XX,1\n")  # stage 2: unknown market in freight
    with pytest.raises(InstanceValidationError) as ei:
        optimizer.load(d)
    got = {(q.where, q.column) for q in ei.value.problems}
    assert ("plants.csv", "capacity") in got and ("freight.csv", "market") in got
    r = CliRunner().invoke(main, ["validate", str(d)])
    assert r.exit_code == 2 and "'abc' is not a finite number" in r.output and "unknown market 'XX'" in r.output


def test_stage_two_skips_checks_that_need_a_failed_table(tmp_path: Path) -> None:
    """References into a table that failed stage 1 are not checked (they would all look unknown)."""
    d = _tiny(tmp_path)
    m = d / "markets.csv"
    m.write_text(m.read_text().replace("\n", ",\n", 1).replace(",\n", ",extra\n", 1))  # unknown column
    with pytest.raises(InstanceValidationError) as ei:
        optimizer.load(d)
    assert all(q.where == "markets.csv" for q in ei.value.problems), [str(q) for q in ei.value.problems]


def test_benchmarks_run_writes_to_scratch_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.__main__ as bm
    from benchmarks import suites as S

    committed = ROOT / "benchmarks" / "results" / "smoke.csv"
    before = committed.read_bytes() if committed.exists() else None
    monkeypatch.delenv("BENCH_RESULTS", raising=False)
    monkeypatch.setattr(bm, "SCRATCH", tmp_path / "scratch")
    monkeypatch.setattr(S, "WORK", tmp_path / "work")
    monkeypatch.setenv("BENCH_WORK", str(tmp_path / "work"))
    assert bm.main(["run", "smoke", "--only", "tiny", "--ref", "none", "--quiet"]) == 0
    with (tmp_path / "scratch" / "smoke.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["instance"] for r in rows] == ["tiny"] and float(rows[0]["objective"]) == pytest.approx(2340.0)
    assert (committed.read_bytes() if committed.exists() else None) == before
