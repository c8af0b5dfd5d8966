"""Issue 8, item 3: hostile input is an input error, fast; no other exception reaches an API caller.

Before the fix: an alias bomb grew to 8 GB (its repr went into the message); a long cell, a
symlink loop, a long path, a list-valued YAML key, deep nesting and `table:` as a list were
internal errors (exit 3); a NUL byte, a 5,001-digit number and a ';'-separated CSV gave unclear
messages; a valid merge key was refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import optimizer
from optimizer.cli import main
from optimizer.errors import MAX_PROBLEMS, InstanceError

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
KEEP_B = 2340.0  # tiny's hand-worked optimum


def _tiny(tmp: Path) -> Path:
    d = tmp / "tiny"
    shutil.copytree(TINY, d)
    return d


def _yaml(d: Path, extra: str, drop: str = "") -> None:
    text = (d / "instance.yaml").read_text()
    if drop:
        text = text.replace(drop, "")
    (d / "instance.yaml").write_text(text + extra)


def _input_error(path: Path | str, *names: str, max_len: int = 20_000) -> InstanceError:
    """Both entry points: the API raises an InstanceError, the CLI exits 2 naming the same things."""
    with pytest.raises(InstanceError) as ei:
        optimizer.load(path)
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "Internal error" not in r.output
    for n in names:
        assert n in r.output, (n, r.output[:2000])
    assert len(r.output) < max_len
    return ei.value


def test_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    lines = ["metadata:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    _yaml(d, "\n".join(lines) + "\n")
    e = _input_error(d, "instance.yaml", "alias")
    assert "expand to more than" in str(e)


def test_alias_bomb_in_a_wrong_place_is_refused(tmp_path: Path) -> None:
    """The same bomb under a key pydantic refuses: its message must not print the expanded value."""
    d = _tiny(tmp_path)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 5):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    _yaml(d, "\n".join(lines) + "\n")  # 10^5 values: under the limit, but 5 unknown keys
    e = _input_error(d, "instance.yaml", "a4", "unknown key")
    assert len(str(e)) < 5000


def test_problems_are_capped_with_a_count(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    n = 3 * MAX_PROBLEMS
    rows = [f"P{i},JP,lots,1,1,1" for i in range(n)]
    (d / "plants.csv").write_text("plant,country,capacity,fixed_cost,closure_cost,headcount\n" + "\n".join(rows) + "\n")
    e = _input_error(d, "plants.csv", f"{n:,} problem(s)", "more problem(s) not listed", max_len=MAX_PROBLEMS * 200)
    assert e.count == n and len(e.problems) == MAX_PROBLEMS + 1


def test_cell_over_the_csv_field_limit(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    text = (d / "plants.csv").read_text().splitlines()
    text[1] = text[1].replace("A,", "A" + "x" * 200_000 + ",", 1)
    (d / "plants.csv").write_text("\n".join(text) + "\n")
    _input_error(d, "plants.csv", "row 2", "longer than")


def test_unclosed_quote_swallowing_the_file(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    (d / "plants.csv").write_text((d / "plants.csv").read_text().replace("A,JP", '"A,JP', 1) + ("x" * 140_000))
    _input_error(d, "plants.csv")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_table_file_that_is_a_symlink_loop(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    (d / "plants.csv").unlink()
    os.symlink("plants.csv", d / "plants.csv")
    _input_error(d, "tables.plants", "symbolic link loop")


def test_table_path_too_long(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _yaml(d, "", drop="")
    text = (d / "instance.yaml").read_text().replace("plants: plants.csv", f"plants: {'p' * 300}.csv")
    (d / "instance.yaml").write_text(text)
    _input_error(d, "tables.plants", "too long")


def test_nul_byte_in_a_table_path(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    text = (d / "instance.yaml").read_text().replace("plants: plants.csv", 'plants: "plan\\0ts.csv"')
    (d / "instance.yaml").write_text(text)
    _input_error(d, "tables.plants", "NUL byte")


def test_nul_byte_in_the_instance_path() -> None:
    with pytest.raises(InstanceError, match="NUL byte"):
        optimizer.load("instances/ti\0ny")
    proc = subprocess.run([sys.executable, "-c", "from optimizer._entry import run; import sys; "
                           "sys.argv=['optimizer','validate','instances/ti\\0ny']; run()"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "NUL byte" in proc.stderr and "Traceback" not in proc.stderr


def test_sequence_as_a_yaml_key(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _yaml(d, "? [a, b]\n: 1\n")
    _input_error(d, "instance.yaml", "key is a list")


def test_yaml_nested_very_deep(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _yaml(d, "metadata: " + "[" * 20_000 + "]" * 20_000 + "\n")
    _input_error(d, "instance.yaml", "nested more than")


def test_valid_merge_key_is_accepted(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _yaml(d, "metadata:\n  defaults: &b {time_limit_s: 30, threads: 1}\nsolver:\n  <<: *b\n  seed: 3\n")
    inst = optimizer.load(d)
    assert inst.settings.solver.time_limit_s == 30 and inst.settings.solver.seed == 3
    assert optimizer.solve(inst, mip_gap=1e-9).objective == pytest.approx(KEEP_B)


def test_merge_key_overridden_by_an_explicit_key(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _yaml(d, "metadata:\n  defaults: &b {time_limit_s: 30}\nsolver:\n  <<: *b\n  time_limit_s: 9\n")
    assert optimizer.load(d).settings.solver.time_limit_s == 9


def test_huge_digit_string(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    _yaml(d, "horizon_years: " + "9" * 5001 + "\n", drop="horizon_years: 1\n")
    e = _input_error(d, "instance.yaml", "4,300 digits")
    assert len(str(e)) < 2000


def test_huge_digit_string_in_a_csv_cell(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    text = (d / "plants.csv").read_text().replace("A,JP,100,", "A,JP," + "9" * 5001 + ",", 1)
    (d / "plants.csv").write_text(text)
    e = _input_error(d, "plants.csv", "row 2", "capacity")
    assert len(str(e)) < 2000


def test_semicolon_separated_csv_is_named(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    (d / "plants.csv").write_text((d / "plants.csv").read_text().replace(",", ";"))
    _input_error(d, "plants.csv", "';'-separated", "comma")


def test_table_given_as_a_list_in_a_scenario(tmp_path: Path) -> None:
    d = _tiny(tmp_path)
    (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {"s1": {"changes": [
        {"table": ["plants"], "where": {"plant": "A"}, "set": {"status": "keep"}}]}}}))
    r = CliRunner().invoke(main, ["solve", str(d), "--scenario", "s1"])
    assert r.exit_code == 2, r.output
    assert "scenarios.yaml" in r.output and "changes[1].table" in r.output and "not a list" in r.output
    with pytest.raises(InstanceError):
        optimizer.solve_scenario(d, "s1")
