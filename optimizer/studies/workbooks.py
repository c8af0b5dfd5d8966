"""Excel workbook of a batch folder: the index first, then each result table of every job.

Sheets: ``index`` (one row per job, as index.csv), then ``plants``, ``flows``, ``sales``,
``software`` and ``breakdown`` with the rows of every solved job, a ``job`` column first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..results.excel import write_workbook
from ..results.tables import TABLE_NAMES
from .batch import read_index

__all__ = ["write_batch_xlsx"]


def write_batch_xlsx(batch_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write ``batch_dir/batch.xlsx`` (or ``path``) and return its path."""
    batch_dir = Path(batch_dir)
    idx = read_index(batch_dir)
    sheets: dict[str, pd.DataFrame] = {"index": idx.drop(columns=[c for c in ("path", "instance_path", "worker")
                                                                  if c in idx.columns])}
    for name in TABLE_NAMES:
        parts = []
        for j in idx["job"].astype(str):
            f = batch_dir / "jobs" / j / f"{name}.csv"
            if f.is_file():
                df = pd.read_csv(f)
                df.insert(0, "job", j)
                parts.append(df)
        if parts:
            sheets[name] = pd.concat(parts, ignore_index=True)
    return write_workbook(path or batch_dir / "batch.xlsx", None, sheets)
