"""Model decisions vs Nissan's announced decisions: the generated section of this case's README.

Solves the case (base), the scenario that frees Nissan's announced closures
(``free_announced_closures``) and every scenario set of ``scenarios.yaml`` (its robust
plan), then writes the README section between ``<!-- decisions:start -->`` and
``<!-- decisions:end -->``:

* the base plan by year;
* plant | model's decision (year) | Nissan's announced decision (source) | agree? | if not,
  why, for the base plan and for the freed-closures plan;
* the robust plan of each scenario set beside the base plan (value, VSS, EVPI).

Nissan's decision per plant is read from the base data (``status: close`` = closed before
the plan, ``closure_year`` = closed from that year, otherwise kept) and described by
``metadata.announced_decisions`` in ``instance.yaml``. Every disagreement needs a row in
``decisions_explained.csv`` (plant, the model decision it explains, the plans it applies
to, why: the data or rule that drives it); a disagreement without one is printed in the
table as UNEXPLAINED and listed by :func:`render`.

The set and scenario solves take about five minutes, so their results are kept in
``decisions_cache.json``; ``--cached`` re-solves only the base and reads the rest from
the cache (what the fast test does).

Usage, from the repository root::

    python instances/nissan_2026/compare_decisions.py            # solve all, write README + cache
    python instances/nissan_2026/compare_decisions.py --cached   # base only, sets from the cache
    python instances/nissan_2026/compare_decisions.py --check    # exit 1 if the README is stale
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

CASE = Path(__file__).resolve().parent
START = "<!-- decisions:start -->"
END = "<!-- decisions:end -->"
CACHE = "decisions_cache.json"
EXPLAINED = "decisions_explained.csv"
FREE = "free_announced_closures"
BASE = "base"
CHINA = "CN"
# Seconds per scenario-set solve. The instance's 120 s is enough for the `expected` and
# `worst_case` sets (about 80 s each on two cores) but not for `max_regret`: its objective
# (the largest regret, ~US$0.2 bn) makes the relative MIP gap about 400 times tighter in
# dollars than on an NPV, and the set solve has no MIP start (see the case README).
SET_TIME_LIMIT = 900.0


# --------------------------------------------------------------------------- solving
_LOADED: dict[str, Any] = {}


def load(case: Path = CASE) -> Any:
    """The validated instance (loaded once per folder and process)."""
    import optimizer

    key = str(Path(case).resolve())
    if key not in _LOADED:
        _LOADED[key] = optimizer.load(case)
    return _LOADED[key]


def _plan_of(plan: dict[str, Any]) -> dict[str, Any]:
    closures = {p: (None if y is None else int(y)) for p, y in plan["closures"].items()}
    devs = {k: (None if y is None else int(y)) for k, y in plan.get("developments", {}).items()}
    return {"closures": closures, "developments": devs}


def _by_year(inst: Any, res: Any) -> list[dict[str, Any]]:
    """One row per year of the plan: the network outside China, closures, jobs, units, duties."""
    country = dict(zip(inst.tables["plants"]["plant"], inst.tables["plants"]["country"]))
    py = res.table("plant_years")
    kp = res.table("kpis_by_year").set_index("year")
    closures = res.plan["closures"]
    rows = []
    for year, grp in py.groupby("year", sort=True):
        out = grp[[country[p] != CHINA for p in grp["plant"]]]
        opened = out[out["open"].astype(bool)]
        k = kp.loc[year]
        rows.append({
            "year": int(year),
            "open_outside_china": int(len(opened)),
            "capacity_outside_china": float(opened["capacity"].sum()),
            "closed": sorted(p for p, y in closures.items() if y is not None and int(y) == int(year)),
            "jobs_cut": float(k["jobs_cut"]),
            "units": float(k["units"]),
            "duty_paid": float(k["duty_paid"]),
            "in_quota_units": float(k["in_quota_units"]),
        })
    return rows


def solve_base(case: Path = CASE) -> dict[str, Any]:
    """The base solve as plain data: status, NPV, plan, the plan by year."""
    import optimizer

    inst = load(case)
    res = optimizer.solve(inst)
    out: dict[str, Any] = {"status": str(res.status), "npv": res.objective, "gap": res.gap}
    if res.status.has_solution:
        out |= _plan_of(res.plan)
        out["by_year"] = _by_year(inst, res)
    out["seconds"] = float(res.timings.get("total", 0.0))
    return out


def solve_free(case: Path = CASE) -> dict[str, Any]:
    """The scenario that frees the announced closures (the model chooses them)."""
    import optimizer

    res, _ = optimizer.solve_scenario(load(case), FREE)
    out: dict[str, Any] = {"status": str(res.status), "npv": res.objective, "gap": res.gap}
    if res.status.has_solution:
        out |= _plan_of(res.plan)
    return out


def solve_sets(case: Path = CASE, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every scenario set's robust plan (or those in ``names``) as plain data."""
    import optimizer

    inst = load(case)
    sets = optimizer.load_scenario_sets(inst)
    out: dict[str, dict[str, Any]] = {}
    for name, ss in sets.items():
        if names is not None and name not in names:
            continue
        r = optimizer.solve_set(inst, name, time_limit=SET_TIME_LIMIT)
        body: dict[str, Any] = {"criterion": r.criterion, "status": str(r.status), "value": r.value,
                                "vss": r.vss, "evpi": r.evpi, "weights": dict(ss.weights),
                                "scenarios": {s: {k: v.get(k) for k in ("probability", "npv", "optimum", "regret")}
                                              for s, v in r.scenarios.items()},
                                "message": r.message}
        if r.plan is not None:
            body |= _plan_of(r.plan)
        out[name] = body
    return out


def collect(case: Path = CASE, *, cached: bool = False, sets: list[str] | None = None) -> dict[str, Any]:
    """Everything the section needs. ``cached``: read the free scenario and the sets from the cache;
    ``sets``: re-solve only these sets (the rest from the cache)."""
    base = solve_base(case)
    if cached or sets:
        rest = json.loads((case / CACHE).read_text())
        if sets:
            import optimizer

            names = list(optimizer.load_scenario_sets(load(case)))
            fresh = solve_sets(case, sets)
            rest["sets"] = {n: fresh.get(n, rest["sets"].get(n)) for n in names}
    else:
        rest = {"free": solve_free(case), "sets": solve_sets(case)}
    return {"base": base, "free": rest["free"], "sets": rest["sets"]}


def write_cache(data: dict[str, Any], case: Path = CASE) -> Path:
    path = case / CACHE
    body = {"note": "written by compare_decisions.py: the free_announced_closures solve and the scenario sets' "
                    "robust plans (their solves take minutes); tests/test_nissan_case.py checks it (slow test)",
            "free": data["free"], "sets": data["sets"]}
    path.write_text(json.dumps(body, indent=1, sort_keys=False) + "\n")
    return path


# --------------------------------------------------------------------------- Nissan's decisions
def nissan_decisions(case: Path = CASE) -> dict[str, dict[str, Any]]:
    """Per plant: Nissan's decision from the base data (kind, year) and its description."""
    inst = load(case)
    first = inst.settings.periods.first
    text = (inst.settings.metadata or {}).get("announced_decisions", {}) or {}
    out = {}
    for r in inst.tables["plants"].to_dict("records"):
        p = r["plant"]
        cy = r.get("closure_year")
        if r.get("status") == "close":
            d = {"closed": True, "year": first, "before_plan": True}
        elif cy is not None and not (isinstance(cy, float) and math.isnan(cy)):
            d = {"closed": True, "year": max(int(cy), first), "before_plan": False}
        else:
            d = {"closed": False, "year": None, "before_plan": False}
        d["country"] = r["country"]
        d["text"] = text.get(p)
        out[p] = d
    return out


def fixed_plants(case: Path = CASE, scenario: str | None = None) -> set[str]:
    """Plants whose decision is data in this plan (status keep/close or a closure_year)."""
    import optimizer

    inst = load(case) if scenario is None else optimizer.apply_scenario(load(case), scenario).instance
    out = set()
    for r in inst.tables["plants"].to_dict("records"):
        cy = r.get("closure_year")
        if r.get("status") in ("keep", "close") or (cy is not None and not (isinstance(cy, float) and math.isnan(cy))):
            out.add(r["plant"])
    return out


def read_explanations(case: Path = CASE) -> list[dict[str, str]]:
    with open(case / EXPLAINED, newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def decision_text(year: int | None) -> str:
    return "kept" if year is None else f"closed {year}"


def explanation(rows: list[dict[str, str]], plant: str, decision: str, context: str) -> str | None:
    for r in rows:
        ctx = [c.strip() for c in r.get("contexts", "*").split(";")]
        if r["plant"] == plant and r["model_decision"] == decision and ("*" in ctx or context in ctx):
            return r["why"]
    return None


# --------------------------------------------------------------------------- rendering
def _m(x: float | None) -> str:
    """Money in US$ million, rounded."""
    if x is None:
        return "n/a"
    v = round(x / 1e6)
    return f"{v:,.0f}" if v != 0 else "0"


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def comparison_table(plan: dict[str, Any], nissan: dict[str, dict[str, Any]], fixed: set[str],
                     rows: list[dict[str, str]], context: str, missing: list[str]) -> list[str]:
    out = ["| plant | model's decision (year) | Nissan's announced decision (source) | agree? | if not, why |",
           "|---|---|---|---|---|"]
    for p, n in nissan.items():
        y = plan["closures"].get(p)
        dec = decision_text(y)
        agree = (y is None) if not n["closed"] else (y == n["year"])
        ntext = n["text"] or "UNDESCRIBED (no metadata.announced_decisions entry)"
        if n["text"] is None:
            missing.append(f"{context}: {p}: no announced_decisions entry in instance.yaml")
        if agree:
            verdict, why = ("yes (data)" if p in fixed else "yes"), ""
        else:
            verdict = "**no**"
            why = explanation(rows, p, dec, context)
            if why is None:
                why = "UNEXPLAINED"
                missing.append(f"{context}: {p}: model '{dec}' vs Nissan "
                               f"'{decision_text(n['year']) if n['closed'] else 'kept'}' has no row in {EXPLAINED}")
        shown = dec + (" (data)" if p in fixed else "")
        out.append(f"| {p} | {shown} | {_cell(ntext)} | {verdict} | {_cell(why)} |")
    return out


def render(data: dict[str, Any], case: Path = CASE) -> tuple[str, list[str]]:
    """The README section (without the markers) and the list of unexplained disagreements."""
    inst = load(case)
    nissan = nissan_decisions(case)
    rows = read_explanations(case)
    missing: list[str] = []
    base, free, sets = data["base"], data["free"], data["sets"]
    L: list[str] = []
    L.append("## Model decisions vs Nissan's announced decisions")
    L.append("")
    L.append("*Generated by `compare_decisions.py` from the solves (do not edit by hand; "
             "`tests/test_nissan_case.py` checks that it is current).* Nissan's decision per plant is read from "
             "the data (`status: close`, `closure_year`) and described by `metadata.announced_decisions`; every "
             f"disagreement is explained in `{EXPLAINED}` (plant, model decision, plans, the data or rule that "
             "drives it). \"(data)\" marks a decision fixed by the data in that plan, which the model cannot "
             "change.")
    L.append("")
    if not str(base["status"]).startswith("optimal"):
        L.append(f"**The base solve is {base['status']}.**")
        L.append("")
    L.append(f"Base plan: {base['status']}, NPV US$ {_m(base['npv'])} m "
             f"(rules: at most {inst.settings.plants_kept[0].max} plants and "
             f"{_n(inst.settings.capacity_kept[0].max)} units of capacity outside China from "
             f"{inst.settings.plants_kept[0].from_year}).")
    L.append("")
    L.append("### The base plan by year")
    L.append("")
    L.append("| year | plants open outside China | capacity open outside China | closed that year | "
             "jobs cut (cumulative) | units built | duties paid (US$ m) | units in quota |")
    L.append("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in base.get("by_year", []):
        L.append(f"| {r['year']} | {r['open_outside_china']} | {_n(r['capacity_outside_china'])} | "
                 f"{', '.join(r['closed']) or '-'} | {_n(r['jobs_cut'])} | {_n(r['units'])} | "
                 f"{_m(r['duty_paid'])} | {_n(r['in_quota_units'])} |")
    devs = [f"{k} ({y})" for k, y in base.get("developments", {}).items() if y is not None]
    L.append("")
    L.append("Software developed: " + (", ".join(devs) if devs else "none (no non-default stack pays for itself)")
             + ".")
    L.append("")

    L.append("### Base plan vs Nissan")
    L.append("")
    L.append("The announced closures are data in the base case (`closure_year`, `status: close`), so the "
             "model can disagree only on the plants left free.")
    L.append("")
    L += comparison_table(base, nissan, fixed_plants(case), rows, BASE, missing)
    L.append("")

    L.append(f"### With the announced closures freed (`{FREE}`)")
    L.append("")
    L.append("The model chooses every closure and its year under the same rules (Córdoba and Chennai, "
             "closed before the plan, stay closed). "
             + (f"{free['status']}, NPV US$ {_m(free['npv'])} m "
                f"({'+' if free['npv'] >= base['npv'] else ''}{_m(free['npv'] - base['npv'])} m against the base)."
                if free.get("npv") is not None else f"**{free['status']}**."))
    L.append("")
    if "closures" in free:
        L += comparison_table(free, nissan, fixed_plants(case, FREE), rows, FREE, missing)
    L.append("")

    L.append("### Robust plans of the scenario sets")
    L.append("")
    L.append("Each set chooses one closure and software plan for all its scenarios (`scenarios.yaml`). "
             "Value: the set's objective (expected NPV, worst-case NPV or, for `max_regret`, the largest "
             "regret); VSS: the value of the stochastic solution against the base plan; EVPI: the expected "
             "value of perfect information (US$ m).")
    L.append("")
    L.append("| set | criterion | scenarios | status | value (US$ m) | VSS (US$ m) | EVPI (US$ m) | plan vs base |")
    L.append("|---|---|---|---|---:|---:|---:|---|")
    for name, s in sets.items():
        diff = []
        for p, y in s.get("closures", {}).items():
            if y != base["closures"].get(p):
                diff.append(f"{p} {decision_text(y)}")
        for k, y in s.get("developments", {}).items():
            if y != base.get("developments", {}).get(k):
                diff.append(f"{k} {'not developed' if y is None else f'developed {y}'}")
        same = "same" if "closures" in s and not diff else ("; ".join(diff) if diff else "no plan")
        L.append(f"| {name} | {s['criterion']} | {len(s['weights'])} | {s['status']} | {_m(s['value'])} | "
                 f"{_m(s['vss'])} | {_m(s['evpi'])} | {same} |")
    L.append("")
    # the plans side by side
    names = list(sets)
    L.append("| plant | Nissan | base | " + f"{FREE} | " + " | ".join(names) + " |")
    L.append("|---|---|---|---|" + "---|" * len(names))
    for p, n in nissan.items():
        ny = decision_text(n["year"]) if n["closed"] else "kept"
        cells = [ny, decision_text(base["closures"].get(p)), decision_text(free.get("closures", {}).get(p))]
        cells += [decision_text(sets[s]["closures"].get(p)) if "closures" in sets[s] else "no plan" for s in names]
        cells = [c if i == 0 or c in (ny, "no plan") else f"**{c}**" for i, c in enumerate(cells)]
        L.append(f"| {p} | " + " | ".join(cells) + " |")
    keys = sorted(set(base.get("developments", {})) | {k for s in sets.values() for k in s.get("developments", {})})
    for k in keys:
        def d(plan: dict[str, Any]) -> str:
            if "closures" not in plan:
                return "no plan"
            y = plan.get("developments", {}).get(k)
            return "-" if y is None else f"developed {y}"
        L.append(f"| software {k} | - | {d(base)} | {d(free)} | " + " | ".join(d(sets[s]) for s in names) + " |")
    L.append("")
    # a set's plan that disagrees with Nissan needs an explanation too (context: the set's name)
    for name, s in sets.items():
        if "closures" not in s:
            missing.append(f"{name}: no plan ({s['status']}: {s.get('message', '')})")
            continue
        for p, n in nissan.items():
            y = s["closures"].get(p)
            if ((y is None) if not n["closed"] else (y == n["year"])):
                continue
            if explanation(rows, p, decision_text(y), name) is None:
                missing.append(f"{name}: {p}: model '{decision_text(y)}' vs Nissan "
                               f"'{decision_text(n['year']) if n['closed'] else 'kept'}' has no row in {EXPLAINED}")
    L.append("Bold: differs from Nissan's decision (explained in the tables above, or by the row of "
             f"`{EXPLAINED}` for that set). Per-scenario NPVs of each set's plan (US$ m):")
    L.append("")
    for name, s in sets.items():
        parts = [f"{sc} {_m(v.get('npv'))} (regret {_m(v.get('regret'))})" for sc, v in s.get("scenarios", {}).items()]
        L.append(f"* `{name}`: " + ("; ".join(parts) + "." if parts and "closures" in s
                                    else f"no plan ({s['status']}: {s.get('message', '')})."))
    L.append("")
    if missing:
        L.append("**Unexplained or undescribed:** " + "; ".join(missing))
        L.append("")
    return "\n".join(L).rstrip() + "\n", missing


def splice(readme: str, section: str) -> str:
    """The README with the text between the markers replaced by ``section``."""
    if START not in readme or END not in readme:
        raise ValueError(f"README has no {START} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}{END}{tail}"


def current_section(readme: str) -> str:
    return readme.split(START, 1)[1].split(END, 1)[0].lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", type=Path, default=CASE)
    ap.add_argument("--cached", action="store_true", help="solve the base only; sets and free scenario from the cache")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if the README section is stale")
    ap.add_argument("--sets", nargs="+", metavar="NAME", help="re-solve only these scenario sets (rest from the cache)")
    a = ap.parse_args(argv)
    data = collect(a.case, cached=a.cached, sets=a.sets)
    section, missing = render(data, a.case)
    readme_path = a.case / "README.md"
    readme = readme_path.read_text()
    new = splice(readme, section)
    if a.check:
        stale = new != readme
        print("README section is " + ("STALE" if stale else "current"))
        for m in missing:
            print("unexplained:", m)
        return 1 if stale or missing else 0
    readme_path.write_text(new)
    if not a.cached or a.sets:
        write_cache(data, a.case)
    print(section)
    for m in missing:
        print("unexplained:", m, file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
