"""Trade-off frontiers on instances/tiny, checked against values worked out by hand.

tiny (instances/tiny/README.md): plants A (JP; fixed 1000, closure 500, headcount 50) and
B (CN; fixed 400, closure 2000, headcount 80), plants_kept max 1. The three plans allowed:
keep B (close A) 2340, keep A (close B) 0, close both -2500 (the two closure costs).
Jobs cut by each: 50, 80, 130.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer.studies.frontier import parse_vary

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny"


def test_min_jobs_cut(tmp_path: Path) -> None:
    t = optimizer.frontier(TINY, "min_jobs_cut=0:150:6", out=tmp_path, workers=2)
    assert t["value"].tolist() == [0, 30, 60, 90, 120, 150]
    assert t["status"].tolist() == ["optimal"] * 5 + ["infeasible"]  # 150 > 130 jobs in all
    assert t["npv"].iloc[:5].tolist() == pytest.approx([2340, 2340, 0, -2500, -2500])
    assert t["closed"].iloc[:5].tolist() == ["A", "A", "B", "A; B", "A; B"]
    assert t["plan_changed"].tolist() == [False, False, True, True, False, False]
    # 0 buys nothing over 30, 90 nothing over 120
    assert t["dominated"].tolist() == [True, False, False, True, False, False]
    assert "min_jobs_cut 150: the closest plan cuts 130 (short by 20)" in t["why"].iloc[5]
    npv = t["npv"].dropna().to_numpy()
    assert (np.diff(npv) <= 1e-6).all()  # a tighter requirement never raises the NPV
    for f in ("frontier.csv", "frontier.png", "frontier.html"):
        assert (tmp_path / f).stat().st_size > 0
    assert "data:image/png;base64," in (tmp_path / "frontier.html").read_text()
    csv = pd.read_csv(tmp_path / "frontier.csv")
    assert {"value", "npv", "plants_closed", "plan_changed", "dominated"} <= set(csv.columns)


def test_plants_kept_max_and_tariff_scale(tmp_path: Path) -> None:
    t = optimizer.frontier(TINY, "plants_kept.max=0:2:3", out=tmp_path / "k", workers=0)
    # max 0: close both (-2500); max 1: keep B (2340); max 2: keep both. Unit margins (tests/test_api.py):
    # A->JP 35, A->TH 10, B->JP 30.4, B->TH 34.4; A serves JP (80 * 35 = 2800), B serves TH (50 * 34.4 = 1720);
    # minus both fixed costs 1400: 3120
    assert t["npv"].tolist() == pytest.approx([-2500, 2340, 3120])
    assert t["closed"].fillna("").tolist() == ["A; B", "A", ""]
    assert not t["dominated"].iloc[1] and not t["dominated"].iloc[0]
    # tariff_scale: at 0 no duty: keep B, 80 units to JP at 100-40-8 = 52 and 20 to TH at 90-40-6 = 44:
    # 4160 + 880 - 400 (fixed B) - 500 (closing A) = 4140; at 1 the instance itself: 2340
    t = optimizer.frontier(TINY, "tariff_scale=0:2:5", out=tmp_path / "t", workers=2)
    assert t["npv"].iloc[0] == pytest.approx(4140)
    assert t["npv"].iloc[2] == pytest.approx(2340)
    assert (np.diff(t["npv"].to_numpy()) <= 1e-6).all()  # higher duties never help
    assert not t["dominated"].any()


def test_parse_vary() -> None:
    v = parse_vary("plants_kept[0].max=5:1:9")
    assert v.kind == "plants_kept" and v.index == 0 and v.side == "max" and v.values == (5, 4, 3, 2, 1)
    assert parse_vary("min_jobs_cut=0:100:3").values == (0, 50, 100)
    for bad in ("min_jobs_cut", "plants_kept=0:1:2", "co2_price=0:1:2", "tariff_scale=0:1:1", "min_jobs_cut=a:b:c"):
        with pytest.raises(ValueError):
            parse_vary(bad)


def test_cli(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "optimizer", "frontier", str(TINY), "--vary", "min_jobs_cut=0:90:4",
                          "--out", str(tmp_path), "--workers", "0"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "plan changes" in run.stdout
    t = pd.read_csv(tmp_path / "frontier.csv")
    assert t["npv"].tolist() == pytest.approx([2340, 2340, 0, -2500])
