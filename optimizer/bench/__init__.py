"""Instance makers for benchmarks: converters of published sets and the generator."""
