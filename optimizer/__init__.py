"""optimizer: strategic supply-chain network design, solved with HiGHS (Pyomo on demand).

The public API::

    inst = optimizer.load("instances/nissan_2026")     # validated Instance
    res = optimizer.solve(inst, time_limit=60)           # Result: status, objective, tables
    built = optimizer.build(inst)                        # blocks; built.model = the Pyomo model, to extend
    res = optimizer.solve(built)
    index = optimizer.run_batch("runs.yaml", "out/")     # many jobs, locally or on Dask
    best = optimizer.alternatives(inst, count=5)         # the 5 best closure schedules
    why = optimizer.diagnose(inst)                       # which rule has to give, if infeasible
    fr = optimizer.frontier(path, "min_jobs_cut=0:30000:7")  # NPV against a rule, in parallel

Names are imported on first use (PEP 562), so ``import optimizer`` and the command
line start without loading pandas, Pyomo or the solver.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

_LAZY: dict[str, str] = {
    "BendersOptions": ".solver.benders",
    "BuildOptions": ".models",
    "BuiltModel": ".api",
    "build": ".api",
    "load": ".api",
    "solve": ".api",
    "read_index": ".studies.batch",
    "run_batch": ".studies.batch",
    "compare": ".studies.compare",
    "explain": ".studies.explain",
    "alternatives": ".studies.alternatives",
    "diagnose": ".studies.diagnose",
    "frontier": ".studies.frontier",
    "Instance": ".data.instance",
    "Result": ".results.tables",
    "apply_scenario": ".studies.scenarios",
    "load_scenarios": ".studies.scenarios",
    "solve_scenario": ".studies.scenarios",
    "solve_set": ".studies.sets",
    "load_scenario_sets": ".studies.sets",
    "SolveOptions": ".solver.highs",
    "SolveReport": ".solver.highs",
    "SolveProgress": ".solver.highs",
    "Status": ".solver.highs",
    "Termination": ".solver.highs",
}

if TYPE_CHECKING:  # pragma: no cover
    from .api import BuiltModel, build, load, solve
    from .data.instance import Instance
    from .models import BuildOptions
    from .solver.benders import BendersOptions
    from .results.tables import Result
    from .solver.highs import SolveOptions, SolveProgress, SolveReport, Status, Termination
    from .studies.batch import read_index, run_batch
    from .studies.compare import compare
    from .studies.alternatives import alternatives
    from .studies.diagnose import diagnose
    from .studies.explain import explain
    from .studies.frontier import frontier
    from .studies.scenarios import apply_scenario, load_scenarios, solve_scenario
    from .studies.sets import load_scenario_sets, solve_set


def _version() -> str:
    """The installed distribution's version (importing importlib.metadata costs 20 ms of start-up: read on demand)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("optimizer")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()["__version__"] = v = _version()
        return v
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'optimizer' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BendersOptions",
    "BuildOptions",
    "BuiltModel",
    "Instance",
    "InstanceError",
    "InstanceLoadError",
    "InstanceValidationError",
    "InvalidOptionError",
    "ModelBuildError",
    "NoSolutionError",
    "OptimizerError",
    "Problem",
    "Result",
    "SolveError",
    "SolveOptions",
    "SolveProgress",
    "SolveReport",
    "SolverUnavailableError",
    "Status",
    "Termination",
    "__version__",
    "alternatives",
    "apply_scenario",
    "build",
    "compare",
    "diagnose",
    "explain",
    "frontier",
    "load",
    "load_scenario_sets",
    "load_scenarios",
    "read_index",
    "run_batch",
    "solve",
    "solve_scenario",
    "solve_set",
]
