"""Benders decomposition (optimizer/solver/benders.py) against the monolithic model and the independent oracles.

- v1 random instances (``randinst.generate``) against the brute-force oracle ``reference.solve``;
- multi-year v2 instances (``randinst_v2.generate``: dated rows, quotas, bans, rules with
  selectors, CO2, equity, closure timing, available_from, about a quarter infeasible)
  against the v2 oracle ``reference_v2.solve`` and the engine's plan re-valued by the oracle;
- infeasible instances are reported infeasible; single sourcing goes to the monolithic
  model with the reason; the CLI, the instance setting and summary.json record the method.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import randinst  # noqa: E402
import randinst_v2  # noqa: E402
import reference  # noqa: E402
import reference_v2  # noqa: E402

import optimizer  # noqa: E402
from optimizer.data.instance import from_dict  # noqa: E402
from optimizer.solver.benders import BendersOptions, not_applicable, solve_benders  # noqa: E402
from optimizer.solver.highs import SolveOptions, solve_blocks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
V1_SEEDS = list(range(24))
V2_SEEDS = list(range(32))
SLOW_V2_SEEDS = list(range(32, 120))


def _used(res) -> str:
    return res.report.method if res.report is not None else "none"


@pytest.mark.parametrize("seed", V1_SEEDS)
def test_v1_benders_equals_bruteforce(tmp_path, seed: int) -> None:
    folder = randinst.generate(seed, tmp_path / f"s{seed}")
    ref_status, ref_npv = reference.solve(folder)
    res = optimizer.solve(folder, mip_gap=1e-9, method="benders")
    assert str(res.status) == ref_status, f"seed {seed}: benders {res.status}, oracle {ref_status}"
    if ref_npv is not None:
        assert res.objective == pytest.approx(ref_npv, rel=1e-6, abs=1e-6), f"seed {seed}"
        assert res.bound >= res.objective - 1e-6
    built = optimizer.build(folder)
    why = not_applicable(built.blocks)
    if why is None and not built.blocks.notes:
        assert _used(res) == "benders", res.report.decomposition


def _check_v2(seed: int) -> None:
    cfg = randinst_v2.generate(seed)
    ref = reference_v2.solve(cfg)
    res = optimizer.solve(from_dict(cfg), mip_gap=1e-9, method="benders")
    assert str(res.status) == ref.status, f"seed {seed}: benders {res.status}, oracle {ref.status} ({ref.npv})"
    if ref.status == "optimal":
        assert res.objective == pytest.approx(ref.npv, rel=1e-6, abs=1e-6), f"seed {seed}"
        npv_of_plan = reference_v2.plan_npv(reference_v2.load(cfg), reference_v2.Plan(**res.plan))
        assert npv_of_plan == pytest.approx(ref.npv, rel=1e-6, abs=1e-6), f"seed {seed}: the plan"
        d = res.report.decomposition
        if _used(res) == "benders":
            assert d["rounds"] >= 1 and d["master_solves"] >= d["rounds"] and d["pieces"] >= 1


@pytest.mark.parametrize("seed", V2_SEEDS)
def test_v2_benders_equals_oracle(seed: int) -> None:
    _check_v2(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_V2_SEEDS)
def test_v2_benders_equals_oracle_more_seeds(seed: int) -> None:
    _check_v2(seed)


def test_seeds_exercise_the_decomposition() -> None:
    """Most seeds really go through Benders (not the fallback), multi-year ones in several pieces."""
    used, pieces = 0, []
    for seed in V2_SEEDS[:12]:
        res = optimizer.solve(from_dict(randinst_v2.generate(seed)), mip_gap=1e-9, method="benders")
        if _used(res) == "benders":
            used += 1
            pieces.append(res.report.decomposition["pieces"])
    assert used >= 8
    assert max(pieces) >= 3


def test_multi_year_pieces_never_mix_years() -> None:
    from optimizer.solver.benders import _Decomposition

    for seed in (4, 5, 13):
        built = optimizer.build(from_dict(randinst_v2.generate(seed)))
        dec = _Decomposition(built.blocks, SolveOptions(), BendersOptions())
        x = built.blocks.vars["x"]
        for pc in dec.pieces:
            xs = pc.cols[(pc.cols >= x.offset) & (pc.cols < x.offset + x.size)] - x.offset
            assert x.labels["year"].iloc[xs].nunique() <= 1


def test_cuts_are_valid_and_tight_on_random_plans() -> None:
    """Every cut is >= the piece's true value at any plan (weak duality) and equal at its own plan."""
    import time

    from optimizer.solver.benders import _Decomposition

    rng = np.random.default_rng(0)
    for seed in (5, 16):
        built = optimizer.build(from_dict(randinst_v2.generate(seed)))
        dec = _Decomposition(built.blocks, SolveOptions(), BendersOptions())
        plans = [np.round(rng.uniform(dec.plo, dec.phi)) for _ in range(4)]
        cuts = []
        for p in plans:
            ev = dec.evaluate(p, time.perf_counter() + 60)
            for e in ev:
                assert e.const + e.g @ p == pytest.approx(e.value, rel=1e-7, abs=1e-6)
            cuts.append(ev)
        for ev in cuts:
            for q in plans:
                truth = dec.evaluate(q, time.perf_counter() + 60)
                for e, t in zip(ev, truth):
                    assert e.const + e.g @ q >= t.value - 1e-6 * max(1.0, abs(t.value))


def test_infeasible_instances_are_reported_infeasible() -> None:
    n = 0
    for seed in V2_SEEDS:
        cfg = randinst_v2.generate(seed)
        if reference_v2.solve(cfg).status != "infeasible":
            continue
        res = optimizer.solve(from_dict(cfg), method="benders")
        assert str(res.status) == "infeasible", seed
        n += 1
    assert n >= 3


def test_single_sourcing_is_routed_to_monolithic_with_the_reason(tmp_path) -> None:
    folder = randinst.generate(100, tmp_path / "ss", single_sourcing=True)
    built = optimizer.build(folder)
    assert "single sourcing" in (not_applicable(built.blocks) or "")
    res = optimizer.solve(built, method="benders", mip_gap=1e-9)
    assert res.report.method == "monolithic"
    assert "single sourcing" in res.report.decomposition["reason"]
    assert res.summary()["method"] == "monolithic"
    ref_status, ref_npv = reference.solve(folder)
    assert str(res.status) == ref_status
    if ref_npv is not None:
        assert res.objective == pytest.approx(ref_npv, rel=1e-6, abs=1e-6)


def test_tables_come_from_the_fixed_plan_solve() -> None:
    """Objective, breakdown and bound are consistent: the breakdown sums to the objective."""
    cfg = randinst_v2.generate(16)
    res = optimizer.solve(from_dict(cfg), mip_gap=1e-9, method="benders")
    assert _used(res) == "benders"
    bd = res.breakdown
    total = bd.loc[bd["component"] != "npv", "npv"].sum()
    assert total == pytest.approx(res.objective, rel=1e-9, abs=1e-6)
    mono = optimizer.solve(from_dict(cfg), mip_gap=1e-9, method="monolithic")
    assert res.objective == pytest.approx(mono.objective, rel=1e-9, abs=1e-6)
    assert res.bound == pytest.approx(mono.objective, rel=1e-6, abs=1e-6)


def test_time_limit_returns_best_plan_with_gap() -> None:
    """A tiny time limit: a plan with an honest gap, or no plan, never a wrong 'optimal'."""
    built = optimizer.build(from_dict(randinst_v2.generate(16)))
    rep = solve_benders(built.blocks, SolveOptions(time_limit=1e-3, mip_gap=0.0), bopts=BendersOptions())
    assert rep.method in ("benders", "monolithic")
    if rep.has_solution:
        mono = solve_blocks(built.blocks, SolveOptions(mip_gap=1e-9))
        assert rep.objective <= mono.objective + 1e-6
        if rep.bound is not None:
            assert rep.bound >= mono.objective - 1e-6
        if rep.status.value == "optimal":
            assert rep.objective == pytest.approx(mono.objective, rel=1e-9, abs=1e-6)


def test_auto_picks_monolithic_for_small_models_and_records_why() -> None:
    res = optimizer.solve(ROOT / "instances" / "tiny", method="auto")
    assert res.report.method == "monolithic"
    assert res.report.decomposition["requested"] == "auto"
    assert "auto" in res.report.decomposition["reason"]


def test_instance_setting_and_cli(tmp_path) -> None:
    from click.testing import CliRunner

    from optimizer.cli import main

    r = CliRunner().invoke(main, ["solve", str(ROOT / "instances" / "tiny"), "--method", "benders", "--out",
                                  str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    mono = optimizer.solve(ROOT / "instances" / "tiny", method="monolithic")
    assert s["objective"] == pytest.approx(mono.objective, rel=1e-9)
    assert s["method"] in ("benders", "monolithic")
    assert s["decomposition"]["requested"] == "benders"
    if s["method"] == "benders":
        assert {"rounds", "cuts", "master_solves", "pieces"} <= set(s["decomposition"])
    inst = optimizer.load(ROOT / "instances" / "tiny")
    settings = inst.settings.model_copy(update={"solver": inst.settings.solver.model_copy(update={"method": "benders"})})
    res = optimizer.solve(inst.replace(settings=settings))
    assert res.report.decomposition["requested"] == "benders"


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        optimizer.solve(ROOT / "instances" / "tiny", method="dantzig")


@pytest.mark.parametrize("seed", [4, 16, 30])
def test_build_without_valid_inequalities_gets_them_for_the_decomposition(seed: int) -> None:
    cfg = randinst_v2.generate(seed)
    built = optimizer.build(from_dict(cfg), optimizer.BuildOptions(valid_inequalities=False))
    assert "flow_open" not in built.blocks.cons
    res = optimizer.solve(built, mip_gap=1e-9, method="benders")
    assert "flow_open" not in built.blocks.cons  # the built model itself is left as it was
    ref = reference_v2.solve(cfg)
    assert str(res.status) == ref.status
    if ref.status == "optimal":
        assert res.objective == pytest.approx(ref.npv, rel=1e-6, abs=1e-6)
    if res.report.method == "benders":
        assert res.report.decomposition["valid_inequalities_added"] in (True, False)


def test_pieces_in_a_thread_pool_give_the_oracle_optimum() -> None:
    cfg = randinst_v2.generate(5)
    ref = reference_v2.solve(cfg)
    res = optimizer.solve(from_dict(cfg), mip_gap=1e-9, method="benders", benders=BendersOptions(workers=2))
    assert res.report.method == "benders" and res.report.decomposition["pieces"] > 1
    assert str(res.status) == ref.status == "optimal"
    assert res.objective == pytest.approx(ref.npv, rel=1e-6, abs=1e-6)


def test_cli_workers_and_scheduler(tmp_path) -> None:
    """--workers N solves the pieces in threads (same optimum as the oracle); misuse is a usage error."""
    from click.testing import CliRunner

    from optimizer.cli import main

    cfg = randinst_v2.generate(5)
    ref = reference_v2.solve(cfg)
    folder = tmp_path / "inst"
    folder.mkdir()
    import yaml

    (folder / "instance.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = CliRunner().invoke(main, ["solve", str(folder), "--method", "benders", "--workers", "2", "--mip-gap", "1e-9",
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["method"] == "benders" and s["objective"] == pytest.approx(ref.npv, rel=1e-6, abs=1e-6)
    for args, msg in ((["--method", "monolithic", "--workers", "2"], "tune the Benders decomposition"),
                      (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
                      (["--workers", "0"], "0")):
        r = CliRunner().invoke(main, ["solve", str(folder), *args])
        assert r.exit_code == 2, r.output
        assert msg in r.output
        assert "Traceback" not in r.output


def test_master_solve_error_is_retried_not_reported_as_a_time_limit(tmp_path) -> None:
    """A 16-scenario set (benchmarks.scenario_sets) whose master MIP HiGHS 1.16 rejected ('Solve error':
    its optimum violated a cut row of right-hand side ~1e11 by 4e-6): the master is re-solved with a looser
    feasibility tolerance and the decomposition proves the monolithic model's optimum."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.scenario_sets import _scenario
    from optimizer.bench.generate import generate
    from optimizer.models import BuildOptions
    from optimizer.studies.sets import _combine, _solve_set_model

    base = generate(tmp_path / "base", 20, 5, 25, seed=1)
    parts = [(f"s{k}", 1 / 16, optimizer.build(_scenario(base, tmp_path / f"s{k}", k),
                                               BuildOptions(valid_inequalities=True))) for k in range(16)]
    mb, _ = _combine(parts, "expected", None)
    opts = SolveOptions(time_limit=120, mip_gap=1e-4)
    rep, how = _solve_set_model(mb, opts, None, "benders", None, 10**9)
    mono, _ = _solve_set_model(mb, opts, None, "monolithic", None, 10**9)
    assert how["method"] == "benders"
    assert how["master_retries"] >= 1  # the case does hit the HiGHS error (else this test tests nothing)
    assert str(rep.status) == "optimal", (rep.termination, rep.message, how)
    assert rep.objective == pytest.approx(mono.objective, rel=1e-4)


def test_redundant_rows_are_the_ones_no_plan_can_violate() -> None:
    """Two plants, two customers, x <= d z rows; plant A's capacity (10) covers all demand (3 + 4),
    plant B's (5) does not; a row on a flow without upper bound is never dropped."""
    import scipy.sparse as sp

    from optimizer.solver.benders import _redundant_rows

    # flows: xA1, xA2, xB1, xB2, y (unbounded); plan: zA, zB
    af = sp.csr_matrix(np.array([
        [1, 1, 0, 0, 0],    # cap A: xA1 + xA2 - 10 zA <= 0  -> redundant
        [0, 0, 1, 1, 0],    # cap B: xB1 + xB2 - 5 zB <= 0   -> binds (7 > 5)
        [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0],  # x <= d z
        [0, 0, 0, 0, 1],    # y - zA <= 0: y has no bound row and no finite upper -> kept
        [1, 0, 1, 0, 0],    # demand 1: xA1 + xB1 >= 3 (a lower bound: never dropped)
    ], dtype=float))
    ap = sp.csr_matrix(np.array([[-10, 0], [0, -5], [-3, 0], [-4, 0], [0, -3], [0, -4], [-1, 0], [0, 0]],
                                dtype=float))
    rl = np.array([-np.inf] * 7 + [3.0])
    ru = np.array([0.0] * 7 + [np.inf])
    flo, fhi = np.zeros(5), np.array([np.inf] * 5)
    red = _redundant_rows(af, ap, rl, ru, flo, fhi, np.zeros(2), np.ones(2))
    assert red.tolist() == [True, False, False, False, False, False, False, False]


PMED = ROOT.parent / "shared" / "benchdata" / "pmed"


def _benders_on_benchdata(kind: str, folder: Path, name: str, tmp_path: Path):
    """Convert ``folder/name.txt`` (skip if absent), solve it by Benders to gap 0; (result, published optimum)."""
    import csv

    from optimizer.bench.convert import convert

    src = folder / f"{name}.txt"
    if not src.is_file():
        pytest.skip(f"benchmark data not found: {src}")
    with (folder / "optima.csv").open(encoding="utf-8") as fh:
        published = {r["instance"]: float(r["optimal_value"]) for r in csv.DictReader(fh)}
    built = optimizer.build(convert(kind, src, tmp_path), optimizer.BuildOptions(valid_inequalities=True))
    return optimizer.solve(built, mip_gap=0, method="benders", time_limit=120), published[name]


@pytest.mark.parametrize("name", ["pmed1", "pmed9"])
def test_p_median_by_benders_splits_by_customer_and_proves_the_published_optimum(tmp_path, name: str) -> None:
    """With the plants' capacity rows redundant (capacity = all demand) the flow LP falls apart into one
    piece per customer; the decomposition then proves the OR-Library optimum (optima.csv)."""
    res, published = _benders_on_benchdata("pmed", PMED, name, tmp_path)
    d = res.report.decomposition
    assert res.report.method == "benders" and d["redundant_rows"] > 0 and d["components"] > 1
    assert str(res.status) == "optimal"
    assert -res.objective == pytest.approx(published, abs=1e-6)


def _tiny_cflp(tmp_path: Path, m: int, n: int, ratio: float, seed: int):
    from benchmarks.suites import write_random_cflp
    from optimizer.bench.convert import convert

    src = write_random_cflp(tmp_path / f"cflp_{seed}.txt", m, n, ratio, seed)
    return optimizer.build(convert("orlib-cap", src, tmp_path / f"inst_{seed}"),
                           optimizer.BuildOptions(valid_inequalities=True))


@pytest.mark.parametrize("seed", [1, 2])
def test_knapsack_cut_is_valid_tight_and_stronger_at_every_plan(tmp_path, seed: int) -> None:
    """On a 6 x 12 random CFLP, all 64 plans enumerated: the knapsack-strengthened cut made at each
    plan is >= the flow LP's true value at every plan, equal to it at its own plan, and never weaker
    than the LP-dual cut made at the same plan (strictly stronger somewhere)."""
    import itertools
    import time

    from optimizer.solver.benders import _Decomposition

    built = _tiny_cflp(tmp_path, 6, 12, 1.5, seed)
    dec = _Decomposition(built.blocks, SolveOptions(), BendersOptions())
    try:
        assert len(dec.pieces) == 1 and dec.n_knapsack == 1
        plans = [np.array(bits, dtype=float) for bits in itertools.product((0.0, 1.0), repeat=len(dec.plan))]
        evs = [dec.evaluate(p, time.perf_counter() + 60)[0] for p in plans]
        stronger = 0
        for p, e in zip(plans, evs):
            # g2 is None where the knapsack cut equals the LP-dual one (then only that one is added)
            g2, c2 = (e.g, e.const) if e.g2 is None else (e.g2, e.const2)
            assert c2 + g2 @ p == pytest.approx(e.value, rel=1e-9, abs=1e-6)
            for q, t in zip(plans, evs):
                kq, sq = c2 + g2 @ q, e.const + e.g @ q
                tol = 1e-7 * max(1.0, abs(t.value))
                assert kq >= t.value - tol
                assert kq <= sq + tol
                stronger += kq < sq - tol
        assert stronger > 0
    finally:
        dec.close()


@pytest.mark.parametrize("seed", [9, 16, 26])
def test_knapsack_cuts_on_network_designs_are_valid_and_tight(seed: int) -> None:
    """Network-design instances whose pieces have the structure (every flow in one plant-year's
    capacity row, no software link): the knapsack cut is >= the piece's value at random integral
    plans, equal at its own plan, and the decomposition finds the oracle's optimum."""
    import time

    from optimizer.solver.benders import _Decomposition

    built = optimizer.build(from_dict(randinst_v2.generate(seed)))
    dec = _Decomposition(built.blocks, SolveOptions(), BendersOptions())
    rng = np.random.default_rng(seed)
    try:
        assert dec.n_knapsack > 0
        plans = [np.round(rng.uniform(dec.plo, dec.phi)) for _ in range(6)] + [dec.phi.copy()]
        evs = [dec.evaluate(p, time.perf_counter() + 60) for p in plans]
        for p, ev in zip(plans, evs):
            for e in ev:
                if e.g2 is not None:
                    assert e.const2 + e.g2 @ p == pytest.approx(e.value, rel=1e-7, abs=1e-6)
            for q, truth in zip(plans, evs):
                for e, t in zip(ev, truth):
                    if e.g2 is not None:
                        assert e.const2 + e.g2 @ q >= t.value - 1e-6 * max(1.0, abs(t.value))
    finally:
        dec.close()
    _check_v2(seed)


ORLIB = ROOT.parent / "shared" / "benchdata" / "orlib-cap"


@pytest.mark.parametrize("name", ["cap41", "cap64", "cap94"])
def test_knapsack_cuts_prove_the_published_optimum(tmp_path, name: str) -> None:
    """OR-Library cap instances (capacitated) by Benders with the knapsack cuts: the published optimum."""
    res, published = _benders_on_benchdata("orlib-cap", ORLIB, name, tmp_path)
    d = res.report.decomposition
    assert res.report.method == "benders" and d["knapsack_pieces"] == d["pieces"] == 1
    assert str(res.status) == "optimal"
    assert -res.objective == pytest.approx(published, abs=1e-3)
