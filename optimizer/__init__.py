"""optimizer: strategic supply-chain network design, solved with HiGHS through Pyomo.

The public API::

    inst = optimizer.load("instances/nissan_2026")     # validated Instance
    res = optimizer.solve(inst, time_limit=60)           # Result: status, objective, tables
    built = optimizer.build(inst)                        # the Pyomo model, to extend before solving
    res = optimizer.solve(built)
    index = optimizer.run_batch("runs.yaml", "out/")     # many jobs, locally or on Dask

The names are imported on first use (PEP 562), so ``import optimizer`` is quick and the
command line can answer Ctrl-C cleanly even while pandas and Pyomo are still loading.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .api import BuiltModel, build, load, solve
    from .data.instance import Instance
    from .errors import (
        InstanceError,
        InstanceLoadError,
        InstanceValidationError,
        InvalidOptionError,
        ModelBuildError,
        NoSolutionError,
        OptimizerError,
        Problem,
        SolveError,
        SolverUnavailableError,
    )
    from .models import BuildOptions
    from .results.tables import Result
    from .solver.highs import SolveOptions, SolveProgress, SolveReport, Status, Termination
    from .studies.batch import read_index, run_batch
    from .studies.compare import compare
    from .studies.explain import explain
    from .studies.scenarios import apply_scenario, load_scenarios, solve_scenario

_WHERE = {
    "BuildOptions": ".models",
    **dict.fromkeys(("BuiltModel", "build", "load", "solve"), ".api"),
    **dict.fromkeys(("read_index", "run_batch"), ".studies.batch"),
    "compare": ".studies.compare",
    "explain": ".studies.explain",
    **dict.fromkeys(("InstanceError", "InstanceLoadError", "InstanceValidationError", "InvalidOptionError",
                     "ModelBuildError", "NoSolutionError", "OptimizerError", "Problem", "SolveError",
                     "SolverUnavailableError"), ".errors"),
    "Instance": ".data.instance",
    "Result": ".results.tables",
    **dict.fromkeys(("apply_scenario", "load_scenarios", "solve_scenario"), ".studies.scenarios"),
    **dict.fromkeys(("SolveOptions", "SolveProgress", "SolveReport", "Status", "Termination"), ".solver.highs"),
}

try:
    __version__ = version("optimizer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = sorted([*_WHERE, "__version__"])


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        msg = f"module 'optimizer' has no attribute '{name}'"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
