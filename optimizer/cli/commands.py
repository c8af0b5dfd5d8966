"""Single-instance commands: ``optimizer solve|validate|schema|convert|generate``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from .common import EXIT_NO_SOLUTION, EXIT_OK, _guard, err, main, out


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def print_result(res: Any) -> None:
    """A short human summary of a Result."""
    colour = {"optimal": "green", "feasible": "yellow"}.get(str(res.status), "red")
    out.print(f"[bold]{res.instance}[/]: [bold {colour}]{res.status}[/]"
              + (f" - {res.message}" if res.message else ""))
    if not res.status.has_solution:
        if getattr(res, "diagnosis", None):
            from .decision_commands import print_diagnosis

            print_diagnosis(res.diagnosis)
        return
    gap = "-" if res.gap is None else f"{res.gap:.4%}"
    k = res.kpis
    out.print(f"NPV {_money(res.objective)}  (bound {_money(res.bound)}, gap {gap})")
    out.print(f"Plants kept {k['plants_kept']} of {k['plants_kept'] + k['plants_closed']}; "
              f"closed: {', '.join(k['closed_plants']) or 'none'}; jobs cut {k['jobs_cut']:,.0f}")
    sw = res.software
    dev = sw[sw["developed"] & ~sw["default"].astype(bool)]
    if len(dev):
        out.print("Software variants developed: " + ", ".join(f"{r.model}/{r.stack}" for r in dev.itertuples()))
    multi = res.multi_year
    t = Table(title="NPV breakdown", show_header=True)
    t.add_column("component")
    if not multi:
        t.add_column("annual", justify="right")
    t.add_column("NPV", justify="right")
    for r in res.breakdown.to_dict("records"):
        cells = [str(r["component"])]
        if not multi:
            cells.append("" if r["annual"] != r["annual"] else _money(r["annual"]))
        t.add_row(*cells, _money(r["npv"]))
    out.print(t)
    if multi:
        plan = res.plan
        closing = {p: y for p, y in plan["closures"].items() if y is not None}
        out.print("Closures by year: " + ("; ".join(f"{y}: {', '.join(sorted(p for p in closing if closing[p] == y))}"
                                                  for y in sorted(set(closing.values()))) or "none"))
        dev = {k: y for k, y in plan["developments"].items() if y is not None}
        if dev:
            out.print("Software developed: " + ", ".join(f"{k} ({y})" for k, y in sorted(dev.items())))
        ky = res.table("kpis_by_year")
        kt = Table(title="By year", show_header=True)
        for c in ("year", "plants open", "capacity", "jobs cut", "units", "duty paid", "in quota"):
            kt.add_column(c, justify="right")
        for r in ky.to_dict("records"):
            kt.add_row(str(r["year"]), str(int(r["plants_open"])), f"{r['capacity_open']:,.0f}", f"{r['jobs_cut']:,.0f}",
                       f"{r['units']:,.0f}", _money(r["duty_paid"]), f"{r['in_quota_units']:,.0f}")
        out.print(kt)
    tm = res.timings
    out.print("Time (s): " + ", ".join(f"{k} {tm[k]:.2f}" for k in
                                      ("load", "validate", "build", "import", "transfer", "solve", "extract", "total") if k in tm))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Write summary.json and the CSV tables here.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds (default: instance solver.time_limit_s).")
@click.option("--mip-gap", type=click.FloatRange(0, 1), help="Relative MIP gap (default: instance solver.mip_rel_gap).")
@click.option("--threads", type=click.IntRange(min=1), help="HiGHS threads.")
@click.option("--seed", type=click.IntRange(min=0), help="HiGHS random seed.")
@click.option("--interface", type=click.Choice(["direct", "pyomo"]), default="direct", show_default=True,
              help="How the model reaches HiGHS.")
@click.option("--solver-log", is_flag=True, help="Show HiGHS's log.")
@click.option("--valid-inequalities/--no-valid-inequalities", "vi", default=None,
              help="Force the optional valid inequalities on or off (default: on up to 5,000 flows).")
@click.option("--scenario", default=None, metavar="NAME",
              help="Solve this scenario of the instance's scenarios.yaml (or of --scenarios FILE).")
@click.option("--scenarios", "scenarios_file", type=click.Path(path_type=Path), default=None,
              help="Scenario file to take --scenario from (default: scenarios.yaml next to instance.yaml).")
@_guard
def solve(path: Path, out_dir: Path | None, time_limit: float | None, mip_gap: float | None, threads: int | None,
          seed: int | None, interface: str, solver_log: bool, vi: bool | None, scenario: str | None,
          scenarios_file: Path | None) -> None:
    """Solve the instance at PATH (folder or instance.yaml), or one of its scenarios with --scenario."""
    from ..api import solve as _solve
    from ..models import BuildOptions

    kwargs: dict[str, Any] = dict(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed,
                                  interface=interface, log_solver=solver_log)
    build_options = BuildOptions(valid_inequalities=vi)
    if scenario is None and scenarios_file is not None:
        raise click.UsageError("--scenarios FILE needs --scenario NAME (which scenario of the file to solve)")
    if scenario is not None:
        from ..studies.scenarios import solve_scenario

        res, _ = solve_scenario(path, scenario, scenarios_file=scenarios_file, build_options=build_options, **kwargs)
        out.print(f"Scenario [bold]{res.scenario}[/]: {len(res.scenario_changes)} change(s)")
        for c in res.scenario_changes:
            out.print(f"  - {c}", markup=False)
    else:
        res = _solve(path, build_options=build_options, **kwargs)
    for w in res.warnings:
        err.print(f"warning: {w}", markup=False)
    print_result(res)
    if out_dir is not None:
        res.write(out_dir)
        out.print(f"Results written to {out_dir}/")
    sys.exit(EXIT_OK if res.status.has_solution else EXIT_NO_SOLUTION)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@_guard
def validate(path: Path, strict: bool) -> None:
    """Check the instance at PATH without solving."""
    from ..data.instance import load as _load
    from ..data.prepare import prepare
    from ..data.validate import validate as _validate

    inst = _load(path)
    warnings = _validate(inst, strict=strict)
    data = prepare(inst)
    for w in warnings:
        err.print(f"warning: {w}", markup=False)
    sizes = ", ".join(f"{len(inst.tables[t])} {t}" for t in ("plants", "models", "markets"))
    if data.multi_year:
        n_flows = len(data.flows[["plant", "model", "stack", "market"]].drop_duplicates())
        span = f"{data.years[0]}-{data.years[-1]}"
        counts = f"{n_flows:,} flows, {data.n_flows:,} flow-years ({span})"
    else:
        counts = f"{data.n_flows:,} flows"
    n_w = len(warnings)
    ok = f"OK with {n_w} warning{'s' if n_w != 1 else ''}" if n_w else "OK"
    out.print(f"[green]{ok}[/]: {inst.name}: {sizes}; {counts}")


@main.command()
@click.argument("kind", type=click.Choice(["orlib-cap", "holmberg", "pmed"]))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--capacity", type=float, help="Capacity for capa/capb/capc files (they hold the word 'capacity').")
@_guard
def convert(kind: str, src: Path, outdir: Path, capacity: float | None) -> None:
    """Convert benchmark files (OR-Library cap, Holmberg, p-median) into instance folders."""
    from ..bench.convert import convert as _convert

    result = _convert(kind, src, outdir, capacity=capacity)
    out.print(f"Wrote {result}")


@main.command()
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--plants", type=click.IntRange(min=1), required=True)
@click.option("--models", type=click.IntRange(min=1), required=True)
@click.option("--markets", type=click.IntRange(min=1), required=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--density", type=click.FloatRange(0, 1, min_open=True),
              help="Share of non-domestic plant-market lanes that exist (domestic lanes always do).")
@_guard
def generate(outdir: Path, plants: int, models: int, markets: int, seed: int, density: float | None) -> None:
    """Generate a synthetic instance that uses every feature, deterministic per seed."""
    from ..bench.generate import generate as _generate

    if density is None:
        result = _generate(outdir, plants=plants, models=models, markets=markets, seed=seed)
    else:
        result = _generate(outdir, plants=plants, models=models, markets=markets, seed=seed, density=density)
    out.print(f"Wrote {result}")


@main.command()
def schema() -> None:
    """Print the instance format (every key and column) as Markdown."""
    from ..data.schema import DOC_HEADER, format_reference

    click.echo(DOC_HEADER + format_reference(), nl=False)
