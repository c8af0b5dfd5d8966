"""Command line: ``optimizer batch|compare|explain`` (registered on :func:`optimizer.cli.main`).

Exit codes follow :mod:`optimizer.cli`: 0 every job solved, 1 some job has no
solution or failed, 2 bad SPEC / input / usage, 3 internal error.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click
from rich.table import Table

from .common import EXIT_INPUT, EXIT_NO_SOLUTION, EXIT_OK, _guard, err, main, out


def _money(x: float | None) -> str:
    """Compact money for terminal tables (the files keep full precision)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:,.3f} bn"
    if a >= 1e6:
        return f"{x / 1e6:,.2f} m"
    return f"{x:,.0f}"


def _index_table(df, title: str) -> Table:  # type: ignore[no-untyped-def]
    t = Table(title=title, show_header=True)
    for c, j in (("job", "left"), ("scenario", "left"), ("status", "left"), ("NPV", "right"), ("kept", "right"),
                 ("jobs cut", "right"), ("time s", "right")):
        t.add_column(c, justify=j, overflow="fold")  # type: ignore[arg-type]
    colour = {"optimal": "green", "feasible": "yellow"}
    for r in df.itertuples():
        st = str(r.status)
        t.add_row(str(r.job), str(r.scenario), f"[{colour.get(st, 'red')}]{st}[/]", _money(r.objective),
                  "-" if r.plants_kept != r.plants_kept else f"{r.plants_kept:.0f}", _money(r.jobs_cut),
                  "-" if r.time_job != r.time_job else f"{r.time_job:.1f}")
    return t


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Batch folder: jobs/<job>/ results, index.csv, index.parquet.")
@click.option("--workers", type=click.IntRange(min=0),
              help="Local worker processes (default: CPUs available; 0 = run in this process, one by one).")
@click.option("--scheduler", help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")
@click.option("--force", is_flag=True, help="Run every job again, even those already finished.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="HiGHS threads per job unless the job or its scenario sets solver.threads.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no result table.")
@_guard
def batch(spec: Path, out_dir: Path, workers: int | None, scheduler: str | None, force: bool, threads: int,
          quiet: bool) -> None:
    """Run the jobs of the batch SPEC (YAML file; or an instance folder = its base + every scenario) in parallel.

    Rerunning the same command resumes: finished jobs are skipped unless --force.
    """
    from ..studies.batch import exit_code, run_batch

    if workers is not None and scheduler is not None:
        raise click.UsageError("give either --workers or --scheduler, not both.")
    index = run_batch(spec, out_dir, workers=workers, scheduler=scheduler, force=force, progress=not quiet,
                      default_threads=threads)
    if not quiet:
        out.print(_index_table(index, f"batch {spec}"))
    ok = int(index["status"].isin(["optimal", "feasible"]).sum())
    out.print(f"{ok} of {len(index)} job(s) solved; index: {out_dir / 'index.csv'} and {out_dir / 'index.parquet'}")
    sys.exit(exit_code(index))


@main.command()
@click.argument("batch_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--baseline", default="base", show_default=True,
              help="Job id, or scenario name, to compare against.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Report folder (default: BATCH_DIR/report).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Flow shifts listed per scenario.")
@_guard
def compare(batch_dir: Path, baseline: str, out_dir: Path | None, top: int) -> None:
    """Compare the scenarios of a batch folder with a baseline (table, Markdown/HTML report, plots)."""
    from ..studies.compare import compare as _compare

    report = _compare(batch_dir, baseline=baseline, out=out_dir or batch_dir / "report", top=top)
    t = Table(title=f"{batch_dir}: each job vs its baseline ({baseline})", show_header=True)
    for c in ("job", "status", "ΔNPV", "Δ%", "plants changed", "software changed", "largest flow shift"):
        t.add_column(c, justify="right" if c in {"ΔNPV", "Δ%"} else "left", overflow="fold")
    for r in report.summary.itertuples():
        pct = "-" if r.npv_change_pct != r.npv_change_pct else f"{r.npv_change_pct:+.2f}%"
        t.add_row(str(r.job), str(r.status), _money(r.npv_change), pct,
                  str(r.plants_changed or "-"), str(r.software_changed or "-"), str(r.top_shift or "-"))
    out.print(t)
    out.print(f"Report: {report.markdown} and {report.html}")
    if report.broken:
        err.print(f"[bold red]Input error[/]: {len(report.broken)} job folder(s) cannot be used and were not compared:")
        for job, why in report.broken.items():
            err.print(f"  - job {job}: {why}. Fix: remove that job folder and rerun the batch (finished jobs are kept) "
                      "to solve it again.", markup=False)
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_OK)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--scenario", default=None, help="Explain the plan of this scenario instead of the base instance.")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: CPUs available).")
@click.option("--scheduler", help="Run the re-solves on an existing Dask cluster.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Keep the re-solves and write explain.csv / explain.md here (resumable).")
@click.option("--no-software", is_flag=True, help="Only plant decisions.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds per solve.")
@click.option("--mip-gap", type=click.FloatRange(0, 1), help="Relative MIP gap per solve.")
@_guard
def explain(path: Path, scenario: str | None, workers: int | None, scheduler: str | None, out_dir: Path | None,
            no_software: bool, time_limit: float | None, mip_gap: float | None) -> None:
    """Why each decision? Re-solve with each plant (and software variant) decision flipped; rank by NPV regret."""
    from ..studies.explain import explain as _explain

    if workers is not None and scheduler is not None:
        raise click.UsageError("give either --workers or --scheduler, not both.")
    rep = _explain(path, scenario=scenario, workers=workers, scheduler=scheduler, out=out_dir,
                   software=not no_software, time_limit=time_limit, mip_gap=mip_gap, progress=True)
    out.print(f"[bold]{rep.instance}[/]{' / ' + rep.scenario if rep.scenario else ''}: base NPV "
              f"{_money(rep.base_objective)} ({rep.base_status})")
    t = Table(title="Decisions ranked by regret (NPV lost if flipped)", show_header=True)
    for c in ("rank", "kind", "decision", "base", "flip", "flipped NPV", "regret", "regret %", "status"):
        t.add_column(c, justify="right" if c in {"rank", "flipped NPV", "regret", "regret %"} else "left",
                     overflow="fold")
    for r in rep.table.itertuples():
        pct = "-" if r.regret_pct != r.regret_pct else ("inf" if math.isinf(r.regret_pct) else f"{r.regret_pct:.3f}%")
        t.add_row("" if r.rank is None or str(r.rank) in ("<NA>", "nan") else str(r.rank), r.kind,
                  r.decision, r.base, r.flip, _money(r.flipped_objective), _money(r.regret), pct, r.status)
    out.print(t)
    if out_dir is not None:
        out.print(f"Written: {out_dir / 'explain.csv'}, {out_dir / 'explain.md'}")
    sys.exit(EXIT_OK if rep.complete else EXIT_NO_SOLUTION)
