"""``python -m optimizer`` = the ``optimizer`` command."""

from ._entry import run

run()
