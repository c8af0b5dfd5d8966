"""Issue 8, items 4 and 6: results never mixed or lost; batch from a script; nothing POSIX-only at import.

Each test failed on the code before the fix (see the test's docstring for what happened).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.errors import BatchWorkerError, InstanceValidationError
from optimizer.studies.batch import read_spec, run_batch
from optimizer.studies.compare import compare

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
KEEP_B = 2340.0  # tiny's hand-worked optimum (instances/tiny/README)


def _tiny(tmp: Path, scenarios: dict | None = None) -> Path:
    d = tmp / "tiny"
    shutil.copytree(TINY, d)
    if scenarios is not None:
        (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": scenarios}))
    return d


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


# --- job ids -------------------------------------------------------------------------------


def test_scenario_names_that_collide_once_made_safe_are_refused(tmp_path: Path) -> None:
    """Before: 'a b', 'a_b' and 'a/b' all became job a_b; '3 of 3 solved', one result repeated."""
    same = {"changes": [{"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]}
    d = _tiny(tmp_path, {"a b": same, "a_b": same, "a/b": same})
    with pytest.raises(InstanceValidationError) as ei:
        run_batch(d, tmp_path / "out", workers=0)
    (p,) = ei.value.problems
    assert "job id 'a_b' is used by 3 jobs" in p.message
    for name in ("'a b'", "'a_b'", "'a/b'"):
        assert name in p.message
    assert p.where.endswith("scenarios.yaml") and p.column == "id"
    assert not (tmp_path / "out" / "jobs").exists()


def test_cli_batch_collision_exit_2(tmp_path: Path) -> None:
    same = {"settings": {"plants_kept": {"max": 2}}}
    d = _tiny(tmp_path, {"x.y": same, "x y": same, "x_y": same})
    r = CliRunner().invoke(main, ["batch", str(d), "--out", str(tmp_path / "out"), "--workers", "0"])
    assert r.exit_code == 2 and "is used by 2 jobs" in r.output and "Traceback" not in r.output


def test_overlong_job_id_is_refused_and_long_sweep_ids_are_shortened(tmp_path: Path) -> None:
    """Before: an id over ~245 characters failed with OSError 'File name too long' (exit 3)."""
    _tiny(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"jobs": [{"instance": "tiny", "id": "j" * 300}]}))
    with pytest.raises(InstanceValidationError, match="longer than 120"):
        read_spec(spec)
    spec.write_text(yaml.safe_dump({"sweeps": [{"instance": "tiny", "id": "s" * 150,
                                                "parameters": {"solver.seed": [1, 2]}}]}))
    jobs = read_spec(spec)
    assert len({j.id for j in jobs}) == 2 and all(len(j.id) <= 120 for j in jobs)


# --- solve --out ---------------------------------------------------------------------------


def test_out_that_is_a_file_fails_before_the_solve(tmp_path: Path) -> None:
    """Before: the whole solve ran, then FileExistsError (exit 3)."""
    f = tmp_path / "file"
    f.write_text("x")
    r = CliRunner().invoke(main, ["solve", str(TINY), "--out", str(f)])
    assert r.exit_code == 2 and "is a file" in r.output
    assert "optimal" not in r.output  # refused before solving
    r = CliRunner().invoke(main, ["solve", str(TINY), "--out", str(f / "sub")])
    assert r.exit_code == 2 and "is a file" in r.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere")
def test_out_not_writable_fails_before_the_solve(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        r = CliRunner().invoke(main, ["solve", str(TINY), "--out", str(ro / "res")])
        assert r.exit_code == 2 and "not writable" in r.output
    finally:
        ro.chmod(0o700)


def test_out_with_an_old_plan_is_replaced_as_a_whole(tmp_path: Path) -> None:
    """Before: an infeasible solve into an old folder left the old plan's CSVs beside the new summary."""
    out = tmp_path / "res"
    assert CliRunner().invoke(main, ["solve", str(TINY), "--out", str(out)]).exit_code == 0
    assert (out / "flows.csv").is_file()
    d = _tiny(tmp_path)
    (d / "instance.yaml").write_text((d / "instance.yaml").read_text().replace("{max: 1}", "{min: 5}"))
    assert CliRunner().invoke(main, ["solve", str(d), "--out", str(out)]).exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert json.loads((out / "summary.json").read_text())["status"] == "infeasible"
    assert not any(p.name.startswith(".res.") for p in tmp_path.iterdir())  # no temporary folder left


def test_out_with_other_files_keeps_them_and_drops_stale_results(tmp_path: Path) -> None:
    out = tmp_path / "res"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "flows.csv").write_text("stale\n")
    (out / "summary.json").write_text("{}")
    d = _tiny(tmp_path)
    (d / "instance.yaml").write_text((d / "instance.yaml").read_text().replace("{max: 1}", "{min: 5}"))
    assert CliRunner().invoke(main, ["solve", str(d), "--out", str(out)]).exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "summary.json"]
    assert (out / "notes.txt").read_text() == "mine"


# --- compare -------------------------------------------------------------------------------


@pytest.fixture
def small_batch(tmp_path: Path) -> Path:
    d = _tiny(tmp_path, {"keep_a": {"changes": [{"table": "plants", "where": {"plant": "A"},
                                                   "set": {"status": "keep"}}]}})
    out = tmp_path / "out"
    run_batch(d, out, workers=0)
    return out


@pytest.mark.parametrize(("file", "text", "why"), [
    ("flows.csv", "garbage\n1\n2\n", "flows.csv lacks column"),
    ("flows.csv", "plant,model,stack,market,units\nA,V,default,TH,lots\n", "not finite numbers"),
    ("summary.json", '{"status": "optimal", "objec', "summary.json is not valid JSON"),
    ("plants.csv", "plant,kept\nA,maybe\n", "not true/false"),
])
def test_compare_reports_a_broken_job_folder(small_batch: Path, file: str, text: str, why: str) -> None:
    """Before: a garbage flows.csv or a truncated summary.json gave wrong shifts, exit 0."""
    (small_batch / "jobs" / "keep_a" / file).write_text(text)
    rep = compare(small_batch, out=small_batch / "rep")
    s = rep.summary.set_index("job")
    assert s.loc["keep_a", "status"] == "broken" and why in s.loc["keep_a", "message"]
    assert s.loc["keep_a", "npv_change"] != s.loc["keep_a", "npv_change"]  # NaN: not computed from bad data
    assert "keep_a" in rep.broken
    r = CliRunner().invoke(main, ["compare", str(small_batch)])
    assert r.exit_code == 2 and "keep_a" in r.output and why in r.output


# --- batch from a script; dying workers; imports --------------------------------------------


def test_run_batch_at_top_of_a_script_without_main_guard(tmp_path: Path) -> None:
    """Before: every spawned worker re-ran the script: tracebacks, every job worker_lost, exit 0."""
    _tiny(tmp_path, {"keep_a": {"changes": [{"table": "plants", "where": {"plant": "A"}, "set": {"status": "keep"}}]}})
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent("""
        import optimizer
        index = optimizer.run_batch("tiny", "runs", workers=2)
        print("RESULT", index.set_index("job")["status"].to_dict(), index.set_index("job")["objective"].to_dict())
    """))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and proc.stdout.count("RESULT") == 1
    line = proc.stdout.split("RESULT", 1)[1]
    assert "'base': 'optimal'" in line and "'keep_a': 'optimal'" in line and str(KEEP_B) in line


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc to single out the workers")
def test_workers_dying_at_start_up_raise_at_once(tmp_path: Path) -> None:
    """Before: such a pool was restarted and its jobs came back as worker_lost rows."""
    site = tmp_path / "site"
    site.mkdir()
    # sys.argv is not set yet when sitecustomize runs: read the command line from /proc
    (site / "sitecustomize.py").write_text("import os\nif b'popen_loky' in open('/proc/self/cmdline', 'rb').read():\n"
                                           "    os._exit(7)\n")
    _tiny(tmp_path)
    script = tmp_path / "study.py"
    script.write_text("import optimizer\ntry:\n    optimizer.run_batch('tiny', 'runs', workers=2)\n"
                      "except optimizer.OptimizerError as exc:\n    print('RAISED', type(exc).__name__, exc)\n")
    env = _env()
    env["PYTHONPATH"] = str(site) + os.pathsep + env["PYTHONPATH"]
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)
    assert "RAISED BatchWorkerError" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "died at start-up" in proc.stdout
    assert not (tmp_path / "runs" / "jobs").exists() or not any((tmp_path / "runs" / "jobs").iterdir())
    assert BatchWorkerError.__mro__[1].__name__ == "OptimizerError"


def test_import_beside_a_users_own_models_package(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("MINE = True\n")
    code = ("import models, optimizer; assert models.MINE; "
            "from optimizer.models import BuildOptions; r = optimizer.solve(%r); print(r.status, r.objective)" % str(TINY))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["optimal", str(KEEP_B)]


def test_package_imports_and_batches_without_fcntl(tmp_path: Path) -> None:
    """Before: optimizer.studies.batch imported fcntl at start-up, so the package could not load on Windows."""
    _tiny(tmp_path)
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import optimizer, optimizer.cli, optimizer.studies.batch\n"
            "idx = optimizer.run_batch('tiny', 'runs', workers=0)\nprint('STATUS', list(idx['status']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STATUS ['optimal']" in proc.stdout


@pytest.mark.slow
def test_readme_python_snippet_runs_as_a_script(tmp_path: Path) -> None:
    """The README's API snippet pasted into a script (no __main__ guard): before, 23 tracebacks and worker_lost."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    script = tmp_path / "snippet.py"
    script.write_text(block.replace('"instances/', f'"{ROOT.as_posix()}/instances/')
                      + "\nprint('STATUSES', sorted(set(index['status'])), res.status)\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=3000,
                          env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and proc.stdout.count("STATUSES") == 1
    statuses = proc.stdout.split("STATUSES", 1)[1]
    assert "worker_lost" not in statuses and "optimal" in statuses
    assert (tmp_path / "runs" / "nissan" / "index.csv").is_file() and (tmp_path / "out" / "summary.json").is_file()
