"""The network-design MIP, built in an explicit order, as arrays.

``build_model`` reads like a table of contents: variables, one function per
constraint family, then the NPV components.  Each family picks its (sparse) index
set from the prepared data, adds its rows as arrays to :class:`~.blocks.Blocks` and
returns early when the set is empty.  Indices: f = (p, v, s, m) flows, y years
(one pseudo-year without periods), p plants, (v, s) software stacks, (p, v, m, y)
sourcing choices.

Units: flows in vehicles per year; money in the instance currency; the objective is
the net present value (money).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..data.prepare import ModelData
from . import flows, plants, software
from .blocks import Blocks

log = logging.getLogger(__name__)


VI_AUTO_MAX_FLOWS = 5_000
"""``valid_inequalities=None`` adds them up to this many flow-years (see BuildOptions)."""


@dataclass(frozen=True)
class BuildOptions:
    """Options of the formulation.

    Attributes
    ----------
    valid_inequalities:
        Add sum_s x_(p,v,s,m,y) <= U z_(p,y) (U = the tightest of max_units, plant and
        line capacity): redundant for the MIP, tighter LP relaxation.  ``None``
        (default) = on for models of at most ``VI_AUTO_MAX_FLOWS`` flow-years, off above:
        measured (benchmarks/results/valid_inequalities.md), they speed HiGHS up on
        small models and slow it down, and lengthen the build, on large ones.
    """

    valid_inequalities: bool | None = None

    def use_valid_inequalities(self, n_flows: int) -> bool:
        """Whether the valid inequalities are added for a model of ``n_flows`` flow-years."""
        if self.valid_inequalities is None:
            return n_flows <= VI_AUTO_MAX_FLOWS
        return self.valid_inequalities


Step = Callable[[Blocks, ModelData], None]

STEPS: tuple[Step, ...] = (
    plants.add_plant_variables,
    flows.add_flow_variables,
    software.add_software_variables,
    flows.add_quota_variables,
    flows.add_single_sourcing_variables,
    plants.add_closure_order_constraints,
    software.add_development_order_constraints,
    flows.add_plant_capacity_constraints,
    flows.add_line_capacity_constraints,
    flows.add_demand_constraints,
    software.add_software_constraints,
    flows.add_export_channel_constraints,
    flows.add_quota_constraints,
    flows.add_co2_caps,
    plants.add_plant_rules,
    plants.add_jobs_constraints,
    flows.add_single_sourcing_constraints,
    flows.add_valid_inequalities,
    flows.add_flow_costs,
    plants.add_plant_costs,
    software.add_development_costs,
)
"""The build order: variables, constraint families, NPV components last."""


def build_model(data: ModelData, options: BuildOptions | None = None) -> Blocks:
    """Build the blocks of ``data``'s model; each step's time is logged at DEBUG."""
    options = options or BuildOptions()
    vi = options.use_valid_inequalities(data.n_flows)
    mb = Blocks(name=data.name)
    for step in STEPS:
        if step is flows.add_valid_inequalities and not vi:
            continue
        t0 = time.perf_counter()
        step(mb, data)
        log.debug("%s: %.3f s", step.__name__, time.perf_counter() - t0)
    return mb
