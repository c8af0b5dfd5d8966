"""The documented instance format is generated from the schema and must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_instance_format_doc_is_generated_from_schema() -> None:
    fresh = subprocess.run([sys.executable, "-m", "optimizer", "schema"], capture_output=True, text=True, cwd=ROOT,
                           check=True).stdout
    assert (ROOT / "docs" / "instance-format.md").read_text() == fresh, (
        "docs/instance-format.md is stale: run `optimizer schema > docs/instance-format.md`")


def test_every_schema_column_is_documented() -> None:
    from optimizer.data.schema import TABLES

    doc = (ROOT / "docs" / "instance-format.md").read_text()
    for spec in TABLES.values():
        assert f"table `{spec.name}`" in doc
        for col in spec.columns:
            assert f"`{col.name}`" in doc
