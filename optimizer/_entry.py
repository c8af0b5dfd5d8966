"""The console entry point: runs the command line, answering Ctrl-C with exit 130 at any moment.

Kept free of heavy imports so that a Ctrl-C while pandas, Pyomo or HiGHS load prints one
line instead of a traceback.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def _interrupted() -> None:
    try:
        sys.stderr.write("\nInterrupted.\n")
        sys.stderr.flush()
    except Exception:  # noqa: S110 - stderr may be gone; the exit code still says it
        pass
    sys.exit(EXIT_INTERRUPTED)


def run() -> None:
    """Run the ``optimizer`` command (``python -m optimizer`` and the installed script)."""
    bad = [a for a in sys.argv[1:] if "\x00" in a]
    if bad:  # the OS cannot take such a path; click would fail in os.stat with a traceback
        sys.stderr.write(f"Error: argument {bad[0]!r} contains a NUL byte (\\x00); remove it.\n")
        sys.exit(2)
    try:
        import click

        from .cli import main

        try:
            code = main(prog_name="optimizer", standalone_mode=False)
        except click.exceptions.Abort:  # click's answer to Ctrl-C (or EOF at a prompt)
            _interrupted()
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)
    except KeyboardInterrupt:
        _interrupted()
