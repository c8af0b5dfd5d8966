"""Single-instance commands: ``optimizer solve|validate|schema|convert|generate``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..results import format as fmt
from .common import EXIT_INTERRUPTED, EXIT_NO_SOLUTION, EXIT_OK, _guard, err, main, out


class _StatusLine:
    """A live one-line status of a MIP solve on stderr; only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        inc = "-" if p.objective is None else f"{p.objective:,.0f}"
        bnd = "-" if p.bound is None else f"{p.bound:,.0f}"
        gap = "-" if p.gap is None else f"{p.gap:.3%}"
        nodes = "" if p.nodes is None else f"  nodes {p.nodes:,}"
        line = f"  solving {p.elapsed:6.1f} s  incumbent {inc}  bound {bnd}  gap {gap}{nodes}"
        sys.stderr.write("\r\x1b[2K" + line[:200])
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self.shown = False


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
    cur = (getattr(res, "context", None) or {}).get("currency")
    out.print(f"NPV {fmt.money(res.objective, cur)}  (bound {fmt.money(res.bound)}, gap {gap})")
    out.print(f"Plants kept {k['plants_kept']} of {k['plants_kept'] + k['plants_closed']}; "
              f"closed: {', '.join(k['closed_plants']) or 'none'}; jobs cut {fmt.number(k['jobs_cut'])}")
    sw = res.software
    dev = sw[sw["developed"] & ~sw["default"].astype(bool)]
    if len(dev):
        out.print("Software variants developed: " + ", ".join(f"{r.model}/{r.stack}" for r in dev.itertuples()))
    multi = res.multi_year
    t = Table(title="NPV breakdown", show_header=True)
    t.add_column("component")
    if not multi:
        t.add_column(f"annual{' ' + cur if cur else ''}", justify="right")
    t.add_column(f"NPV{' ' + cur if cur else ''}", justify="right")
    for r in res.breakdown.to_dict("records"):
        cells = [str(r["component"])]
        if not multi:
            cells.append("" if r["annual"] != r["annual"] else fmt.money(r["annual"]))
        t.add_row(*cells, fmt.money(r["npv"]))
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
                       f"{r['units']:,.0f}", fmt.compact(r["duty_paid"]), f"{r['in_quota_units']:,.0f}")
        out.print(kt)
    if res.report is not None:
        _print_method(res.report.method, res.report.decomposition)
    tm = res.timings
    out.print("Time (s): " + ", ".join(f"{k} {tm[k]:.2f}" for k in
                                      ("load", "validate", "build", "import", "transfer", "solve", "extract", "total") if k in tm))


def _print_method(used: str | None, d: dict[str, Any]) -> None:
    """The decomposition's figures, or why the monolithic model was used when something else was asked for."""
    if used == "benders":
        out.print(f"Method benders: {d.get('rounds')} master rounds (+{d.get('lp_rounds')} LP), {d.get('cuts')} cuts, "
                  f"{d.get('pieces')} subproblem piece(s)")
    elif d.get("requested") not in (None, "monolithic"):
        out.print(f"Method monolithic ({d.get('reason')})", markup=False)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Write summary.json and the CSV tables here.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds (default: instance solver.time_limit_s).")
@click.option("--mip-gap", type=click.FloatRange(0, 1), help="Relative MIP gap (default: instance solver.mip_rel_gap).")
@click.option("--threads", type=click.IntRange(min=1, max=256), help="HiGHS threads.")
@click.option("--seed", type=click.IntRange(min=0, max=2**31 - 1), help="HiGHS random seed.")
@click.option("--interface", type=click.Choice(["direct", "pyomo"]), default="direct", show_default=True,
              help="How the model reaches HiGHS.")
@click.option("--solver-log", is_flag=True, help="Show HiGHS's log.")
@click.option("--method", type=click.Choice(["auto", "monolithic", "benders"]), default=None,
              help="monolithic MIP, Benders decomposition, or auto (default: instance solver.method).")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=None,
              help="Benders: solve the subproblem pieces of a round in this many threads (default 1).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Benders: hold the subproblem pieces on the workers of this Dask scheduler (tcp://host:port).")
@click.option("--valid-inequalities/--no-valid-inequalities", "vi", default=None,
              help="Force the optional valid inequalities on or off (default: on up to 5,000 flows).")
@click.option("--scenario", default=None, metavar="NAME",
              help="Solve this scenario of the instance's scenarios.yaml (or of --scenarios FILE).")
@click.option("--scenario-set", "scenario_set", default=None, metavar="NAME",
              help="Choose one plan across the scenarios of this scenario set (expected / worst_case / max_regret).")
@click.option("--scenarios", "scenarios_file", type=click.Path(path_type=Path), default=None,
              help="Scenario file to take --scenario from (default: scenarios.yaml next to instance.yaml).")
@click.option("--report", "report", is_flag=True,
              help="Also write report.html into --out: one self-contained page (map, charts, tables).")
@click.option("--xlsx", "xlsx", is_flag=True, help="Also write result.xlsx into --out (summary and every table).")
@_guard
def solve(path: Path, out_dir: Path | None, time_limit: float | None, mip_gap: float | None, threads: int | None,
          seed: int | None, interface: str, solver_log: bool, method: str | None,
          workers: int | None, scheduler: str | None, vi: bool | None, scenario: str | None,
          scenario_set: str | None, scenarios_file: Path | None, report: bool, xlsx: bool) -> None:
    """Solve the instance at PATH (folder, instance.yaml or .xlsx workbook), or one of its scenarios with --scenario.

    Ctrl-C stops the solver: the plan it holds is written (status feasible, with its gap) and
    the command exits 130.
    """
    from ..api import solve as _solve
    from ..models import BuildOptions
    from ..results.tables import check_out_dir
    from ..solver.highs import Termination

    if (report or xlsx) and out_dir is None:
        raise click.UsageError("--report and --xlsx write into the result folder: give --out DIR as well.")
    if out_dir is not None:
        check_out_dir(out_dir)  # a bad --out fails now, not after the solve
    build_options = BuildOptions(valid_inequalities=vi)
    benders = None
    if workers is not None or scheduler is not None:
        if method == "monolithic":
            raise click.UsageError("--workers and --scheduler tune the Benders decomposition; "
                                   "drop them or use --method auto|benders")
        if workers is not None and scheduler is not None:
            raise click.UsageError("use either --workers (threads here) or --scheduler (a Dask cluster), not both")
        from ..solver.benders import BendersOptions

        benders = BendersOptions(workers=workers or 1, scheduler=scheduler)
    if scenario_set is not None:
        if scenario is not None:
            raise click.UsageError("use either --scenario or --scenario-set, not both")
        _solve_set(path, scenario_set, scenarios_file, out_dir, dict(time_limit=time_limit, mip_gap=mip_gap,
                                                                    threads=threads, seed=seed,
                                                                    method=method, benders=benders),
                   build_options)
        return
    if scenario is None and scenarios_file is not None:
        raise click.UsageError("--scenarios FILE needs --scenario NAME (which scenario of the file to solve)")
    status_line = _StatusLine()
    kwargs: dict[str, Any] = dict(time_limit=time_limit, mip_gap=mip_gap, threads=threads, seed=seed,
                                  interface=interface, log_solver=solver_log, method=method, benders=benders,
                                  progress=status_line if status_line.enabled and not solver_log else None)
    try:
        if scenario is not None:
            from ..studies.scenarios import solve_scenario

            res, _ = solve_scenario(path, scenario, scenarios_file=scenarios_file, build_options=build_options,
                                    **kwargs)
        else:
            res = _solve(path, build_options=build_options, **kwargs)
    finally:
        status_line.clear()
    if scenario is not None:
        out.print(f"Scenario [bold]{res.scenario}[/]: {len(res.scenario_changes)} change(s)")
        for c in res.scenario_changes:
            out.print(f"  - {c}", markup=False)
    for w in res.warnings:
        err.print(f"warning: {w}", markup=False)
    print_result(res)
    if out_dir is not None:
        res.write(out_dir)
        out.print(f"Results written to {out_dir}/")
        if report:
            from ..results.report import write_report

            out.print(f"Report: {write_report(res, out_dir / 'report.html')}")
        if xlsx:
            from ..results.excel import write_result_xlsx

            out.print(f"Workbook: {write_result_xlsx(res, out_dir / 'result.xlsx')}")
    if res.report is not None and res.report.termination is Termination.INTERRUPTED:
        err.print("Interrupted.", markup=False)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if res.status.has_solution else EXIT_NO_SOLUTION)


def _solve_set(path: Path, name: str, scenarios_file: Path | None, out_dir: Path | None, kw: dict[str, Any],
               build_options: Any) -> None:
    from ..studies.sets import solve_set

    res = solve_set(path, name, scenarios_file=scenarios_file, build_options=build_options, **kw)
    colour = {"optimal": "green", "feasible": "yellow"}.get(str(res.status), "red")
    out.print(f"[bold]Scenario set {res.name}[/] ({res.criterion}): [bold {colour}]{res.status}[/]"
              + (f" - {res.message}" if res.message else ""))
    if res.plan is None:
        sys.exit(EXIT_NO_SOLUTION)
    label = {"expected": "expected NPV", "worst_case": "worst NPV", "max_regret": "largest regret"}[res.criterion]
    out.print(f"{label} {fmt.money(res.value)}; VSS {fmt.money(res.vss)}; EVPI {fmt.money(res.evpi)}")
    closing = {p: y for p, y in res.plan["closures"].items() if y is not None}
    out.print("Plan: closed " + (", ".join(f"{p} ({y})" if y else p for p, y in sorted(closing.items())) or "none"))
    dev = [f"{k} ({y})" if y else k for k, y in res.plan["developments"].items() if y is not None]
    if dev:
        out.print("Software developed: " + ", ".join(dev))
    t = Table(title="Scenarios", show_header=True)
    for c in ("scenario", "weight", "NPV", "own optimum", "regret"):
        t.add_column(c, justify="left" if c == "scenario" else "right")
    for s, d in res.scenarios.items():
        t.add_row(s, f"{d['probability']:.3g}", fmt.money(d["npv"]), fmt.money(d.get("optimum")), fmt.money(d.get("regret")))
    out.print(t)
    _print_method(res.method.get("method"), res.method)
    for n in res.notes:
        err.print(f"note: {n}", markup=False)
    if out_dir is not None:
        res.write(out_dir)
        out.print(f"Results written to {out_dir}/")
    sys.exit(EXIT_OK)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
@click.option("--scenarios", "scenarios_file", type=click.Path(path_type=Path), default=None,
              help="Scenario file to check (default: scenarios.yaml next to instance.yaml, when present).")
@_guard
def validate(path: Path, strict: bool, scenarios_file: Path | None) -> None:
    """Check the instance at PATH, and its scenarios, without solving."""
    from ..data.prepare import prepare
    from ..data.validate import load_checked
    from ..errors import InstanceError, InstanceValidationError
    from ..studies.scenarios import apply_scenario, load_scenarios

    inst, warnings = load_checked(path, strict=strict)
    data = prepare(inst)
    scenarios = load_scenarios(inst, scenarios_file)
    problems = []
    for name in scenarios:  # each scenario's changes fit the tables; every problem reported together
        try:
            apply_scenario(inst, name, scenarios)
        except InstanceError as exc:
            problems += exc.problems
    if problems:
        raise InstanceValidationError(problems, instance=inst.name)
    for w in warnings:
        err.print(f"warning: {w}", markup=False)
    sizes = ", ".join(f"{len(inst.tables[t])} {t}" for t in ("plants", "models", "markets"))
    if data.multi_year:
        n_flows = len(data.flows[["plant", "model", "stack", "market"]].drop_duplicates())
        span = f"{data.years[0]}-{data.years[-1]}"
        counts = f"{n_flows:,} flows, {data.n_flows:,} flow-years ({span})"
    else:
        counts = f"{data.n_flows:,} flows"
    scen = f"; {len(scenarios)} scenario(s) checked" if scenarios else ""
    head = f"[yellow]OK with {len(warnings)} warning(s)[/]" if warnings else "[green]OK[/]"
    out.print(f"{head}: {inst.name}: {sizes}; {counts}{scen}")


@main.command()
@click.argument("kind", type=click.Choice(["orlib-cap", "holmberg", "pmed", "xlsx"]))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--capacity", type=float, help="Capacity for capa/capb/capc files (they hold the word 'capacity').")
@_guard
def convert(kind: str, src: Path, outdir: Path, capacity: float | None) -> None:
    """Convert benchmark files (OR-Library cap, Holmberg, p-median) into instance folders;
    or, with KIND xlsx, an instance folder into one workbook (OUTDIR = case.xlsx) or a workbook into a folder.
    """
    if kind == "xlsx":
        from ..data.xlsx import folder_to_xlsx, is_workbook, xlsx_to_folder

        if is_workbook(src):
            out.print(f"Wrote {xlsx_to_folder(src, outdir)}")
        else:
            if not is_workbook(outdir):
                raise click.UsageError(f"OUT must name a workbook (.xlsx) when SRC is a folder; got '{outdir}'.")
            out.print(f"Wrote {folder_to_xlsx(src, outdir)}")
        return
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
@click.argument("result_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False),
              help="HTML file to write (default: RESULT_DIR/report.html).")
@click.option("--xlsx", "xlsx", is_flag=True, help="Also write RESULT_DIR/result.xlsx.")
@_guard
def report(result_dir: Path, out_file: Path | None, xlsx: bool) -> None:
    """Write the HTML report of a result folder (written by 'solve --out' or a batch job folder)."""
    from ..results.report import ResultData, write_report

    d = ResultData.from_dir(result_dir)
    out.print(f"Report: {write_report(d, out_file or result_dir / 'report.html')}")
    if xlsx:
        from ..results.excel import write_result_xlsx

        out.print(f"Workbook: {write_result_xlsx(d, result_dir / 'result.xlsx')}")


@main.command()
def schema() -> None:
    """Print the instance format (every key and column) as Markdown."""
    from ..data.schema import DOC_HEADER, format_reference

    click.echo(DOC_HEADER + format_reference(), nl=False)
