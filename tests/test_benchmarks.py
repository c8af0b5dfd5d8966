"""The benchmark runner: the smoke suite end to end (subprocesses, CSV, resume, summary)
and the vectorised highspy reference against the engine."""

from __future__ import annotations

import csv
import os
import time

import pytest

from benchmarks import runner
from benchmarks import suites as S

HAVE_BENCHDATA = (S.BENCHDATA / "orlib-cap" / "cap41.txt").is_file() and (S.BENCHDATA / "holmberg" / "p1").is_file()


@pytest.fixture()
def work(tmp_path, monkeypatch):
    w = tmp_path / "work"
    monkeypatch.setattr(S, "WORK", w)
    monkeypatch.setenv("BENCH_WORK", str(w))
    return tmp_path


def test_smoke_suite_runs_and_matches(work):
    t0 = time.perf_counter()
    only = None if HAVE_BENCHDATA else ["tiny", "gen_small"]
    res = work / "results"
    rows = runner.run_suite("smoke", results=res, ref="none", quiet=True, only=only, jobs=4)
    elapsed = time.perf_counter() - t0
    # < 60 s on an idle 2-core machine; allow for other load on a shared one
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert elapsed < 60 * busy, (elapsed, busy)
    got = {r["instance"]: r for r in rows}
    assert set(got) == set(only or ["tiny", "cap41", "p1", "gen_small"])
    for r in rows:
        assert r["status"] == "optimal", r
        assert not r["error"]
        assert r["variables"] > 0 and r["peak_mem_mb"] > 0
        assert r["time_highs"] >= 0 and r["time_total"] >= r["time_highs"]
    assert got["tiny"]["objective"] == pytest.approx(2340.0)
    if HAVE_BENCHDATA:
        assert got["cap41"]["matches"] is True and got["cap41"]["published_optimum"] == pytest.approx(1040444.375)
        assert got["p1"]["matches"] is True and got["p1"]["objective"] == pytest.approx(8848.0)
    with (res / "smoke.csv").open(newline="") as fh:
        saved = list(csv.DictReader(fh))
    assert sorted(r["instance"] for r in saved) == sorted(r["instance"] for r in rows)
    assert set(runner.COLUMNS) <= set(saved[0])
    # resume: nothing left to do
    assert runner.run_suite("smoke", results=res, ref="none", quiet=True, only=only) == []
    text = runner.summary(res)
    assert "| smoke |" in text and (res / "SUMMARY.md").is_file()


@pytest.mark.parametrize("name", ["tiny", "cap41", "p1", "gen_small"])
def test_reference_model_equals_engine(work, name):
    """Same sizes as the engine's blocks (both hold fixed plants as columns with lower = upper) and
    the same optimum; gen_small has keep/close plants, line capacities, channels and software stacks."""
    import optimizer
    from optimizer.data.prepare import prepare

    from benchmarks.reference import build_highs, run_highs

    if name in ("cap41", "p1") and not HAVE_BENCHDATA:
        pytest.skip("benchdata not available")
    spec = next(s for s in S.smoke() if s.name == name)
    path = spec.path()
    ours = optimizer.solve(path, mip_gap=0.0, time_limit=60)
    ref = build_highs(prepare(optimizer.load(path)))
    assert ref.sizes == ours.sizes
    if name == "gen_small":
        assert ref.fixed_columns > 0
    rr = run_highs(ref.highs, 60, 0.0)
    assert rr["ref_objective"] == pytest.approx(ours.objective, abs=1e-6)


def test_worker_records_a_crash(work):
    out = runner.spawn("ours", work / "log.txt", 60, path=str(work / "does-not-exist"), time_limit=1, mip_gap=0)
    assert out["error"] and out["peak_mem_mb"] > 0


def test_random_cflp_writer_is_deterministic_and_solves_to_brute_force(tmp_path):
    """The random CFLP (Cornuejols et al. generator) written in OR-Library format: same bytes per
    seed, capacities scaled to the ratio, and the engine's optimum on a 4 x 7 instance equals an
    enumeration of the open sets with a transportation LP (scipy.linprog) for each."""
    import itertools

    import numpy as np
    from scipy.optimize import linprog

    import optimizer
    from optimizer.bench.convert import convert, parse_orlib_cap

    a = S.write_random_cflp(tmp_path / "a" / "r.txt", 4, 7, 2.0, 5)
    b = S.write_random_cflp(tmp_path / "b" / "r.txt", 4, 7, 2.0, 5)
    c = S.write_random_cflp(tmp_path / "c" / "r.txt", 4, 7, 2.0, 6)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    d = parse_orlib_cap(a)
    assert (d["m"], d["n"]) == (4, 7)
    assert d["capacity"].sum() == pytest.approx(2.0 * d["demand"].sum(), rel=1e-5)
    assert ((d["demand"] >= 5) & (d["demand"] <= 35)).all()

    best = np.inf
    m, n = d["m"], d["n"]
    for k in range(1, m + 1):
        for open_ in itertools.combinations(range(m), k):
            o = list(open_)
            if d["capacity"][o].sum() < d["demand"].sum() - 1e-9:
                continue
            # x[i, j] = fraction of j's demand served by open facility i
            cost = d["cost"][o].ravel()
            a_eq = np.kron(np.ones(len(o)), np.eye(n))
            a_ub = np.kron(np.eye(len(o)), d["demand"][None, :])
            lp = linprog(cost, A_ub=a_ub, b_ub=d["capacity"][o], A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1),
                         method="highs")
            if lp.status == 0:
                best = min(best, d["fixed_cost"][o].sum() + lp.fun)
    inst = convert("orlib-cap", a, tmp_path / "inst")
    res = optimizer.solve(inst, mip_gap=0.0)
    assert res.status == optimizer.Status.OPTIMAL
    assert -res.objective == pytest.approx(best, rel=1e-7)


def test_random_suite_lists_its_instances(work):
    specs = S.suite("random")
    assert [s.name for s in specs] == [t[0] for t in S.RANDOM_CFLP]
    assert all(s.time_limit() == S.RANDOM_LIMIT for s in specs)
    meta = runner._meta(specs[0].path())  # made in the temporary work folder
    assert meta["optimum_sense"] == "min_cost" and meta["flows"] == 100_000 and meta["seed"] == 1


def test_summary_sets_the_yardsticks_beside_our_rows(tmp_path):
    res = tmp_path / "results"
    runner.append_row(res / "orlib.csv", dict(instance="capc_7250", suite="orlib", status="optimal", gap=0.0,
                                              matches=True, time_highs=257.9, time_total=265.3, time_limit=600))
    runner.append_row(res / "random.csv", dict(instance="cflp_100x1000_s1", suite="random", status="feasible",
                                               gap=0.0123, time_highs=60.1, time_total=66.0, time_limit=60))
    text = runner.summary(res)
    part = text[text.index("## Against the yardsticks"):]
    assert "capc_7250: optimal in HiGHS 258 s (total 265 s, limit 600 s), matches the published optimum" in part
    assert "capb_8000: not run" in part
    assert "cflp_100x1000_s1: feasible in HiGHS 60 s (total 66 s, limit 60 s), gap 1.23%" in part


@pytest.mark.parametrize("seed, size, opts", [
    (1, (8, 5, 20), {}),
    (2, (12, 8, 30), {"duty_basis": "fob", "density": 0.4}),
    (3, (10, 6, 25), {"software_share": 0.8, "ban_share": 0.6, "discount_rate": 0.0}),
])
def test_raw_yardstick_equals_engine(tmp_path, seed, size, opts):
    """benchmarks/raw.py (pandas + numpy straight from the CSVs, no engine code) builds the same model as
    the engine without the valid inequalities: same sizes, same proven optimum."""
    import optimizer
    from optimizer.bench.generate import generate
    from optimizer.models import BuildOptions

    from benchmarks.raw import build_raw, run

    path = generate(tmp_path / "g", *size, seed, **opts)
    ours = optimizer.solve(path, mip_gap=0.0, time_limit=60, build_options=BuildOptions(valid_inequalities=False))
    assert ours.status == optimizer.Status.OPTIMAL
    raw = build_raw(path)
    raw.highs.setOptionValue("mip_rel_gap", 0.0)
    assert raw.sizes == ours.sizes
    assert raw.extra["flows"] == runner._meta(path)["flows"]
    out = run(raw.highs)
    assert out["status"] == "Optimal"
    assert out["objective"] == pytest.approx(ours.objective, rel=1e-9, abs=1e-6)


def test_raw_yardstick_on_nissan_2026_and_refusing_v2():
    """The shipped v1 instance uses no more than the generator's features: same model, same optimum;
    a v2 instance (periods, ...) is refused, not built wrong."""
    import optimizer
    from optimizer.models import BuildOptions

    from benchmarks.raw import build_raw, run

    path = S.ROOT / "instances" / "nissan_2026_v1"
    ours = optimizer.solve(path, mip_gap=0.0, time_limit=60, build_options=BuildOptions(valid_inequalities=False))
    raw = build_raw(path)
    raw.highs.setOptionValue("mip_rel_gap", 0.0)
    assert raw.sizes == ours.sizes
    assert run(raw.highs)["objective"] == pytest.approx(ours.objective, rel=1e-9)
    with pytest.raises(NotImplementedError):
        build_raw(S.ROOT / "instances" / "nissan_2026")
