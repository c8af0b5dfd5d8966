"""Tiny hand-calculated v2 instances, one per feature (tests only, no engine imports).

Each case is an instance dict (the shape of instance.yaml with inline tables)
and its optimal NPV worked out BY HAND in the comment above it; sections refer
to ``shared/spec/model-v2.md``.  Unless a case says otherwise: discount rate 0
(every d_y = 1), no tail, cif duty with freight 0 (so the duty basis is the
price), no fixed or closure costs, capacities that do not bind.

``CASES``     name -> (instance, npv, note on the optimal plan)
``SET_CASES`` name -> dict(base, scenarios, criterion, weights, value, npv,
                           npv_star, vss, evpi)   (section 8, clarification 10.9)
"""

from __future__ import annotations

import copy

__all__ = ["CASES", "SET_CASES", "instance"]


def instance(plants, production, markets, demand, freight, *, models=None, periods=None, **extra) -> dict:
    """An instance dict; ``extra`` holds settings and optional tables (by table name)."""
    tables = {
        "plants": [{"fixed_cost": 0, "closure_cost": 0, "headcount": 0, "capacity": 100, **p} for p in plants],
        "models": models or [{"model": "V1", "powertrain": "BEV"}],
        "production": production,
        "markets": markets,
        "demand": demand,
        "freight": [{"unit_cost": 0, **f} for f in freight],
    }
    cfg: dict = {}
    if periods is not None:
        cfg["periods"] = {"first": periods[0], "last": periods[1]}
    for key, value in extra.items():
        if key in ("software", "tariffs", "tariff_quotas", "bans", "export_channels"):
            tables[key] = value
        else:
            cfg[key] = value
    cfg["tables"] = tables
    return cfg


CASES: dict[str, tuple[dict, float, str]] = {}

# --------------------------------------------------------------------------- #
# 1. Closure timing (section 3).  One plant, 2026-2028, fixed cost 100/yr,
#    closure cost 50, margin 100 - 60 = 40/unit, demand 10 / 2 / 1 units (three
#    demand rows with from/to years).  Net cash flow while open:
#    2026: 400 - 100 = 300, 2027: 80 - 100 = -20, 2028: 40 - 100 = -60.
#    never closed: 300 - 20 - 60 = 220;  closed 2026: -50;
#    closed 2027: 300 - 50 = 250;       closed 2028: 300 - 20 - 50 = 230.
#    Optimum: close in 2027, NPV = 250.
# --------------------------------------------------------------------------- #
CASES["closure_timing"] = (
    instance(
        plants=[{"plant": "P1", "country": "JP", "fixed_cost": 100, "closure_cost": 50}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 60}],
        markets=[{"market": "M1", "country": "JP"}],
        demand=[
            {"model": "V1", "market": "M1", "price": 100, "max_units": 10, "to_year": 2026},
            {"model": "V1", "market": "M1", "price": 100, "max_units": 2, "from_year": 2027, "to_year": 2027},
            {"model": "V1", "market": "M1", "price": 100, "max_units": 1, "from_year": 2028},
        ],
        freight=[{"plant": "P1", "market": "M1"}],
        periods=(2026, 2028),
    ),
    250.0,
    "P1 closed from 2027",
)

# --------------------------------------------------------------------------- #
# 2. Quota split between two plants (section 6, 10.7).  One year (2026).  Two
#    Chinese plants export to Canada (M1, country CA): tariff 50 % of 100 =
#    duty_out 50; quota row (CN, *, BEV) of 8 units at 10 % = duty_in 10, one
#    pool for both plants.  P1: unit cost 20, capacity 5; P2: unit cost 30,
#    capacity 10; demand at most 12.
#    Out-of-quota margins: P1 100-20-50 = 30, P2 100-30-50 = 20; both > 0, so
#    P1 makes 5 and P2 7 (demand 12): 5*30 + 7*20 = 290.
#    In-quota saving 50 - 10 = 40 on 8 units of the pool (5 from P1 + 3 from P2,
#    or any split): 320.  NPV = 290 + 320 = 610.
#    (A quota per plant would give 12*40 = 480 saving, NPV 770.)
# --------------------------------------------------------------------------- #
CASES["quota_split"] = (
    instance(
        plants=[{"plant": "P1", "country": "CN", "capacity": 5}, {"plant": "P2", "country": "CN", "capacity": 10}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 20}, {"plant": "P2", "model": "V1", "unit_cost": 30}],
        markets=[{"market": "M1", "country": "CA"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 12}],
        freight=[{"plant": "P1", "market": "M1"}, {"plant": "P2", "market": "M1"}],
        periods=(2026, 2026),
        tariffs=[{"origin": "CN", "market": "M1", "powertrain": "BEV", "ad_valorem": 0.5}],
        tariff_quotas=[{"origin": "CN", "market": "*", "powertrain": "BEV", "quota": 8, "ad_valorem": 0.1}],
    ),
    610.0,
    "both plants open; 8 pooled in-quota units",
)

# --------------------------------------------------------------------------- #
# 3. Tail years change a decision (sections 1 and 3).  2026-2027, r = 10 %,
#    one plant losing 10 a year (margin 9 * 10 units = 90, fixed cost 100),
#    closure cost 25.  d_2026 = 1/1.1, d_2027 = 1/1.21.
#    Without a tail:
#      never closed: -10 (1/1.1 + 1/1.21) = -10 * 2.1/1.21 = -17.355372
#      closed 2026:  -25/1.1 = -22.727273
#      closed 2027:  -10/1.1 - 25/1.21 = -29.752066
#      -> keep the plant, NPV = -21/1.21 = -17.355372.
#    With tail_years: 3, D_tail = 1.1^-3 + 1.1^-4 + 1.1^-5 = 2.055249, and
#    never closed costs -10 (1.735537 + 2.055249) = -37.907862; the other two
#    plans do not change (z_(p,YT) = 0 has no tail)
#      -> close in 2026, NPV = -25/1.1 = -22.727273.
# --------------------------------------------------------------------------- #
_tail = instance(
    plants=[{"plant": "P1", "country": "JP", "fixed_cost": 100, "closure_cost": 25}],
    production=[{"plant": "P1", "model": "V1", "unit_cost": 91}],
    markets=[{"market": "M1", "country": "JP"}],
    demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10}],
    freight=[{"plant": "P1", "market": "M1"}],
    periods=(2026, 2027),
    discount_rate=0.1,
)
CASES["tail_none"] = (copy.deepcopy(_tail), -21 / 1.21, "P1 never closed")
_tail["tail_years"] = 3
CASES["tail_changes_decision"] = (_tail, -25 / 1.1, "P1 closed from 2026")

# --------------------------------------------------------------------------- #
# 4. Country selector (section 4).  2026-2027, plants P1 (CN, unit cost 70),
#    P2 (JP, 50), P3 (JP, 60), capacity 10 each, one US market (no tariffs)
#    buying up to 30 at 100: margins 30, 50, 40 -> 300, 500, 400 a year.
#    Rule {max: 1, from_year: 2027, exclude_countries: [CN]}: in 2027 at most
#    one of P2, P3 is open (P1 does not count).
#    2026: all open, 300 + 500 + 400 = 1200; 2027: P1 + P2 = 800 (close P3).
#    NPV = 2000.  (Without the selector: 1200 + 500 = 1700.)
# --------------------------------------------------------------------------- #
_three_plants = dict(
    plants=[{"plant": "P1", "country": "CN", "capacity": 10}, {"plant": "P2", "country": "JP", "capacity": 10},
            {"plant": "P3", "country": "JP", "capacity": 10}],
    production=[{"plant": "P1", "model": "V1", "unit_cost": 70}, {"plant": "P2", "model": "V1", "unit_cost": 50},
                {"plant": "P3", "model": "V1", "unit_cost": 60}],
    markets=[{"market": "M1", "country": "US"}],
    demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 30}],
    freight=[{"plant": p, "market": "M1"} for p in ("P1", "P2", "P3")],
    periods=(2026, 2027),
)
CASES["country_selector"] = (
    instance(**copy.deepcopy(_three_plants),
             plants_kept=[{"max": 1, "from_year": 2027, "exclude_countries": ["CN"]}]),
    2000.0,
    "P3 closed from 2027",
)

# --------------------------------------------------------------------------- #
# 4b. Jobs rule with by_year, a selector and jobs_cut (section 4).  The same
#    three plants; P2 has headcount 200 but jobs_cut 100, P3 headcount 100
#    (jobs_cut defaults to it).  Rule {min: 150, by_year: 2026, countries: [JP]}:
#    the Japanese plants closed in 2026 must cut >= 150 jobs; one plant cuts
#    only 100, so both close in 2026 and only P1 runs: 2 * 300 = 600.
#    (Counting headcount, closing P2 alone would do: 2 * (300 + 400) = 1400.)
# --------------------------------------------------------------------------- #
_jobs = copy.deepcopy(_three_plants)
_jobs["plants"][1].update(headcount=200, jobs_cut=100)
_jobs["plants"][2].update(headcount=100)
CASES["jobs_rule_by_year"] = (
    instance(**_jobs, min_jobs_cut={"min": 150, "by_year": 2026, "countries": ["JP"]}),
    600.0,
    "P2 and P3 closed from 2026",
)

# --------------------------------------------------------------------------- #
# 5. CO2 cap moving production (section 6b).  2026-2027, one domestic market
#    (JP) buying up to 10 at 100.  P1: unit cost 50, co2 1.5 (production) +
#    0.5 (freight) = 2 t/unit; P2: unit cost 60, co2 0.5 t/unit.  co2_price 1,
#    co2_cap [{max: 10, from_year: 2027}].
#    Per unit after the CO2 charge: P1 50 - 2 = 48, P2 40 - 0.5 = 39.5.
#    2026 (no cap): 10 from P1 = 480.
#    2027: max 48a + 39.5b, a + b <= 10, 2a + 0.5b <= 10.  Moving one unit
#    from P1 to P2 frees 1.5 t, so fill demand and spend the cap:
#    a + b = 10, 2a + 0.5(10 - a) = 10 -> a = 10/3, b = 20/3;
#    value 48*10/3 + 39.5*20/3 = 160 + 790/3 = 1270/3.
#    NPV = 480 + 1270/3 = 2710/3 = 903.333...
# --------------------------------------------------------------------------- #
CASES["co2_cap_moves_production"] = (
    instance(
        plants=[{"plant": "P1", "country": "JP"}, {"plant": "P2", "country": "JP"}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 50, "co2": 1.5},
                    {"plant": "P2", "model": "V1", "unit_cost": 60, "co2": 0.5}],
        markets=[{"market": "M1", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10}],
        freight=[{"plant": "P1", "market": "M1", "co2": 0.5}, {"plant": "P2", "market": "M1"}],
        periods=(2026, 2027),
        co2_price=1,
        co2_cap=[{"max": 10, "from_year": 2027}],
    ),
    2710 / 3,
    "both open; P2 takes 20/3 units in 2027",
)

# --------------------------------------------------------------------------- #
# 6. Bans starting mid-plan (section 5, 10.6).  2026-2027, one Chinese plant
#    (unit cost 50).  V1's default stack has origin CN; stack GL (origin US,
#    dev cost 300, unit cost 5) can be developed.  M1 (US, up to 10 at 100, no
#    tariff): software ban on CN from 2027.  M2 (CN, domestic, up to 5 at 80):
#    plant ban on CN-built vehicles from 2027 -- domestic sales included.
#    2026: M1 10 * 50 + M2 5 * 30 = 650 (default stack).
#    2027: M2 closed to the plant; M1 only with GL: 10 * (100 - 50 - 5) = 450.
#    Without GL: 650.  With GL (developed 2026 or 2027, r = 0): 650 + 450 -
#    300 = 800.  NPV = 800.  (Ignoring the domestic plant ban: 950.)
# --------------------------------------------------------------------------- #
CASES["bans_mid_plan"] = (
    instance(
        plants=[{"plant": "P1", "country": "CN"}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 50}],
        markets=[{"market": "M1", "country": "US"}, {"market": "M2", "country": "CN"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10},
                {"model": "V1", "market": "M2", "price": 80, "max_units": 5}],
        freight=[{"plant": "P1", "market": "M1"}, {"plant": "P1", "market": "M2"}],
        periods=(2026, 2027),
        software=[{"model": "V1", "stack": "CNS", "origin": "CN", "dev_cost": 0, "unit_cost": 0, "default": True},
                  {"model": "V1", "stack": "GL", "origin": "US", "dev_cost": 300, "unit_cost": 5,
                   "default": False}],
        bans=[{"market": "M1", "kind": "software", "origin": "CN", "from_year": 2027},
              {"market": "M2", "kind": "plant", "origin": "CN", "from_year": 2027}],
    ),
    800.0,
    "GL developed (2026 or 2027)",
)

# --------------------------------------------------------------------------- #
# 7. Stack available only from year 2 (section 5).  2026-2027, a Japanese plant
#    (unit cost 50) and one market M1 (JP) that bans CN software in every year
#    (v1 banned_software_origins) and buys up to 10 at 100.  The default stack
#    is CN; stack JPS (origin JP, dev cost 100, unit cost 0) has
#    available_from 2027.  2026: nothing can be sold.  2027: JPS developed,
#    10 * 50 = 500.  NPV = 500 - 100 = 400.  (Without available_from: develop in
#    2026, 500 + 500 - 100 = 900.)
# --------------------------------------------------------------------------- #
CASES["stack_available_from"] = (
    instance(
        plants=[{"plant": "P1", "country": "JP"}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 50}],
        markets=[{"market": "M1", "country": "JP", "banned_software_origins": "CN"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10}],
        freight=[{"plant": "P1", "market": "M1"}],
        periods=(2026, 2027),
        software=[{"model": "V1", "stack": "CNS", "origin": "CN", "dev_cost": 0, "unit_cost": 0, "default": True},
                  {"model": "V1", "stack": "JPS", "origin": "JP", "dev_cost": 100, "unit_cost": 0,
                   "default": False, "available_from": 2027}],
    ),
    400.0,
    "JPS developed in 2027",
)

# --------------------------------------------------------------------------- #
# 8. Equity share changing a decision (section 3, 7, 10.11).  One year (2026),
#    market M1 (JP) buys up to 10 at 100; plants_kept {max: 2}.
#    P1 (equity 0.5): unit cost 40 -> margin 60, fixed 100, closure 40.
#    P2 (equity 1):   unit cost 55 -> margin 45, fixed 100, closure 40.
#    P3 (equity 0.5, status keep) serves only M2 (JP, up to 10 at 100): unit
#    cost 40, co2 2 t/unit, co2_price 1, no fixed cost:
#    0.5 * 600 - 1 * 2 * 10 = 280 (the CO2 charge is not scaled, 10.11).
#    P3 takes one of the two places, so one of P1, P2 closes:
#      keep P1, close P2: 0.5 (600 - 100) - 40 = 210
#      keep P2, close P1: (450 - 100) - 0.5 * 40 = 330
#      close both: -0.5 * 40 - 40 = -60
#    NPV = 330 + 280 = 610.  (Without equity shares P1 would win: 500 - 40 +
#    580 = 1040.)
# --------------------------------------------------------------------------- #
CASES["equity_share"] = (
    instance(
        plants=[{"plant": "P1", "country": "JP", "equity_share": 0.5, "fixed_cost": 100, "closure_cost": 40},
                {"plant": "P2", "country": "JP", "fixed_cost": 100, "closure_cost": 40},
                {"plant": "P3", "country": "JP", "equity_share": 0.5, "status": "keep"}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 40}, {"plant": "P2", "model": "V1", "unit_cost": 55},
                    {"plant": "P3", "model": "V1", "unit_cost": 40, "co2": 2}],
        markets=[{"market": "M1", "country": "JP"}, {"market": "M2", "country": "JP"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10},
                {"model": "V1", "market": "M2", "price": 100, "max_units": 10}],
        freight=[{"plant": "P1", "market": "M1"}, {"plant": "P2", "market": "M1"}, {"plant": "P3", "market": "M2"}],
        periods=(2026, 2026),
        plants_kept={"max": 2},
        co2_price=1,
    ),
    610.0,
    "P1 closed, P2 and P3 open",
)

# --------------------------------------------------------------------------- #
# 9. Negative closure cost, earliest_closure, closure_year, status close
#    (section 3).  2026-2027; each plant has its own domestic market (JP) and
#    lane, capacity 10, price 100.
#    P1: margin 30 * 10 = 300, fixed 100 -> +200 a year; closure cost -500 (a
#        sale): never 400, closed 2026 500, closed 2027 200 + 500 = 700 -> 700.
#    P2: margin 5 * 10 = 50, fixed 100 -> -50 a year; closure 20; earliest
#        closure 2027: never -100, closed 2027 -50 - 20 = -70 -> -70 (closing
#        in 2026 would give -20 but is not allowed).
#    P3: margin 10 * 10 = 100, closure_year 2027 (decided): 2026 only -> 100.
#    P4: status close, closure cost 30 charged in 2026 -> -30.
#    NPV = 700 - 70 + 100 - 30 = 700.
# --------------------------------------------------------------------------- #
CASES["negative_closure_cost"] = (
    instance(
        plants=[{"plant": "P1", "country": "JP", "capacity": 10, "fixed_cost": 100, "closure_cost": -500},
                {"plant": "P2", "country": "JP", "capacity": 10, "fixed_cost": 100, "closure_cost": 20,
                 "earliest_closure": 2027},
                {"plant": "P3", "country": "JP", "capacity": 10, "closure_year": 2027, "status": "free"},
                {"plant": "P4", "country": "JP", "capacity": 10, "fixed_cost": 999, "closure_cost": 30,
                 "status": "close"}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 70}, {"plant": "P2", "model": "V1", "unit_cost": 95},
                    {"plant": "P3", "model": "V1", "unit_cost": 90}, {"plant": "P4", "model": "V1", "unit_cost": 0}],
        markets=[{"market": f"M{i}", "country": "JP"} for i in (1, 2, 3, 4)],
        demand=[{"model": "V1", "market": f"M{i}", "price": 100, "max_units": 10} for i in (1, 2, 3, 4)],
        freight=[{"plant": f"P{i}", "market": f"M{i}"} for i in (1, 2, 3, 4)],
        periods=(2026, 2027),
    ),
    700.0,
    "P1 closed 2027 (sold), P2 closed 2027, P3 closed 2027, P4 closed 2026",
)

# --------------------------------------------------------------------------- #
# Scenario sets (section 8, clarification 10.9).  One year (2026), one US
# market buying up to 10 at 100, plants_kept {min: 1, max: 1}: the plan is which
# plant to keep.  P1 (MX, unit cost 40), P2 (US, 60, domestic), P3 (CA, 45).
# Scenarios change only tariff ad_valorem values (on a basis of 100):
#            MX duty  CA duty |  NPV P1   NPV P2   NPV P3
#   base       0 %      0 %   |   600      400      550
#   duty_up   30 %      5 %   |   300      400      500
#   trade_war 50 %     30 %   |   100      400      250
# NPV*_s: base 600 (P1), duty_up 500 (P3), trade_war 400 (P2).
# The unchanged instance (= base) is optimised by P1: the VSS base plan.
# Weights pi = (0.4, 0.3, 0.3):
#   E[P1] = 240 + 90 + 30 = 360, E[P2] = 400, E[P3] = 220 + 150 + 75 = 445,
#   E[NPV*] = 240 + 150 + 120 = 510.
# expected:   plan P3, value 445; VSS = 445 - 360 = 85; EVPI = 510 - 445 = 65.
# worst_case: min P1 100, P2 400, P3 250 -> plan P2, value 400; the weights sum
#             to 1, so they are used: VSS = 400 - 360 = 40, EVPI = 510 - 400 = 110.
# max_regret: regrets P1 (0, 200, 300) -> 300; P2 (200, 100, 0) -> 200;
#             P3 (50, 0, 150) -> 150.  Plan P3, value 150.  Weights given as
#             1, 1, 1 do not sum to 1, so equal weights 1/3:
#             E[P3] = 1300/3, E[P1] = 1000/3, E[NPV*] = 1500/3;
#             VSS = 300/3 = 100, EVPI = 200/3 = 66.667.
# worst_case without weights (equal weights): VSS = 400 - 1000/3 = 200/3,
#             EVPI = 1500/3 - 400 = 100.
# --------------------------------------------------------------------------- #
def _set_instance(mx: float, ca: float) -> dict:
    return instance(
        plants=[{"plant": "P1", "country": "MX", "capacity": 10}, {"plant": "P2", "country": "US", "capacity": 10},
                {"plant": "P3", "country": "CA", "capacity": 10}],
        production=[{"plant": "P1", "model": "V1", "unit_cost": 40}, {"plant": "P2", "model": "V1", "unit_cost": 60},
                    {"plant": "P3", "model": "V1", "unit_cost": 45}],
        markets=[{"market": "M1", "country": "US"}],
        demand=[{"model": "V1", "market": "M1", "price": 100, "max_units": 10}],
        freight=[{"plant": p, "market": "M1"} for p in ("P1", "P2", "P3")],
        periods=(2026, 2026),
        plants_kept={"min": 1, "max": 1},
        tariffs=[{"origin": "MX", "market": "M1", "powertrain": "*", "ad_valorem": mx},
                 {"origin": "CA", "market": "M1", "powertrain": "*", "ad_valorem": ca}],
    )


_SET_SCENARIOS = {"base": (0.0, 0.0), "duty_up": (0.3, 0.05), "trade_war": (0.5, 0.3)}
_NPV = {"P1": {"base": 600, "duty_up": 300, "trade_war": 100},
        "P2": {"base": 400, "duty_up": 400, "trade_war": 400},
        "P3": {"base": 550, "duty_up": 500, "trade_war": 250}}
_STAR = {"base": 600.0, "duty_up": 500.0, "trade_war": 400.0}
_PI = {"base": 0.4, "duty_up": 0.3, "trade_war": 0.3}


def _set_case(criterion, weights, value, kept, vss, evpi) -> dict:
    return {
        "base": _set_instance(0.0, 0.0),
        "scenarios": {s: _set_instance(*rates) for s, rates in _SET_SCENARIOS.items()},
        "criterion": criterion,
        "weights": weights,
        "value": value,
        "kept": kept,
        "npv": dict(_NPV[kept]),
        "npv_star": dict(_STAR),
        "vss": vss,
        "evpi": evpi,
    }


SET_CASES: dict[str, dict] = {
    "expected": _set_case("expected", _PI, 445.0, "P3", 85.0, 65.0),
    "worst_case": _set_case("worst_case", _PI, 400.0, "P2", 40.0, 110.0),
    "worst_case_equal_weights": _set_case("worst_case", None, 400.0, "P2", 200 / 3, 100.0),
    "max_regret": _set_case("max_regret", {"base": 1, "duty_up": 1, "trade_war": 1}, 150.0, "P3", 100.0, 200 / 3),
}
