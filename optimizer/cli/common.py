"""What every command shares: the ``main`` group, consoles, exit codes, the error guard.

Exit codes: 0 solved (optimal or feasible), 1 no solution (infeasible, unbounded,
time limit without a solution, solver error), 2 bad input or usage, 3 internal error,
130 interrupted (Ctrl-C; a solve writes the plan it holds first).
Input mistakes never print a traceback; set ``OPTIMIZER_DEBUG=1`` to see one for
internal errors.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from ..errors import InstanceError, InvalidOptionError, OptimizerError, OutputPathError

EXIT_OK, EXIT_NO_SOLUTION, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), as shells report it."""

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn input errors into a clear message and exit 2; internal errors into exit 3."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InstanceError as exc:
            err.print(f"[bold red]Input error[/]: {getattr(exc, 'count', len(exc.problems)):,} problem(s)"
                      + (f" in {exc.instance}" if exc.instance else ""), markup=True)
            for p in exc.problems:
                err.print(f"  - {p}", markup=False)
            sys.exit(EXIT_INPUT)
        except (InvalidOptionError, OutputPathError) as exc:  # the project's own usage errors
            err.print(f"[bold red]Error[/]: {exc}", markup=True)
            sys.exit(EXIT_INPUT)
        except (ValueError, FileNotFoundError) as exc:
            if os.environ.get("OPTIMIZER_DEBUG"):
                raise
            err.print(f"[bold red]Error[/]: {exc}", markup=True)
            sys.exit(EXIT_INPUT)
        except OptimizerError as exc:
            err.print(f"[bold red]Error[/]: {exc}", markup=True)
            sys.exit(EXIT_NO_SOLUTION)
        except KeyboardInterrupt:
            err.print("\nInterrupted.", markup=False)
            sys.exit(EXIT_INTERRUPTED)
        except (SystemExit, click.ClickException):
            raise
        except Exception as exc:
            if os.environ.get("OPTIMIZER_DEBUG"):
                raise
            err.print(f"[bold red]Internal error[/] ({type(exc).__name__}): {exc}. "
                      "Please report it; rerun with OPTIMIZER_DEBUG=1 for details.", markup=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="optimizer")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Strategic network design: which plants to keep, what to build where, for which market."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    _silence_highs_banner()


def _silence_highs_banner() -> None:
    """HiGHS prints a copyright banner on stdout when the process creates its first solver.

    The CLI owns its process, so it creates that first instance with stdout muted;
    the library itself never touches file descriptors.
    """
    try:
        import highspy
    except ImportError:  # reported properly when a solve needs it
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
