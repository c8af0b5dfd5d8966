"""The N best plans (``optimizer alternatives``) against a brute-force enumeration of closure sets.

The oracle is tests/reference.py (no engine import): every closure set allowed by
status, plants_kept and min_jobs_cut, each with its best software and sourcing
choice solved as an LP with scipy. Ranked by NPV, these must be the engine's
alternatives, NPV by NPV and plan by plan.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimizer  # noqa: E402
import randinst  # noqa: E402
import reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def brute_force(folder: Path) -> dict[frozenset[str], float]:
    """{closed plants: best NPV with that closure set} for every feasible closure set."""
    d = reference.load(folder)
    out: dict[frozenset[str], float] = {}
    for z in reference._plant_choices(d):
        fixed = sum(d.fixed_cost[p] * z[p] for p in d.plants)
        closure = sum(d.closure_cost[p] * (1 - z[p]) for p in d.plants)
        best = None
        for wc in itertools.product((0, 1), repeat=len(d.nondefault_stacks)):
            w = dict(zip(d.nondefault_stacks, wc))
            dev = sum(d.dev_cost[vs] * w[vs] for vs in d.nondefault_stacks)
            for assign in reference._sourcing_choices(d, z):
                op = reference._solve_lp(d, z, w, assign)
                if op is None:
                    continue
                npv = d.annuity * (op - fixed) - closure - dev
                best = npv if best is None else max(best, npv)
        if best is not None:
            out[frozenset(p for p in d.plants if z[p] == 0)] = best
    return out


def _closed(text: object) -> frozenset[str]:
    return frozenset() if not isinstance(text, str) or not text else frozenset(text.split("; "))


def _agree(folder: Path, count: int = 50) -> None:
    ref = brute_force(folder)
    tab = optimizer.alternatives(folder, count=count)
    want = sorted(ref.values(), reverse=True)[:count]
    assert len(tab) == len(want), (folder, tab, ref)
    assert tab["npv"].tolist() == pytest.approx(want, rel=1e-6, abs=1e-6), folder
    seen = set()
    for r in tab.itertuples():
        plan = _closed(r.closed)
        assert plan not in seen, f"{folder}: plan {set(plan)} listed twice"
        seen.add(plan)
        assert plan in ref, f"{folder}: plan {set(plan)} is not feasible for the oracle"
        assert r.npv == pytest.approx(ref[plan], rel=1e-6, abs=1e-6), (folder, set(plan))
    assert list(tab["rank"]) == list(range(1, len(tab) + 1))
    best = tab["npv"].iloc[0] if len(tab) else None
    if best:
        assert tab["gap"].tolist() == pytest.approx([(best - v) / abs(best) for v in tab["npv"]], abs=1e-9)


def test_tiny_every_plan() -> None:
    tab = optimizer.alternatives(ROOT / "instances" / "tiny", count=10)
    # plants_kept max 1: keep B (2340), keep A (0), close both (-2500); keeping both is not allowed
    assert tab["closed"].tolist() == ["A", "B", "A; B"]
    assert tab["npv"].tolist() == pytest.approx([2340.0, 0.0, -2500.0])
    assert tab.loc[1, "differences"] == "-A; +B"
    assert (tab["status"] == "optimal").all()
    _agree(ROOT / "instances" / "tiny")


@pytest.mark.parametrize("seed", range(12))
def test_random_v1_ranks_agree_with_enumeration(tmp_path: Path, seed: int) -> None:
    folder = randinst.generate(seed, tmp_path / f"r{seed}")
    _agree(folder)


def test_count_and_within() -> None:
    tiny = ROOT / "instances" / "tiny"
    assert len(optimizer.alternatives(tiny, count=2)) == 2
    tab = optimizer.alternatives(tiny, count=5, within=0.5)
    assert tab["closed"].tolist() == ["A"]  # the second best is 100 % below the best


def test_multi_year_schedules_differ_by_year(tmp_path: Path) -> None:
    tab = optimizer.alternatives(ROOT / "instances" / "nissan_2026", count=2, time_limit=120)
    assert len(tab) == 2
    assert tab["npv"].iloc[0] >= tab["npv"].iloc[1]
    assert tab["closed"].iloc[0] != tab["closed"].iloc[1]
    assert " 20" in tab["closed"].iloc[0]  # closures carry their years


def test_cli_writes_csv(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "optimizer", "alternatives", str(ROOT / "instances" / "tiny"), "--count", "3",
           "--out", str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    tab = pd.read_csv(tmp_path / "alternatives.csv")
    assert list(tab.columns)[:4] == ["rank", "npv", "gap", "closed"]
    assert tab["npv"].tolist() == pytest.approx([2340.0, 0.0, -2500.0])
    assert "2,340" in run.stdout


def test_alternatives_cli_writes_csv_and_workbook(tmp_path) -> None:
    import subprocess
    import sys

    import pandas as pd

    out = tmp_path / "alt"
    run = subprocess.run([sys.executable, "-m", "optimizer", "alternatives", str(ROOT / "instances" / "tiny"),
                          "--count", "2", "--out", str(out), "--xlsx"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    csv = pd.read_csv(out / "alternatives.csv")
    book = pd.read_excel(out / "alternatives.xlsx", sheet_name="alternatives")
    assert list(book["rank"]) == list(csv["rank"]) and book["npv"].tolist() == pytest.approx(csv["npv"].tolist())
    assert csv["npv"].iloc[0] == pytest.approx(2340.0)  # tiny: keep B (hand calculation in tests/test_api.py)
