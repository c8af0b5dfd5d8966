"""optimizer: strategic supply-chain network design, solved with HiGHS through Pyomo.

The public API::

    inst = optimizer.load("instances/nissan_2026")     # validated Instance
    res = optimizer.solve(inst, time_limit=60)           # Result: status, objective, tables
    built = optimizer.build(inst)                        # the Pyomo model, to extend before solving
    res = optimizer.solve(built)
    index = optimizer.run_batch("runs.yaml", "out/")     # many jobs, locally or on Dask
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .models import BuildOptions

from .api import BuiltModel, build, load, solve
from .studies.batch import read_index, run_batch
from .studies.compare import compare
from .studies.explain import explain
from .errors import (
    InstanceError,
    InstanceLoadError,
    InstanceValidationError,
    ModelBuildError,
    NoSolutionError,
    OptimizerError,
    Problem,
    SolveError,
    SolverUnavailableError,
)
from .data.instance import Instance
from .results.tables import Result
from .studies.scenarios import apply_scenario, load_scenarios, solve_scenario
from .solver.highs import SolveOptions, SolveReport, Status, Termination

try:
    __version__ = version("optimizer")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "BuildOptions",
    "BuiltModel",
    "Instance",
    "InstanceError",
    "InstanceLoadError",
    "InstanceValidationError",
    "ModelBuildError",
    "NoSolutionError",
    "OptimizerError",
    "Problem",
    "Result",
    "SolveError",
    "SolveOptions",
    "SolveReport",
    "SolverUnavailableError",
    "Status",
    "Termination",
    "__version__",
    "apply_scenario",
    "build",
    "compare",
    "explain",
    "load",
    "load_scenarios",
    "read_index",
    "run_batch",
    "solve",
    "solve_scenario",
]
