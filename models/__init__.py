"""The formulation (installed as ``optimizer.models``).  ``build_model`` is the entry point."""

from .network_design import BuildOptions, CostComponent, build_model

__all__ = ["BuildOptions", "CostComponent", "build_model"]
