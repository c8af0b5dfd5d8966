"""Generated instances using every feature: the solved plan satisfies every constraint and
the NPV recomputed from the result tables equals the reported one (optimizer.verify)."""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer
from optimizer.bench.generate import generate
from optimizer.results.verify import verify


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_plan_verifies(tmp_path: Path, seed: int) -> None:
    folder = generate(tmp_path / f"g{seed}", plants=6, models=3, markets=8, seed=seed)
    inst = optimizer.load(folder)
    res = optimizer.solve(inst, mip_gap=1e-9, time_limit=60)
    assert res.status == "optimal"
    assert verify(inst, res) == []


def test_single_sourcing_plan_verifies(tmp_path: Path) -> None:
    folder = generate(tmp_path / "ss", plants=5, models=2, markets=6, seed=7)
    text = (folder / "instance.yaml").read_text().replace("single_sourcing: false", "single_sourcing: true")
    (folder / "instance.yaml").write_text(text)
    inst = optimizer.load(folder)
    assert inst.settings.single_sourcing
    res = optimizer.solve(inst, mip_gap=1e-9, time_limit=60)
    assert res.status == "optimal"
    assert verify(inst, res) == []
