"""The fuzz suite (slow): mutated instances, scenario files and batch specs through the CLI.

Each case must be refused with exit 2 naming the changed file or key, or run to a sane
status (result files that match it; on the small instance the brute-force oracle's status and
NPV; for monotone changes an NPV that moves only the allowed way). Never exit 3, a traceback,
an escaping exception or a hang.  ``python -m tests.fuzz.run --cases 2000`` runs many more
(figures in tests/fuzz/RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer

from .mutate import CLASSES, TINY, make_case
from .oracle import run_case

N_CASES = 6 * len(CLASSES)


@pytest.fixture(scope="module")
def base_npv() -> dict[str, float]:
    return {"tiny": float(optimizer.solve(TINY, mip_gap=0.0, threads=1).objective)}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(N_CASES))
def test_fuzz_case(seed: int, tmp_path: Path, base_npv: dict[str, float]) -> None:
    case = make_case(seed, tmp_path, base_npv)
    outcome = run_case(case, tmp_path)
    assert outcome.verdict != "FAIL", (case.klass, case.detail, outcome.reasons)


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = make_case(12345, tmp_path / "a")
    b = make_case(12345, tmp_path / "b")
    assert (a.klass, a.detail, a.target) == (b.klass, b.detail, b.target)
