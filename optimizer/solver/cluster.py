"""A connection to a Dask scheduler, shared by the batch runner and the decomposition's pieces."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidOptionError


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address`` (not made the default client).

    A missing dask.distributed or an address that cannot be reached (refused, timed out, not an
    address) is an :class:`InvalidOptionError` naming it, never a traceback.
    """
    try:
        from distributed import Client
        from distributed.comm import get_address_host_port, parse_address
    except ImportError:  # pragma: no cover - optional dependency
        raise InvalidOptionError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        # a malformed address is refused before a Client exists: one that fails inside its constructor
        # blocks for 60 s at exit and prints a traceback from its __del__
        if parse_address(address)[0] != "inproc":
            get_address_host_port(address)
        return Client(address, timeout="30s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the user's address
        raise InvalidOptionError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
