"""Batch runs: SPEC parsing, job folders, index, resume, local pool, worker death, killed batch command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import optimizer
from optimizer.studies.batch import INDEX_COLUMNS, _commit, read_spec, run_batch
from optimizer.errors import InstanceValidationError

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"
CLI = [sys.executable, "-c", "from optimizer.cli import main; main()"]


def tiny_copy(tmp: Path) -> Path:
    d = tmp / "tiny"
    shutil.copytree(TINY, d)
    (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {
        "th_half": {"description": "TH demand halved",
                    "changes": [{"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]},
        "keep_a": {"changes": [{"table": "plants", "where": {"plant": "A"}, "set": {"status": "keep"}}]},
        "broken": {"changes": [{"table": "demand", "where": {"market": "XX"}, "scale": {"max_units": 0.5}}]},
    }}))
    return d


def write_spec(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def summaries(out: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "summary.json").read_text()) for p in sorted((out / "jobs").iterdir())}


# --- SPEC ---------------------------------------------------------------------------------------------------------


def test_spec_jobs_and_sweeps_expand_to_stable_ids(tmp_path: Path) -> None:
    inst = tiny_copy(tmp_path)
    spec = write_spec(tmp_path / "spec.yaml", {
        "defaults": {"solver": {"time_limit_s": 30}},
        "jobs": [{"instance": "tiny"}, {"instance": "tiny", "scenario": "th_half", "solver": {"threads": 2}},
                 {"instance": "tiny", "id": "inline", "scenario": {"settings": {"horizon_years": 2}}}],
        "sweeps": [{"instance": "tiny", "scenario": ["base", "keep_a"],
                    "parameters": {"plants_kept.max": [1, 2], "discount_rate": [0.0, 0.1]}}],
    })
    jobs = read_spec(spec)
    ids = [j.id for j in jobs]
    assert ids[:3] == ["tiny__base", "tiny__th_half", "inline"]
    assert len(ids) == 3 + 2 * 2 * 2 and len(set(ids)) == len(ids)
    assert "tiny__keep_a__plants_kept.max=2__discount_rate=0.1" in ids
    assert all(j.instance == inst.resolve() for j in jobs)
    assert jobs[1].settings == {"solver": {"time_limit_s": 30, "threads": 2}}
    sw = next(j for j in jobs if j.id == "tiny__base__plants_kept.max=1__discount_rate=0")
    assert sw.settings == {"solver": {"time_limit_s": 30}, "plants_kept": {"max": 1}, "discount_rate": 0.0}
    assert sw.parameters == {"plants_kept.max": 1, "discount_rate": 0.0}
    assert read_spec(spec) == jobs  # deterministic


@pytest.mark.parametrize(("spec", "text"), [
    ({}, "no jobs"),
    ({"jobs": [{"instance": "tiny"}], "colour": 1}, "unknown key 'colour'"),
    ({"jobs": [{"instance": "tiny", "scenaro": "x"}]}, "unknown key 'scenaro'"),
    ({"jobs": [{"scenario": "x"}]}, "'instance' must be a path"),
    ({"jobs": [{"instance": "tiny"}, {"instance": "tiny"}]}, "job id 'tiny__base' is used by 2 jobs"),
    ({"jobs": [{"instance": "tiny", "id": "a/b"}]}, "not allowed in a folder name"),
    ({"jobs": [{"instance": "tiny", "settings": {"tables": {}}}]}, "cannot be changed by a job"),
    ({"jobs": [{"instance": "tiny", "scenario": {"changes": []}}]}, "needs an 'id'"),
    ({"sweeps": [{"instance": "tiny", "parameters": {"colour": [1]}}]}, "unknown parameter 'colour'"),
    ({"sweeps": [{"instance": "tiny", "parameters": {"min_jobs_cut": 5}}]}, "non-empty list"),
    ({"sweeps": [{"instance": "tiny", "settings": {"min_jobs_cut": 1}, "parameters": {"min_jobs_cut": [5]}}]},
     "also set in the sweep's settings"),
])
def test_bad_specs(tmp_path: Path, spec: dict, text: str) -> None:
    tiny_copy(tmp_path)  # instance paths must exist (a missing one is refused up front)
    with pytest.raises(InstanceValidationError) as exc:
        read_spec(write_spec(tmp_path / "spec.yaml", spec))
    assert text in str(exc.value)


def test_bad_spec_exit_code_2(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", {"jobs": [{"instance": "tiny", "colour": 1}]})
    r = subprocess.run([*CLI, "batch", str(spec), "--out", str(tmp_path / "out")], capture_output=True, text=True, check=False,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "unknown key 'colour'" in r.stderr and "Traceback" not in r.stderr


# --- running (in this process) -------------------------------------------------------------------------------------


def test_missing_instance_path_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """As documented: before, the other jobs ran and the missing one became an input_error row."""
    tiny_copy(tmp_path)
    spec = write_spec(tmp_path / "spec.yaml", {"jobs": [{"instance": "tiny"}, {"instance": "missing_folder"}]})
    with pytest.raises(InstanceValidationError) as exc:
        run_batch(spec, tmp_path / "out", workers=0)
    (p,) = exc.value.problems
    assert "missing_folder" in p.message and p.column == "jobs[2].instance"
    assert not (tmp_path / "out" / "jobs").exists()


def test_batch_writes_job_folders_and_index(tmp_path: Path) -> None:
    inst = tiny_copy(tmp_path)
    spec = write_spec(tmp_path / "spec.yaml", {"jobs": [
        {"instance": "tiny"}, {"instance": "tiny", "scenario": "th_half"},
        {"instance": "tiny", "scenario": "broken"}, {"instance": "tiny", "scenario": "nope"},
        {"instance": "tiny", "id": "two_threads", "solver": {"threads": 2}},
    ]})
    out = tmp_path / "out"
    idx = run_batch(spec, out, workers=0)
    assert list(idx.columns[: len(INDEX_COLUMNS)]) == list(INDEX_COLUMNS)
    st = dict(zip(idx["job"], idx["status"]))
    assert st == {"tiny__base": "optimal", "tiny__th_half": "optimal", "tiny__broken": "input_error",
                  "tiny__nope": "input_error", "two_threads": "optimal"}
    base = optimizer.solve(inst, threads=1)
    row = idx.set_index("job").loc["tiny__base"]
    assert row["objective"] == pytest.approx(base.objective) and row["plants_kept"] == 1
    assert row["closed_plants"] == "A" and row["time_solve"] >= 0 and row["path"] == "jobs/tiny__base"
    s = summaries(out)
    assert set(s) == set(st)
    assert s["tiny__th_half"]["scenario_changes"] == ["demand[market=TH].max_units (x 0.5): 50 -> 25 (1 row)"]
    assert s["tiny__base"]["threads"] == 1 and s["two_threads"]["threads"] == 2
    assert "value 'XX' does not occur" in s["tiny__broken"]["message"]
    assert "unknown scenario 'nope'" in s["tiny__nope"]["message"]
    assert {p.name for p in (out / "jobs" / "tiny__base").iterdir()} == {
        "summary.json", "plants.csv", "flows.csv", "sales.csv", "software.csv", "breakdown.csv"}
    pq = pd.read_parquet(out / "index.parquet")
    csv = pd.read_csv(out / "index.csv")
    assert pq["job"].tolist() == csv["job"].tolist() == idx["job"].tolist()
    assert not (out / ".tmp").exists()


def test_instance_folder_as_spec_runs_base_and_every_scenario(tmp_path: Path) -> None:
    inst = tiny_copy(tmp_path)
    (inst / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {"th_half": {"changes": [
        {"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]}}}))
    idx = run_batch(inst, tmp_path / "out", workers=0)
    assert idx["job"].tolist() == ["base", "th_half"] and idx["status"].eq("optimal").all()


def test_resume_skips_finished_jobs_force_and_changed_definitions_rerun(tmp_path: Path) -> None:
    tiny_copy(tmp_path)
    spec_d = {"jobs": [{"instance": "tiny"}, {"instance": "tiny", "scenario": "th_half"},
                       {"instance": "tiny", "scenario": "broken"}]}
    spec = write_spec(tmp_path / "spec.yaml", spec_d)
    out = tmp_path / "out"
    run_batch(spec, out, workers=0)

    def stamp() -> dict[str, tuple[int, int]]:
        return {p.name: ((p / "summary.json").stat().st_ino, (p / "summary.json").stat().st_mtime_ns)
                for p in (out / "jobs").iterdir()}

    first = stamp()
    idx = run_batch(spec, out, workers=0)
    second = stamp()
    assert second["tiny__base"] == first["tiny__base"] and second["tiny__th_half"] == first["tiny__th_half"]
    assert second["tiny__broken"] != first["tiny__broken"]  # input errors are retried
    assert len(idx) == 3
    spec_d["jobs"][1]["solver"] = {"time_limit_s": 10}  # the definition changed: that job runs again
    write_spec(spec, spec_d)
    run_batch(spec, out, workers=0)
    third = stamp()
    assert third["tiny__base"] == first["tiny__base"] and third["tiny__th_half"] != first["tiny__th_half"]
    run_batch(spec, out, workers=0, force=True)
    assert stamp()["tiny__base"] != first["tiny__base"]


def test_commit_is_atomic_and_keeps_one_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _commit(out, "j", {"summary.json": '{"run": 1}'})
    assert not _commit(out, "j", {"summary.json": '{"run": 2}'})  # a late duplicate is dropped
    assert json.loads((out / "jobs" / "j" / "summary.json").read_text()) == {"run": 1}
    assert list((out / ".tmp").iterdir()) == []


def test_a_second_batch_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    import fcntl

    tiny_copy(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(ValueError, match="another batch is running"):
            run_batch({"jobs": [{"instance": "tiny"}]}, out, workers=0, base_dir=tmp_path)


# --- local process pool --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gen_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated instance whose solve takes about a second with one thread."""
    from optimizer.bench.generate import generate

    d = tmp_path_factory.mktemp("batchgen") / "gen"
    generate(d, plants=25, models=6, markets=30, seed=1)
    return d


def seed_spec(tmp: Path, inst: Path, n: int) -> Path:
    return write_spec(tmp / "spec.yaml", {"sweeps": [{"instance": str(inst), "id": "job",
                                                       "parameters": {"solver.seed": list(range(n))}}]})


def test_local_pool_matches_in_process_results(tmp_path: Path) -> None:
    tiny_copy(tmp_path)
    spec = write_spec(tmp_path / "spec.yaml", {"sweeps": [{"instance": "tiny", "scenario": ["base", "th_half"],
                                                           "parameters": {"plants_kept.max": [1, 2]}}]})
    a = run_batch(spec, tmp_path / "a", workers=2)
    b = run_batch(spec, tmp_path / "b", workers=0)
    assert a["status"].eq("optimal").all()
    assert a["objective"].tolist() == pytest.approx(b["objective"].tolist(), rel=1e-9)
    assert a["worker"].nunique() >= 1 and not a["worker"].str.endswith(f":{os.getpid()}").any()


def _pool_workers() -> list:
    import psutil

    return [p for p in psutil.Process().children(recursive=True)
            if any("spawn_main" in c or "popen_loky" in c for c in (p.cmdline() or []))]


def test_local_pool_survives_a_dead_worker(tmp_path: Path, gen_instance: Path) -> None:
    spec = seed_spec(tmp_path, gen_instance, 6)
    out = tmp_path / "out"
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            done = list((out / "jobs").glob("*/summary.json")) if (out / "jobs").exists() else []
            if done:
                procs = _pool_workers()
                if procs:
                    procs[0].kill()
                    killed.append(procs[0].pid)
                    return
            time.sleep(0.05)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    idx = run_batch(spec, out, workers=2)
    t.join(5)
    assert killed, "no worker was killed (the batch finished too fast?)"
    assert len(idx) == 6 and idx["status"].eq("optimal").all(), idx[["job", "status", "message"]]
    assert idx["objective"].nunique() == 1 or idx["objective"].max() - idx["objective"].min() < 1e-6 * abs(
        idx["objective"].max())
    assert sorted(p.name for p in (out / "jobs").iterdir()) == sorted(idx["job"])


def test_killed_batch_command_resumes_without_redoing_finished_jobs(tmp_path: Path, gen_instance: Path) -> None:
    n = 10
    spec = seed_spec(tmp_path, gen_instance, n)
    out = tmp_path / "out"
    cmd = [*CLI, "batch", str(spec), "--out", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            done = list((out / "jobs").glob("*/summary.json")) if (out / "jobs").exists() else []
            if len(done) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the batch command itself, not its workers
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.5)
        try:  # its pool workers exit by themselves (parent-death signal); make sure of it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    finished = {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "jobs").glob("*/summary.json")}
    assert 2 <= len(finished) < n
    assert not (out / "index.csv").exists()  # written only at the end: the kill really interrupted the run
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stderr
    after = {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "jobs").glob("*/summary.json")}
    assert len(after) == n
    for job, st in finished.items():
        assert after[job] == st, f"{job} was run again"
    s = summaries(out)
    assert all(v["status"] == "optimal" for v in s.values())
    objs = [v["objective"] for v in s.values()]
    assert max(objs) - min(objs) <= 1e-6 * abs(max(objs))
    for job in s:  # complete folders only
        assert (out / "jobs" / job / "flows.csv").stat().st_size > 0
    assert not (out / ".tmp").exists()
    idx = pd.read_csv(out / "index.csv")
    assert len(idx) == n and idx["status"].eq("optimal").all()
