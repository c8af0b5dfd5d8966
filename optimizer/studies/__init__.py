"""Many solves: scenarios, batch runs (local pool, Dask), compare and explain."""
