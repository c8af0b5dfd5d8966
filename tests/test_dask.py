"""A batch on a real Dask cluster (scheduler + two workers on 127.0.0.1) survives a worker killed mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("distributed")

from optimizer.studies.batch import run_batch

BIN = Path(sys.executable).parent
CLI = [sys.executable, "-c", "from optimizer.cli import main; main()"]
RATES = [0.0, 0.04, 0.08, 0.12, 0.16]
SEEDS = [0, 1, 2, 3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


def dask_cmd() -> list[str]:
    exe = BIN / "dask"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


@pytest.fixture
def cluster(tmp_path: Path):
    """A scheduler and two single-thread workers (no nanny, so a killed worker stays dead)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []
    files = []

    def start(name: str, args: list[str]) -> subprocess.Popen:
        fh = open(logs / f"{name}.log", "w")  # noqa: SIM115
        files.append(fh)
        p = subprocess.Popen([*dask_cmd(), *args], stdout=fh, stderr=subprocess.STDOUT, cwd=tmp_path,
                             start_new_session=True)
        procs.append(p)
        return p

    try:
        start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"])
        wait_port(port, 60)
        workers = [start(f"worker{i}", ["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                        "--host", "127.0.0.1", "--name", f"w{i}", "--death-timeout", "60"])
                   for i in range(2)]
        from distributed import Client

        with Client(address, timeout="30s", set_as_default=False) as c:
            c.wait_for_workers(2, timeout=90)
        yield address, workers, logs
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                with _quiet():
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in reversed(procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with _quiet():
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        for fh in files:
            fh.close()


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optimizer.bench.generate import generate

    d = tmp_path_factory.mktemp("dask") / "gen"
    generate(d, plants=20, models=5, markets=25, seed=3)  # about 1 s per solve
    return d


def test_batch_on_dask_survives_a_killed_worker(tmp_path: Path, instance: Path, cluster) -> None:
    address, workers, _logs = cluster
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"sweeps": [{"instance": str(instance), "id": "job", "parameters": {
        "discount_rate": RATES, "solver.seed": SEEDS}}]}))
    out = tmp_path / "out"
    cmd = [*CLI, "batch", str(spec), "--out", str(out), "--scheduler", address, "-q"]
    with open(tmp_path / "batch.log", "w") as log:
        batch = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and batch.poll() is None:
                if len(list(out.glob("jobs/*/summary.json"))) >= 3:
                    break
                time.sleep(0.05)
            assert batch.poll() is None, (tmp_path / "batch.log").read_text()
            n_before = len(list(out.glob("jobs/*/summary.json")))
            workers[0].kill()  # SIGKILL a worker in the middle of the batch
            workers[0].wait(10)
            rc = batch.wait(300)
        finally:
            if batch.poll() is None:
                os.killpg(batch.pid, signal.SIGKILL)
                batch.wait(10)
    text = (tmp_path / "batch.log").read_text()
    assert rc == 0, text
    assert n_before < len(RATES) * len(SEEDS), "the batch was over before the worker was killed"

    # every job's result is present exactly once, complete, and ran on the cluster
    folders = sorted(p.name for p in (out / "jobs").iterdir())
    assert len(folders) == len(set(folders)) == len(RATES) * len(SEEDS)
    assert folders == sorted(pd.read_csv(out / "index.csv")["job"])
    assert not (out / ".tmp").exists()
    summaries = {f: json.loads((out / "jobs" / f / "summary.json").read_text()) for f in folders}
    assert all(s["status"] == "optimal" and s["job"] == f for f, s in summaries.items())
    assert all((out / "jobs" / f / "flows.csv").is_file() for f in folders)

    # ... and equals a local run of the same jobs
    local = run_batch({"sweeps": [{"instance": str(instance), "id": "job", "parameters": {"discount_rate": RATES}}]},
                      tmp_path / "local", workers=0)
    ref = dict(zip(local["param.discount_rate"].astype(float), local["objective"]))
    for s in summaries.values():
        r = float(s["parameters"]["discount_rate"])
        assert s["objective"] == pytest.approx(ref[r], rel=1e-9), s["job"]
    shutil.rmtree(tmp_path / "local")
