"""Source-checkout bridge to the formulation in the repository's top-level ``models/`` folder.

An installed ``optimizer`` holds the formulation as ``optimizer.models`` (``pyproject.toml``
maps ``models/`` there, so nothing named ``models`` is installed at top level).  In a
source checkout, where ``python -m pytest`` imports this tree directly, this file points
the package at ``models/`` and runs its ``__init__``; the build never ships this file.
"""

from pathlib import Path as _Path

_real = _Path(__file__).resolve().parents[2] / "models"
__path__ = [str(_real)]
__file__ = str(_real / "__init__.py")
exec(compile((_real / "__init__.py").read_text(encoding="utf-8"), __file__, "exec"))
