"""The v2 engine against the independent v2 oracle (tests/reference_v2.py) on random instances.

``randinst_v2.generate`` makes tiny multi-year instances using every v2 feature
(dated rows, quotas with wildcards, bans of both kinds, rules with selectors, CO2,
equity shares, closure timing, available_from), about a quarter infeasible;
``reference_v2.solve`` enumerates closure and development years and solves the flows
with scipy; ``optimizer.solve`` runs the MILP at a 1e-9 gap.  Status and NPV agree.
Also: the matrix the default path hands to HiGHS equals, up to row and column
order, the one Pyomo's standard-form compiler makes from the on-demand Pyomo model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optimizer  # noqa: E402
import randinst_v2  # noqa: E402
import reference_v2  # noqa: E402
from optimizer.data.instance import from_dict  # noqa: E402

SEEDS = list(range(40))
SLOW_SEEDS = list(range(40, 200))


def _check(seed: int) -> None:
    cfg = randinst_v2.generate(seed)
    ref = reference_v2.solve(cfg)
    res = optimizer.solve(from_dict(cfg), mip_gap=1e-9)
    assert str(res.status) == ref.status, f"seed {seed}: engine {res.status}, oracle {ref.status} ({ref.npv})"
    if ref.status == "optimal":
        assert res.objective == pytest.approx(ref.npv, rel=1e-6, abs=1e-6), f"seed {seed}"
        npv_of_plan = reference_v2.plan_npv(reference_v2.load(cfg), reference_v2.Plan(**res.plan))
        assert npv_of_plan == pytest.approx(ref.npv, rel=1e-6, abs=1e-6), f"seed {seed}: the engine's plan"


@pytest.mark.parametrize("seed", SEEDS)
def test_v2_engine_equals_oracle(seed: int) -> None:
    _check(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_v2_engine_equals_oracle_more_seeds(seed: int) -> None:
    _check(seed)


def test_seeds_cover_every_feature_and_both_statuses() -> None:
    feats: set[str] = set()
    statuses = set()
    for seed in SEEDS:
        cfg = randinst_v2.generate(seed)
        feats |= randinst_v2.features(cfg)
        statuses.add(reference_v2.solve(cfg).status)
    for f in ("tail_years", "quota_wildcard", "ban_plant_mid_plan", "selector_exclude", "co2_cap", "co2_price",
              "equity_share", "negative_closure_cost", "earliest_closure", "closure_year", "available_from"):
        assert f in feats, f
    assert statuses == {"optimal", "infeasible"}


def _canonical(a, lo, hi, c, clo, cup, integ, names_r, names_c):
    """Rows and columns sorted by name, so two matrices can be compared up to order."""
    ro, co = np.argsort(names_r), np.argsort(names_c)
    a = a.tocsr()[ro][:, co].toarray()
    return a, lo[ro], hi[ro], c[co], clo[co], cup[co], integ[co]


@pytest.mark.parametrize("seed", [1, 3, 7, 12])
def test_default_matrix_equals_pyomo_standard_form(seed: int) -> None:
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    built = optimizer.build(from_dict(randinst_v2.generate(seed)), optimizer.BuildOptions(valid_inequalities=True))
    mb = built.blocks
    a, lo, hi = mb.matrix()
    clo, cup, integ = mb.bounds()
    c, const = mb.objective()
    m = built.model
    sf = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    col_of = {id(v): j for j, v in enumerate(built._columns)}
    perm = np.array([col_of[id(v)] for v in sf.columns])
    assert len(perm) == mb.n_cols, "the standard form drops or adds columns"
    # rows of the standard form, as (lower, upper) in block order: match by content
    A = sf.A.tocsr()
    rhs = np.asarray(sf.rhs, dtype=float)
    mult = np.array([r[1] for r in sf.rows], dtype=int)
    s_lo = np.where(mult == 1, -np.inf, rhs)
    s_hi = np.where(mult == -1, np.inf, rhs)
    # column j of sf = our column perm[j]; map to our order
    ours = a.tocsr()
    key = lambda mat, r: tuple(sorted(zip(mat.indices[mat.indptr[r]:mat.indptr[r + 1]].tolist(),
                                          np.round(mat.data[mat.indptr[r]:mat.indptr[r + 1]], 9).tolist())))
    theirs = A[:, np.argsort(perm)].tocsr() if A.shape[1] else A
    mine = sorted((key(ours, r), lo[r], hi[r]) for r in range(ours.shape[0]))
    other = []
    for r in range(theirs.shape[0]):
        # Pyomo splits ranged rows in two (mixed form keeps them as one row with mult 0 for equalities)
        other.append((key(theirs, r), s_lo[r], s_hi[r]))
    merged: dict = {}
    for k, l, h in other:
        pl, ph = merged.get(k, (-np.inf, np.inf))
        merged[k] = (max(pl, l), min(ph, h))
    mine_d: dict = {}
    for k, l, h in mine:
        pl, ph = mine_d.get(k, (-np.inf, np.inf))
        mine_d[k] = (max(pl, l), min(ph, h))
    assert mine_d == merged
    sf_c = sf.c.toarray()[0]
    assert np.allclose(sf_c[np.argsort(perm)], c)
    assert float(sf.c_offset[0]) == pytest.approx(const)
    bounds = [(v.lb if v.lb is not None else -np.inf, v.ub if v.ub is not None else np.inf) for v in sf.columns]
    assert np.allclose(np.array(bounds)[np.argsort(perm)], np.c_[clo, cup])


def test_user_added_pyomo_constraint_changes_the_optimum() -> None:
    """Hand case 'closure_timing' (v2_cases): closing in 2027 gives 250; forbidding any closure, 220."""
    import pyomo.environ as pyo
    import v2_cases

    cfg, npv, _ = v2_cases.CASES["closure_timing"]
    built = optimizer.build(from_dict(cfg))
    assert optimizer.solve(built).objective == pytest.approx(npv)
    built = optimizer.build(from_dict(cfg))
    built.model.never_close = pyo.Constraint(expr=built.model.z["P1", 2028] == 1)
    res = optimizer.solve(built)
    assert res.objective == pytest.approx(220.0)
    assert res.plan["closures"] == {"P1": None}
