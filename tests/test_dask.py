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


def _multi_piece_seeds(n: int) -> list[int]:
    """Random multi-year instances with an optimum whose decomposition has several pieces."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import randinst_v2
    import reference_v2

    import optimizer
    from optimizer.data.instance import from_dict
    from optimizer.solver.benders import BendersOptions, _Decomposition, not_applicable
    from optimizer.solver.highs import SolveOptions

    out = []
    for seed in range(60):
        built = optimizer.build(from_dict(randinst_v2.generate(seed)))
        if not_applicable(built.blocks) is None and not built.blocks.notes \
                and len(_Decomposition(built.blocks, SolveOptions(), BendersOptions()).pieces) >= 3 \
                and reference_v2.solve(randinst_v2.generate(seed)).status == "optimal":
            out.append(seed)
        if len(out) == n:
            break
    return out


def test_benders_pieces_on_the_cluster_give_the_oracle_optimum(cluster) -> None:
    """Benders with the pieces held by actors on two Dask workers: the oracle's optimum, the plan's
    value re-checked by the oracle, and the pieces really spread over both workers."""
    import randinst_v2
    import reference_v2

    import optimizer
    from optimizer.data.instance import from_dict

    address, _workers, _logs = cluster
    seeds = _multi_piece_seeds(3)
    assert len(seeds) == 3
    for seed in seeds:
        cfg = randinst_v2.generate(seed)
        ref = reference_v2.solve(cfg)
        res = optimizer.solve(from_dict(cfg), mip_gap=1e-9, method="benders",
                              benders=optimizer.BendersOptions(scheduler=address))
        assert str(res.status) == ref.status, seed
        assert res.report.method == "benders", res.report.decomposition
        assert res.objective == pytest.approx(ref.npv, rel=1e-6, abs=1e-6), seed
        assert reference_v2.plan_npv(reference_v2.load(cfg), reference_v2.Plan(**res.plan)) == \
            pytest.approx(ref.npv, rel=1e-6, abs=1e-6)
        assert res.report.decomposition["pieces"] >= 3
    # a scenario set by decomposition on the cluster: one piece per (scenario, year)
    from optimizer.studies.sets import solve_instances

    checked = 0
    for seed in range(20):
        case = randinst_v2.generate_set(seed)
        if case["criterion"] != "expected":
            continue
        ref = reference_v2.solve_set(case["base"], case["scenarios"], case["criterion"], case["weights"])
        if ref.status != "optimal":
            continue
        r = solve_instances(from_dict(case["base"]), {k: from_dict(v) for k, v in case["scenarios"].items()},
                            case["criterion"], case["weights"], mip_gap=1e-9, method="benders",
                            benders=optimizer.BendersOptions(scheduler=address))
        assert r.value == pytest.approx(ref.value, rel=1e-6, abs=1e-6), seed
        if r.method["method"] == "benders" and r.method["pieces"] > 1:
            checked += 1
        if checked == 2:
            break
    assert checked == 2
    from distributed import Client

    with Client(address, timeout="30s", set_as_default=False) as c:  # the actors are gone after the solve
        assert not c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def test_an_unreachable_scheduler_is_a_clear_option_error() -> None:
    import optimizer
    from optimizer.errors import InvalidOptionError

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import randinst_v2

    from optimizer.data.instance import from_dict

    seed = _multi_piece_seeds(1)[0]
    with pytest.raises(InvalidOptionError, match="cannot connect to the Dask scheduler"):
        optimizer.solve(from_dict(randinst_v2.generate(seed)), method="benders",
                        benders=optimizer.BendersOptions(scheduler=f"tcp://127.0.0.1:{free_port()}"))


@pytest.mark.parametrize("address", ["not-an-address", "http://x:1"])
def test_a_malformed_scheduler_address_is_refused_before_connecting(address: str) -> None:
    """The shared connection helper (batch and Benders) names the address and the reason."""
    from optimizer.errors import InvalidOptionError
    from optimizer.solver.cluster import connect

    with pytest.raises(InvalidOptionError, match=f"cannot connect to the Dask scheduler at {address}"):
        connect(address)
