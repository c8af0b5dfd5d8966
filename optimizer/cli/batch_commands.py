"""Command line: ``optimizer batch|compare|explain`` (registered on :func:`optimizer.cli.main`).

Exit codes follow :mod:`optimizer.cli`: 0 every job solved, 1 some job has no
solution or failed, 2 bad SPEC / input / usage, 3 internal error.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from ..results import format as fmt
from .common import EXIT_INPUT, EXIT_NO_SOLUTION, EXIT_OK, _guard, err, main, out
from .tables import Col, fit_table

_money = fmt.compact
"""Compact money for terminal tables (the files keep full precision)."""


def _print_table(title: str | None, cols: list[Col], rows: list[list[str]], where: str = "") -> None:
    t, dropped = fit_table(title, cols, rows, out.width)
    out.print(t, markup=False)
    if dropped:
        out.print(f"(left out at {out.width} columns: {', '.join(dropped)}"
                  + (f"; every column is in {where}" if where else "") + ")", markup=False)


def _currency(out_dir: Path, index) -> str:  # type: ignore[no-untyped-def]
    import json

    for j in index["job"].astype(str):
        try:
            ctx = json.loads((out_dir / "jobs" / j / "summary.json").read_text(encoding="utf-8")).get("context") or {}
        except (OSError, ValueError):
            continue
        if ctx.get("currency"):
            return str(ctx["currency"])
    return ""


def _index_rows(df) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[str(r.job), str(r.scenario), str(r.status), _money(r.objective),
             fmt.number(r.plants_kept), fmt.number(r.jobs_cut), fmt.number(r.time_job, 1)] for r in df.itertuples()]


INDEX_COLS = [Col("job", priority=9), Col("scenario", priority=2), Col("status", priority=8),
              Col("NPV", "right", 7), Col("kept", "right", 4), Col("jobs cut", "right", 3), Col("time s", "right", 1)]


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
@click.option("--xlsx", "xlsx", is_flag=True, help="Also write OUT/batch.xlsx (index first, then every result table).")
@_guard
def batch(spec: Path, out_dir: Path, workers: int | None, scheduler: str | None, force: bool, threads: int,
          quiet: bool, xlsx: bool) -> None:
    """Run the jobs of the batch SPEC (YAML file; or an instance folder = its base + every scenario) in parallel.

    Rerunning the same command resumes: finished jobs are skipped unless --force.
    """
    from ..studies.batch import exit_code, run_batch

    if workers is not None and scheduler is not None:
        raise click.UsageError("give either --workers or --scheduler, not both.")
    index = run_batch(spec, out_dir, workers=workers, scheduler=scheduler, force=force, progress=not quiet,
                      default_threads=threads)
    if not quiet:
        cur = _currency(out_dir, index)
        INDEX_COLS[3].name = f"NPV {cur}".strip()
        _print_table(f"batch {spec}", INDEX_COLS, _index_rows(index), str(out_dir / "index.csv"))
    reused = int(index.attrs.get("reused", 0))
    if reused:
        out.print(f"Resumed: {reused} of {len(index)} job(s) reused from the earlier run in {out_dir} "
                  f"(not solved again; --force reruns them), {index.attrs.get('run', 0)} run now.", markup=False)
    ok = int(index["status"].isin(["optimal", "feasible"]).sum())
    out.print(f"{ok} of {len(index)} job(s) solved; index: {out_dir / 'index.csv'} and {out_dir / 'index.parquet'}",
              markup=False)
    if xlsx:
        from ..studies.workbooks import write_batch_xlsx

        out.print(f"Workbook: {write_batch_xlsx(out_dir)}", markup=False)
    sys.exit(exit_code(index))


@main.command()
@click.argument("batch_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--baseline", default="base", show_default=True,
              help="Job id, or scenario name, to compare against.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Report folder (default: BATCH_DIR/report).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Flow shifts listed per scenario.")
@click.option("--xlsx", "xlsx", is_flag=True, help="Also write comparison.xlsx into the report folder.")
@_guard
def compare(batch_dir: Path, baseline: str, out_dir: Path | None, top: int, xlsx: bool) -> None:
    """Compare the scenarios of a batch folder with a baseline (table, one self-contained HTML report, Markdown)."""
    from ..studies.compare import compare as _compare

    report = _compare(batch_dir, baseline=baseline, out=out_dir or batch_dir / "report", top=top, xlsx=xlsx)
    cur = report.currency
    cols = [Col("job", priority=9), Col("status", priority=3), Col(f"ΔNPV {cur}".strip(), "right", 8),
            Col("Δ%", "right", 6), Col("plants changed", priority=7, wrap=True),
            Col("software changed", priority=4, wrap=True), Col("largest flow shift", priority=2, wrap=True)]
    rows = [[str(r.job), str(r.status), fmt.signed_compact(r.npv_change), fmt.signed_pct(r.npv_change_pct),
             str(r.plants_changed or "-"), str(r.software_changed or "-"), str(r.top_shift or "-")]
            for r in report.summary.itertuples()]
    _print_table(f"{batch_dir}: each job vs its baseline ({baseline})", cols, rows,
                 str(report.out / "comparison.csv"))
    out.print(f"Report: {report.html} (one self-contained file) and {report.markdown}", markup=False)
    if report.xlsx is not None:
        out.print(f"Workbook: {report.xlsx}", markup=False)
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
    cols = [Col("rank", "right", 6), Col("kind", priority=2), Col("decision", priority=9), Col("base", priority=5),
            Col("flip", priority=7), Col("flipped NPV", "right", 3), Col("regret", "right", 8),
            Col("regret %", "right", 4), Col("status", priority=1)]
    rows = []
    for r in rep.table.itertuples():
        pct = "-" if r.regret_pct != r.regret_pct else ("inf" if math.isinf(r.regret_pct) else f"{r.regret_pct:.3f}%")
        rows.append(["" if r.rank is None or r.rank != r.rank or str(r.rank) == "<NA>" else str(r.rank), str(r.kind),
                     str(r.decision), str(r.base), str(r.flip), _money(r.flipped_objective), _money(r.regret), pct,
                     str(r.status)])
    _print_table("Decisions ranked by regret (NPV lost if flipped)", cols, rows,
                 str(out_dir / "explain.csv") if out_dir is not None else "")
    if out_dir is not None:
        out.print(f"Written: {out_dir / 'explain.csv'}, {out_dir / 'explain.md'}")
    sys.exit(EXIT_OK if rep.complete else EXIT_NO_SOLUTION)
