"""Benchmarks: each prints a table; `make bench` runs them all and writes benches/results.md."""
