"""Decision support: ``optimizer alternatives|diagnose|frontier`` (registered on :func:`optimizer.cli.main`).

Exit codes follow :mod:`optimizer.cli`: 0 done, 1 no solution (alternatives of an
infeasible instance; diagnose of a feasible one is 0), 2 bad input or usage, 3
internal error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from .batch_commands import _money
from .common import EXIT_NO_SOLUTION, EXIT_OK, _guard, main, out


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--count", type=click.IntRange(min=1), default=5, show_default=True, help="How many plans.")
@click.option("--within", type=click.FloatRange(min=0), default=None,
              help="Stop at the first plan more than this fraction below the best NPV (e.g. 0.02).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Write alternatives.csv here.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds per re-solve.")
@click.option("--mip-gap", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Relative MIP gap per re-solve (0 = exact ranks).")
@click.option("--xlsx", is_flag=True, help="Also write alternatives.xlsx into --out.")
@_guard
def alternatives(path: Path, count: int, within: float | None, out_dir: Path | None, time_limit: float | None,
                 mip_gap: float, xlsx: bool) -> None:
    """The COUNT best distinct closure schedules by NPV (no-good cuts on the plant decisions)."""
    from ..studies.alternatives import alternatives as _alternatives

    if xlsx and out_dir is None:
        raise click.UsageError("--xlsx writes into the result folder: give --out DIR as well.")

    tab = _alternatives(path, count=count, within=within, time_limit=time_limit, mip_gap=mip_gap, out=out_dir)
    if tab.empty:
        out.print("[bold red]No feasible plan[/] (run `optimizer diagnose` to see which rule has to give).")
        sys.exit(EXIT_NO_SOLUTION)
    t = Table(title="The best plans", show_header=True)
    for c, j in (("rank", "right"), ("NPV", "right"), ("gap", "right"), ("closed", "left"), ("vs rank 1", "left"),
                 ("status", "left")):
        t.add_column(c, justify=j, overflow="fold")  # type: ignore[arg-type]
    for r in tab.itertuples():
        t.add_row(str(r.rank), f"{r.npv:,.0f}", f"{r.gap:.3%}", r.closed or "none", r.differences or "-", r.status)
    out.print(t)
    if len(tab) < count:
        why = "the next plan is below --within" if within is not None else "no further plan is feasible"
        out.print(f"{len(tab)} plan(s): {why} (or the search stopped).")
    if out_dir is not None:
        out.print(f"Written {out_dir}/alternatives.csv")
        if xlsx:
            from ..results.excel import write_workbook

            book = write_workbook(out_dir / "alternatives.xlsx", [("instance", str(path)), ("plans", len(tab))],
                                  {"alternatives": tab})
            out.print(f"Workbook: {book}")
    sys.exit(EXIT_OK)


def print_diagnosis(items: list[dict]) -> None:  # type: ignore[type-arg]
    """The rules that have to give, one line each."""
    if not items:
        return
    out.print("[bold]Why infeasible[/] (the closest plan, relaxing as little of the written rules as possible):")
    for it in items:
        out.print(f"  - {it['message']}  [dim]({it['where']})[/]")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--scenario", default=None, metavar="NAME", help="Diagnose this scenario.")
@click.option("--scenarios", "scenarios_file", type=click.Path(path_type=Path), default=None,
              help="Scenario file to take --scenario from.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds per solve.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Write diagnosis.json here.")
@_guard
def diagnose(path: Path, scenario: str | None, scenarios_file: Path | None, time_limit: float | None,
             out_dir: Path | None) -> None:
    """Explain an infeasible instance: which rule you wrote has to give, and by how much."""
    from ..studies.diagnose import diagnose as _diagnose

    d = _diagnose(path, scenario=scenario, scenarios_file=scenarios_file, time_limit=time_limit, out=out_dir)
    if d.feasible:
        out.print(f"[bold]{d.instance}[/]: [green]feasible[/] - nothing to explain.")
        sys.exit(EXIT_OK)
    out.print(f"[bold]{d.instance}[/]: [red]infeasible[/]; {len(d.items)} rule(s) have to give.")
    print_diagnosis(d.items)
    t = Table(show_header=True)
    for c in ("rule", "where", "required", "reachable", "shortfall"):
        t.add_column(c, justify="right" if c in {"required", "reachable", "shortfall"} else "left", overflow="fold")
    for it in d.items:
        t.add_row(*(str(it[c]) if not isinstance(it[c], float) else f"{it[c]:,.6g}"
                    for c in ("rule", "where", "required", "reachable", "shortfall")))
    out.print(t)
    if out_dir is not None:
        out.print(f"Written {out_dir}/diagnosis.json")
    sys.exit(EXIT_OK)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--vary", required=True, metavar="SETTING=FROM:TO:STEPS",
              help="min_jobs_cut, plants_kept.max, plants_kept[0].min, capacity_kept.max, tariff_scale, ...")
@click.option("--scenario", default=None, metavar="NAME", help="Vary the setting on top of this scenario.")
@click.option("--scenarios", "scenarios_file", type=click.Path(path_type=Path), default=None,
              help="Scenario file to take --scenario from.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Local processes (default: CPUs; 0 = inline).")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Run the points on this Dask scheduler.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("frontier"), show_default=True,
              help="Batch folder (resumable); frontier.csv, frontier.png and frontier.html are written here.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds per point.")
@click.option("--mip-gap", type=click.FloatRange(0, 1), help="Relative MIP gap per point.")
@click.option("--force", is_flag=True, help="Solve every point again.")
@_guard
def frontier(path: Path, vary: str, scenario: str | None, scenarios_file: Path | None, workers: int | None,
             scheduler: str | None, out_dir: Path, time_limit: float | None, mip_gap: float | None, force: bool) -> None:
    """NPV against one setting, solved at STEPS values in parallel; where the plan changes; dominated points."""
    from ..studies.frontier import frontier as _frontier

    if workers is not None and scheduler is not None:
        raise click.UsageError("give either --workers or --scheduler, not both.")
    tab = _frontier(path, vary, scenario=scenario, scenarios_file=scenarios_file, workers=workers, scheduler=scheduler,
                    out=out_dir, time_limit=time_limit, mip_gap=mip_gap, progress=True, force=force)
    t = Table(title=f"NPV against {tab['setting'].iloc[0]}", show_header=True)
    for c, j in (("value", "right"), ("status", "left"), ("NPV", "right"), ("closed", "right"), ("plan", "left"),
                 ("", "left")):
        t.add_column(c, justify=j, overflow="fold")  # type: ignore[arg-type]
    for r in tab.itertuples():
        ok = r.status in ("optimal", "feasible")
        flag = ("plan changes" if r.plan_changed else "") + (" dominated" if r.dominated else "")
        t.add_row(f"{r.value:,.6g}", r.status, _money(r.npv) if ok else "-", str(r.plants_closed) if ok else "-",
                  (r.closed or "none") if ok else "-", flag.strip())
    out.print(t)
    out.print(f"Written {out_dir}/frontier.csv, frontier.png, frontier.html")
    sys.exit(EXIT_OK if (tab["status"].isin(["optimal", "feasible"])).any() else EXIT_NO_SOLUTION)
