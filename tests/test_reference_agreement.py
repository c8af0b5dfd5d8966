"""The engine against the independent brute-force oracle on random tiny instances.

For each seed, ``randinst.generate`` writes a tiny instance; ``reference.solve``
enumerates every binary decision and solves the remaining LP with scipy, and
``optimizer.solve`` runs the MILP.  Status and NPV must agree.  A second test
checks that the seeds used really exercise every feature of the format, so a
change to the generator cannot silently thin out what is compared.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimizer  # noqa: E402
import randinst  # noqa: E402
import reference  # noqa: E402

SEEDS = list(range(30))
SINGLE_SOURCING_SEEDS = list(range(100, 110))


def _status(res) -> str:
    return str(getattr(res.status, "value", res.status))


def _compare(folder: Path) -> None:
    ref_status, ref_npv = reference.solve(folder)
    res = optimizer.solve(folder, mip_gap=1e-9)
    assert _status(res) == ref_status, f"{folder}: engine {_status(res)}, reference {ref_status} ({ref_npv})"
    if ref_npv is None:
        assert res.objective is None
    else:
        assert res.objective == pytest.approx(ref_npv, rel=1e-6, abs=1e-6), folder


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_matches_bruteforce(tmp_path, seed):
    _compare(randinst.generate(seed, tmp_path / f"seed{seed}"))


@pytest.mark.parametrize("seed", SINGLE_SOURCING_SEEDS)
def test_engine_matches_bruteforce_single_sourcing(tmp_path, seed):
    _compare(randinst.generate(seed, tmp_path / f"seed{seed}", single_sourcing=True))


def _features(d: reference.RefData) -> set[str]:
    """Which features of the format one generated instance exercises."""
    cfg, t = d.extra["config"], d.extra["tables"]
    f: set[str] = set()
    f.add("csv_table" if any(isinstance(v, str) for v in cfg["tables"].values()) else "inline_only")
    if any(isinstance(v, list) for v in cfg["tables"].values()):
        f.add("inline_table")
    f |= {f"tariff_level_{fl.tariff_level}" for fl in d.flows if fl.tariff_level is not None}
    if any(not fl.domestic and fl.tariff_level is None for fl in d.flows):
        f.add("export_without_tariff")
    f.add("domestic_flow" if any(fl.domestic for fl in d.flows) else "no_domestic")
    if any(not fl.domestic for fl in d.flows):
        f.add(f"duty_basis_{cfg.get('duty_basis', 'cif')}")
    export_countries = [d.plant_country[fl.plant] for fl in d.flows if not fl.domestic]
    for o in d.channel_capacity:
        if len({fl.plant for fl in d.flows if not fl.domestic and d.plant_country[fl.plant] == o}) >= 2:
            f.add("channel_shared_by_plants")
        if o in export_countries:
            f.add("channel_used")
    if d.nondefault_stacks:
        f.add("nondefault_stack")
    if "software" in t and any(mk.get("banned_software_origins") for mk in t["markets"].to_dict("records")):
        f.add("software_ban")
    if "software" in t and len(set(t["software"]["model"])) < len(t["models"]):
        f.add("implicit_default_stack")
    if d.line_capacity:
        f.add("line_capacity")
    if d.kept_min is not None or d.kept_max is not None:
        f.add("plants_kept")
    if d.min_jobs_cut:
        f.add("min_jobs_cut")
    f |= {f"status_{s}" for s in d.status.values()}
    if any(v > 0 for v in d.demand_min.values()):
        f.add("min_units")
    dem = t["demand"]
    if "customs_value" in dem and dem["customs_value"].notna().any():
        f.add("customs_value")
    if d.annuity != int(d.annuity):
        f.add("discounting")
    if d.annuity > 1:
        f.add("horizon")
    f.add("single_sourcing" if d.single_sourcing else "multi_sourcing")
    n_lanes = len(t["freight"])
    if n_lanes < len(d.plants) * len(t["markets"]):
        f.add("missing_lane")
    return f


REQUIRED_FEATURES = {
    "csv_table", "inline_table", "tariff_level_0", "tariff_level_1", "tariff_level_2", "tariff_level_3",
    "export_without_tariff", "domestic_flow", "duty_basis_cif", "duty_basis_fob", "channel_shared_by_plants",
    "channel_used", "nondefault_stack", "software_ban", "implicit_default_stack", "line_capacity",
    "plants_kept", "min_jobs_cut", "status_keep", "status_close", "status_free", "min_units", "customs_value",
    "discounting", "horizon", "single_sourcing", "multi_sourcing", "missing_lane",
}


def test_generated_instances_cover_every_feature(tmp_path):
    seen: set[str] = set()
    statuses = []
    for seed in SEEDS:
        d = reference.load(randinst.generate(seed, tmp_path / f"s{seed}"))
        seen |= _features(d)
        statuses.append(reference.solve(d)[0])
    assert REQUIRED_FEATURES - seen == set()
    assert "infeasible" in statuses and "optimal" in statuses


def test_generator_is_deterministic(tmp_path):
    a = randinst.generate(7, tmp_path / "a")
    b = randinst.generate(7, tmp_path / "b")
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    for name in files:
        assert (a / name).read_text() == (b / name).read_text()
