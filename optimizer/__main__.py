"""``python -m optimizer`` = the ``optimizer`` command."""

from .cli import main

main(prog_name="optimizer")
