"""The bundled case: solves optimal with exactly 10 of 17 plants, and the plan checks out
against the instance when recomputed from the result tables (optimizer.verify)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import optimizer
from optimizer.results.verify import verify

ROOT = Path(__file__).resolve().parents[1]
NISSAN = ROOT / "instances" / "nissan_2026_v1"


@pytest.fixture(scope="module")
def solved() -> tuple[optimizer.Instance, optimizer.Result]:
    inst = optimizer.load(NISSAN)
    return inst, optimizer.solve(inst, mip_gap=1e-9)


def test_case_size(solved: tuple[optimizer.Instance, optimizer.Result]) -> None:
    inst, _ = solved
    assert len(inst.tables["plants"]) == 17
    assert len(inst.tables["markets"]) >= 25
    plants = set(inst.tables["plants"]["plant"])
    assert {"DFN_Huadu", "ZN_Zhengzhou"} <= plants
    regions = set(inst.tables["markets"]["region"])
    assert {"SEA", "ME", "LATAM", "OCEANIA", "EU", "NA", "JP", "CN"} <= regions


def test_every_figure_sourced_or_assumed(solved: tuple[optimizer.Instance, optimizer.Result]) -> None:
    inst, _ = solved
    ids = {s.id for s in inst.settings.sources if not isinstance(s, str)}
    for name, df in inst.tables.items():
        if df.empty:
            continue
        assert "source" in df.columns, name
        for cell in df["source"]:
            tokens = set(re.findall(r"[A-Za-z]+\d*", str(cell)))
            assert tokens & ids or tokens & {"assumption", "derived"}, f"{name}: row cites nothing: {cell!r}"
            assert all(t in ids for t in tokens if re.fullmatch(r"S\d+", t)), f"{name}: unknown source in {cell!r}"


def test_optimal_with_ten_plants(solved: tuple[optimizer.Instance, optimizer.Result]) -> None:
    inst, res = solved
    assert res.status == "optimal"
    assert res.kpis["plants_kept"] == 10 and res.kpis["plants_closed"] == 7
    assert res.kpis["jobs_cut"] >= inst.settings.min_jobs_cut.min  # the v1 form: one rule


def test_plan_verifies_from_tables(solved: tuple[optimizer.Instance, optimizer.Result]) -> None:
    inst, res = solved
    assert verify(inst, res) == []


def test_us_gets_no_chinese_software(solved: tuple[optimizer.Instance, optimizer.Result]) -> None:
    _, res = solved
    fl, sw = res.flows, res.software.set_index(["model", "stack"])
    us = fl[fl["market"] == "US"]
    origins = {sw.loc[(r.model, r.stack), "origin"] for r in us.itertuples()}
    assert "CN" not in origins


def test_verifier_catches_a_broken_plan(solved: tuple[optimizer.Instance, optimizer.Result]) -> None:
    inst, res = solved
    broken = optimizer.Result(res.status, res.objective + 1e6, res.bound, res.gap, res.report, res.timings,
                              _tables={**res._tables})
    assert any("NPV recomputed" in v for v in verify(inst, broken))
