"""Exceptions raised by the engine.

The tree is small on purpose::

    OptimizerError
    ├── InstanceError                 bad input: the user must change the instance
    │   ├── InstanceLoadError         unreadable file, bad YAML, path outside the folder
    │   └── InstanceValidationError   wrong types, ranges, ids, duplicates, ambiguity
    ├── ModelBuildError               the model could not be built from valid data
    ├── BatchWorkerError              a batch's worker processes cannot start
    ├── InvalidOptionError            a solve option out of range (also a ValueError)
    ├── OutputPathError               an output folder cannot be written (also a ValueError)
    └── SolveError
        ├── SolverUnavailableError    HiGHS (highspy) cannot be imported
        ├── SolverCallError           a HiGHS call returned an error (reported as status ``error``)
        └── NoSolutionError           results asked for, but the solve holds no solution

Input errors carry every problem found (``.problems``), each naming the file or
table, the row, the column or key and what would fix it.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_PROBLEMS = 1000
"""At most this many problems are kept in one error; the rest are counted ("and N more")."""

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 6
_REPR.maxlevel = 3
_REPR.maxlong = 40


def short_repr(value: Any) -> str:
    """``repr`` bounded in size (a YAML alias bomb or a huge cell must not be expanded into a message)."""
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a repr must never fail an error report
        return f"<{type(value).__name__}>"


@dataclass(frozen=True)
class Problem:
    """One problem found in an instance.

    Attributes
    ----------
    where:
        The file (``plants.csv``) or YAML location (``instance.yaml``) concerned.
    message:
        What is wrong, naming the offending value.
    table:
        Table name, when the problem is in a table.
    row:
        1-based data row (CSV: the line number in the file; inline records: the record number).
    column:
        Column or YAML key.
    fix:
        What the user should do.
    """

    where: str
    message: str
    table: str | None = None
    row: int | None = None
    column: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        loc = [self.where]
        if self.table is not None:
            loc.append(f"table '{self.table}'")
        if self.row is not None:
            loc.append(f"row {self.row}")
        if self.column is not None:
            loc.append(f"column '{self.column}'")
        text = ", ".join(loc) + f": {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class ProblemList(list[Problem]):
    """A list of problems that keeps the first ``limit`` and counts the others (``dropped``).

    Loading a huge file whose every row is wrong must not hold millions of messages.
    """

    def __init__(self, items: Iterable[Problem] = (), limit: int = MAX_PROBLEMS) -> None:
        super().__init__()
        self.limit = limit
        self.dropped = 0
        self.extend(items)

    def append(self, p: Problem) -> None:  # type: ignore[override]
        if len(self) < self.limit:
            super().append(p)
        else:
            self.dropped += 1

    def extend(self, items: Iterable[Problem]) -> None:  # type: ignore[override]
        for p in items:
            self.append(p)
        self.dropped += getattr(items, "dropped", 0)

    def room(self) -> int:
        """How many more problems are kept."""
        return max(self.limit - len(self), 0)

    def count_more(self, n: int) -> None:
        """Record ``n`` further problems without building them."""
        self.dropped += max(n, 0)


class OptimizerError(Exception):
    """Base class of every error raised by the engine."""


class InstanceError(OptimizerError):
    """The instance cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem] | str, *, instance: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(where=instance or "instance", message=problems)]
        items = list(problems)
        dropped = getattr(problems, "dropped", 0) + max(len(items) - MAX_PROBLEMS, 0)
        self.problems: list[Problem] = items[:MAX_PROBLEMS]
        self.count = len(self.problems) + dropped
        """How many problems were found (``problems`` lists at most MAX_PROBLEMS of them, then a count)."""
        if dropped:
            first = self.problems[0].where if self.problems else (instance or "instance")
            self.problems.append(Problem(where=first, message=f"... and {dropped:,} more problem(s) not listed.",
                                         fix="Correct the problems above (often one cause, such as a wrong column "
                                             "order or separator), then load again."))
        self.dropped = dropped
        self.instance = instance
        head = f"{self.count:,} problem(s) in instance"
        if instance:
            head += f" {instance}"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class InstanceLoadError(InstanceError):
    """A file could not be read: missing, malformed YAML/CSV, or a path outside the folder."""


class InstanceValidationError(InstanceError):
    """Values, references or keys in the instance are invalid."""


class ModelBuildError(OptimizerError):
    """The optimisation model could not be built."""


class InvalidOptionError(OptimizerError, ValueError):
    """A solve option (time limit, gap, threads, seed, a HiGHS option) is out of range: a usage mistake."""


class OutputPathError(OptimizerError, ValueError):
    """An output folder (``--out``) is a file, not writable or not a usable path: a usage mistake."""


class BatchWorkerError(OptimizerError):
    """The worker processes of a local batch died at start-up (raised at once, with the reason)."""


class SolveError(OptimizerError):
    """The solver could not be run or returned nothing usable."""


class SolverUnavailableError(SolveError):
    """HiGHS (the ``highspy`` package) is not importable."""


class SolverCallError(SolveError):
    """A HiGHS call (option, model transfer, start, run) returned an error; the solve reports status ``error``."""


class NoSolutionError(SolveError):
    """Result tables were requested from a solve that holds no feasible solution."""
