"""The command line: ``optimizer solve|validate|schema|convert|generate|report|batch|compare|explain|alternatives|diagnose|frontier``.

``main`` is the click group (:mod:`.common`); importing the command modules registers
their commands on it.
"""

from __future__ import annotations

from . import batch_commands, commands, decision_commands  # noqa: F401  (register the commands on ``main``)
from .common import EXIT_INPUT, EXIT_INTERNAL, EXIT_NO_SOLUTION, EXIT_OK, main

__all__ = ["EXIT_INPUT", "EXIT_INTERNAL", "EXIT_NO_SOLUTION", "EXIT_OK", "main"]
