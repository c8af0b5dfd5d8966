"""Benchmark suite of the network-design optimiser: ``python -m benchmarks run SUITE``.

See ``benchmarks/README.md``.  Suites are defined in :mod:`benchmarks.suites`, the
subprocess runner and the summary in :mod:`benchmarks.runner`, the vectorised highspy
reference model in :mod:`benchmarks.reference`.
"""
