"""The formulation (installed as ``optimizer.models``).

``build_model(data, options) -> Blocks`` is the entry point: every family as arrays
(:mod:`.blocks`); :func:`to_pyomo` makes the Pyomo model of the same blocks on demand.
"""

from .blocks import Blocks, ConBlock, Cost, VarBlock
from .network_design import STEPS, BuildOptions, build_model


def to_pyomo(mb: Blocks, multi_year: bool):  # type: ignore[no-untyped-def]  # noqa: ANN201
    """The Pyomo model of ``mb`` (imports Pyomo only when called)."""
    from .pyomo_model import to_pyomo as _to_pyomo

    return _to_pyomo(mb, multi_year)


__all__ = ["STEPS", "Blocks", "BuildOptions", "ConBlock", "Cost", "VarBlock", "build_model", "to_pyomo"]
