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
@_guard
def alternatives(path: Path, count: int, within: float | None, out_dir: Path | None, time_limit: float | None,
                 mip_gap: float) -> None:
    """The COUNT best distinct closure schedules by NPV (no-good cuts on the plant decisions)."""
    from ..studies.alternatives import alternatives as _alternatives

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
